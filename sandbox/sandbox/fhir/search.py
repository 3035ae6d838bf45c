"""FHIR R4 search: which parameters each resource type supports, how values parse, and how resources match.

Follows hl7.org/fhir/R4/search.html: repeated parameters AND, comma-separated values OR; token `system|code`,
`code`, `|code`, `system|`; reference `id`, `Type/id` or an absolute URL; date prefixes eq ne gt lt ge le sa eb
compared as ranges at the precision given (ap is refused). Unknown parameters are ignored unless the client
sent `Prefer: handling=strict`; unknown modifiers and malformed values are always refused (400). No Flask here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone

from .store import reference_target, values_at


class SearchError(Exception):
    """The search is malformed or unsupported: an HTTP 400 with this message in an OperationOutcome."""

    def __init__(self, message: str, code: str = "invalid"):
        super().__init__(message)
        self.message, self.code = message, code


@dataclass(frozen=True)
class Param:
    name: str
    kind: str  # token | reference | date | string
    paths: tuple[str, ...]
    target: str | None = None  # reference parameters limited to one type ("patient" -> Patient)
    description: str = ""


def _p(name: str, kind: str, *paths: str, target: str | None = None, description: str = "") -> Param:
    return Param(name, kind, paths, target, description)


_EFFECTIVE = ("effectiveDateTime", "effectivePeriod", "effectiveInstant")
_PATIENT = _p("patient", "reference", "subject", target="Patient", description="the patient (subject)")
_SUBJECT = _p("subject", "reference", "subject", description="the subject")
_ENCOUNTER = _p("encounter", "reference", "encounter", target="Encounter")
_STATUS = _p("status", "token", "status")
_IDENTIFIER = _p("identifier", "token", "identifier")

PARAMS: dict[str, dict[str, Param]] = {
    "Observation": {p.name: p for p in (
        _PATIENT, _SUBJECT, _ENCOUNTER, _STATUS, _IDENTIFIER,
        _p("category", "token", "category", description="comma-separated values mean OR"),
        _p("code", "token", "code", description="system|code or code; comma-separated values mean OR"),
        _p("date", "date", *_EFFECTIVE, description="effective time; prefixes eq ne gt lt ge le sa eb"),
    )},
    "Encounter": {p.name: p for p in (
        _PATIENT, _SUBJECT, _STATUS, _IDENTIFIER,
        _p("class", "token", "class"), _p("type", "token", "type"), _p("date", "date", "period"),
        _p("location", "reference", "location.location", target="Location",
           description="a location the patient is or was at (comma-separated values mean OR)"),
    )},
    "ServiceRequest": {p.name: p for p in (
        _PATIENT, _SUBJECT, _ENCOUNTER, _STATUS, _IDENTIFIER, _p("intent", "token", "intent"),
        _p("code", "token", "code"),
        _p("category", "token", "category"), _p("authored", "date", "authoredOn"),
        _p("requester", "reference", "requester"),
    )},
    "MedicationRequest": {p.name: p for p in (
        _PATIENT, _SUBJECT, _ENCOUNTER, _STATUS, _IDENTIFIER, _p("intent", "token", "intent"),
        _p("code", "token", "medicationCodeableConcept"), _p("authoredon", "date", "authoredOn"),
        _p("requester", "reference", "requester"),
    )},
    "MedicationAdministration": {p.name: p for p in (
        _PATIENT, _SUBJECT, _STATUS, _p("context", "reference", "context"),
        _p("code", "token", "medicationCodeableConcept"),
        _p("effective-time", "date", "effectiveDateTime", "effectivePeriod"),
        _p("request", "reference", "request", target="MedicationRequest"),
    )},
    "RiskAssessment": {p.name: p for p in (
        _PATIENT, _SUBJECT, _ENCOUNTER, _STATUS, _IDENTIFIER, _p("date", "date", "occurrenceDateTime"),
    )},
    "Flag": {p.name: p for p in (_PATIENT, _SUBJECT, _ENCOUNTER, _STATUS, _IDENTIFIER)},
    "Condition": {p.name: p for p in (
        _PATIENT, _SUBJECT, _ENCOUNTER, _p("clinical-status", "token", "clinicalStatus"),
        _p("category", "token", "category"), _p("code", "token", "code"),
    )},
    "DiagnosticReport": {p.name: p for p in (
        _PATIENT, _SUBJECT, _ENCOUNTER, _STATUS, _p("category", "token", "category"), _p("code", "token", "code"),
        _p("date", "date", "effectiveDateTime", "effectivePeriod"),
    )},
    "Procedure": {p.name: p for p in (
        _PATIENT, _SUBJECT, _STATUS, _p("code", "token", "code"),
        _p("date", "date", "performedDateTime", "performedPeriod"),
    )},
    "Immunization": {p.name: p for p in (
        _p("patient", "reference", "patient", target="Patient"), _STATUS, _p("date", "date", "occurrenceDateTime"),
    )},
    "AllergyIntolerance": {p.name: p for p in (
        _p("patient", "reference", "patient", target="Patient"),
        _p("clinical-status", "token", "clinicalStatus"),
    )},
    "PractitionerRole": {p.name: p for p in (
        _p("practitioner", "reference", "practitioner", target="Practitioner"),
        _p("role", "token", "code"), _p("organization", "reference", "organization", target="Organization"),
    )},
    "Practitioner": {p.name: p for p in (
        _p("identifier", "token", "identifier"), _p("name", "string", "name.family", "name.given", "name.text"),
    )},
    "Patient": {p.name: p for p in (
        _p("identifier", "token", "identifier"), _p("gender", "token", "gender"),
        _p("birthdate", "date", "birthDate"), _p("family", "string", "name.family"),
        _p("given", "string", "name.given"), _p("name", "string", "name.family", "name.given", "name.text"),
    )},
}
COMMON = {"_id": _p("_id", "token", "id"), "_lastUpdated": _p("_lastUpdated", "date", "meta.lastUpdated")}
MODIFIERS = {"token": {"", "not", "missing"}, "reference": {"", "missing"}, "date": {"", "missing"},
             "string": {"", "exact", "contains", "missing"}}
# Result parameters: handled (_count, _sort, _summary=count), or harmless to ignore (_format, _pretty, _total).
RESULT_PARAMS = {"_count", "_sort", "_summary", "_format", "_pretty", "_total"}
PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")

_DATE = re.compile(
    r"^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$")


def params_for(rtype: str) -> dict[str, Param]:
    return {**COMMON, **PARAMS.get(rtype, {})}


# ---- values -------------------------------------------------------------------------------------------------

def split_escaped(text: str, sep: str, maxsplit: int = -1) -> list[str]:
    """Split on `sep` except where escaped with a backslash (FHIR search escaping), then unescape."""
    parts, buf, i, splits = [], [], 0, 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            buf.append(text[i + 1])
            i += 2
            continue
        if ch == sep and (maxsplit < 0 or splits < maxsplit):
            parts.append("".join(buf))
            buf, splits = [], splits + 1
        else:
            buf.append(ch)
        i += 1
    parts.append("".join(buf))
    return parts


def has_unescaped(text: str, sep: str) -> bool:
    return len(split_escaped(text, sep)) > 1


def date_range(text: str) -> tuple[float, float] | None:
    """[start, end) in epoch seconds for a FHIR date/dateTime/instant at its own precision; None if malformed.

    A value without a time zone is read as UTC (R4 lets the server choose).
    """
    m = _DATE.match(text.strip()) if isinstance(text, str) else None
    if not m:
        return None
    year, month, day, hour, minute, second, frac, tz = m.groups()
    try:
        tzinfo = UTC
        if tz and tz != "Z":
            sign = 1 if tz[0] == "+" else -1
            tzinfo = timezone(sign * timedelta(hours=int(tz[1:3]), minutes=int(tz[4:6])))
        start = datetime(int(year), int(month or 1), int(day or 1), int(hour or 0), int(minute or 0),
                         int(second or 0), int(round(float(frac) * 1e6)) if frac else 0, tzinfo=tzinfo)
    except ValueError:
        return None
    if month is None:
        end = start.replace(year=start.year + 1)
    elif day is None:
        end = start.replace(year=start.year + (start.month == 12), month=start.month % 12 + 1)
    elif hour is None:
        end = start + timedelta(days=1)
    elif second is None:
        end = start + timedelta(minutes=1)
    elif frac is None:
        end = start + timedelta(seconds=1)
    else:
        end = start + timedelta(milliseconds=1)
    return start.timestamp(), end.timestamp()


def _value_ranges(value: object) -> list[tuple[float, float]]:
    if isinstance(value, str):
        r = date_range(value)
        return [r] if r else []
    if isinstance(value, dict) and ("start" in value or "end" in value):  # Period: open ends are unbounded
        lo = date_range(value["start"]) if isinstance(value.get("start"), str) else None
        hi = date_range(value["end"]) if isinstance(value.get("end"), str) else None
        return [(lo[0] if lo else float("-inf"), hi[1] if hi else float("inf"))]
    return []


def resource_ranges(resource: dict, param: Param) -> list[tuple[float, float]]:
    out = []
    for path in param.paths:
        for value in values_at(resource, path):
            out.extend(_value_ranges(value))
    return out


def _date_match(prefix: str, s: tuple[float, float], t: tuple[float, float]) -> bool:
    # R4 search.html, "prefix" table: each prefix compares the search range s with the target range t.
    eq = s[0] <= t[0] and t[1] <= s[1]
    return {
        "eq": eq, "ne": not eq, "gt": t[1] > s[1], "lt": t[0] < s[0], "ge": t[1] > s[1] or eq,
        "le": t[0] < s[0] or eq, "sa": t[0] >= s[1], "eb": t[1] <= s[0],
    }[prefix]


# ---- parsed criteria ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Criterion:
    param: Param
    modifier: str
    values: tuple  # parsed per kind; any value matching satisfies the criterion (OR)
    raw: str

    def matches(self, resource: dict, base: str) -> bool:
        if self.modifier == "missing":
            present = any(values_at(resource, path) for path in self.param.paths)
            return present != (self.values[0] == "true")
        hit = any(self._one(resource, v, base) for v in self.values)
        return not hit if self.modifier == "not" else hit

    def _one(self, resource: dict, value, base: str) -> bool:
        kind = self.param.kind
        if kind == "token":
            return _token_match(resource, self.param, value)
        if kind == "reference":
            return _reference_match(resource, self.param, value, self.modifier, base)
        if kind == "date":
            prefix, rng = value
            return any(_date_match(prefix, rng, t) for t in resource_ranges(resource, self.param))
        if kind == "string":
            return _string_match(resource, self.param, value, self.modifier)
        return False


def _token_match(resource: dict, param: Param, value: tuple[str | None, str | None]) -> bool:
    system, code = value
    if param.name == "_id":
        return resource.get("id") == code
    for path in param.paths:
        for item in values_at(resource, path):
            codings: list = []
            if isinstance(item, dict) and "coding" in item:
                codings = [c for c in item.get("coding") or [] if isinstance(c, dict)]
            elif isinstance(item, dict) and ("code" in item or "value" in item):  # Coding or Identifier
                codings = [{"system": item.get("system"), "code": item.get("code", item.get("value"))}]
            elif isinstance(item, (str, bool)):  # a primitive code: the system is implied by its binding
                text = str(item).lower() if isinstance(item, bool) else item
                if code is not None and text == code:
                    return True
                continue
            for coding in codings:
                if code is not None and coding.get("code") != code:
                    continue
                if system is None:
                    return True
                if system == "" and not coding.get("system"):
                    return True
                if system and coding.get("system") == system:
                    return True
    return False


def _reference_match(resource: dict, param: Param, value: str, modifier: str, base: str) -> bool:
    wanted_type, wanted_id = None, value
    if value.startswith(("http://", "https://")):
        if not value.startswith(base + "/"):
            return False  # a reference to another server never matches ours
        value = value[len(base) + 1:]
    if "/" in value:
        wanted_type, wanted_id = value.rsplit("/", 1)
    wanted_type = wanted_type or (modifier if modifier and modifier[:1].isupper() else None) or param.target
    for path in param.paths:
        for ref in values_at(resource, path):
            target = reference_target(ref)
            if target and target[1] == wanted_id and (wanted_type is None or target[0] == wanted_type):
                return True
    return False


def _fold(text: str) -> str:
    return " ".join(text.casefold().split())


def _string_match(resource: dict, param: Param, value: str, modifier: str) -> bool:
    for path in param.paths:
        for item in values_at(resource, path):
            if not isinstance(item, str):
                continue
            if modifier == "exact" and item == value:
                return True
            if modifier == "contains" and _fold(value) in _fold(item):
                return True
            if not modifier and _fold(item).startswith(_fold(value)):
                return True
    return False


@dataclass
class Query:
    rtype: str
    criteria: list[Criterion] = field(default_factory=list)
    count: int = 50
    page_max: int = 200
    sort: list[tuple[Param, bool]] = field(default_factory=list)  # (param, descending)
    summary_count: bool = False
    used: list[tuple[str, str]] = field(default_factory=list)  # the parameters applied, for the self link
    ignored: list[str] = field(default_factory=list)

    def matches(self, resource: dict, base: str) -> bool:
        return all(c.matches(resource, base) for c in self.criteria)

    def values_of(self, name: str) -> list[str]:
        return [v for c in self.criteria if c.param.name == name and not c.modifier for v in c.values]

    def order(self, resources: list[dict]) -> list[dict]:
        for param, descending in reversed(self.sort):  # stable sorts, last key first
            def key(r, p=param):
                if p.name == "_id":
                    return r.get("id") or ""
                ranges = resource_ranges(r, p)
                return min(t[0] for t in ranges) if ranges else None
            keyed = [(key(r), r) for r in resources]  # each resource's key computed once
            present = [(k, r) for k, r in keyed if k is not None]
            absent = [r for k, r in keyed if k is None]
            present.sort(key=lambda kr: kr[0], reverse=descending)
            resources = [r for _, r in present] + absent  # no value sorts last
        return resources


def _parse_value(param: Param, modifier: str, raw: str):
    if modifier == "missing":
        if raw not in ("true", "false"):
            raise SearchError(f"{param.name}:missing takes true or false")
        return (raw,)
    values = []
    for part in split_escaped(raw, ","):
        if part == "":
            raise SearchError(f"empty value in search parameter {param.name!r}")
        if param.kind == "token":
            pieces = split_escaped(part, "|", maxsplit=1) if has_unescaped(part, "|") else [None, part]
            system, code = (pieces[0], pieces[1] or None) if len(pieces) == 2 else (None, pieces[0])
            if code is None and not system:
                raise SearchError(f"malformed token {part!r} in {param.name!r}")
            values.append((system, code))
        elif param.kind == "date":
            prefix = part[:2] if part[:2] in PREFIXES else "eq"
            text = part[2:] if part[:2] in PREFIXES else part
            if prefix == "ap":
                raise SearchError("the ap (approximately) date prefix is not supported", code="not-supported")
            rng = date_range(text)
            if rng is None:
                raise SearchError(f"malformed date {part!r} in {param.name!r}: expected [prefix]YYYY-MM-DDThh:mm:ss"
                                  "[Z|+hh:mm]")
            values.append((prefix, rng))
        else:
            values.append(part)
    return tuple(values)


def parse(rtype: str, pairs: list[tuple[str, str]], *, strict: bool, page_default: int, page_max: int) -> Query:
    """Parse a search's query parameters; SearchError (400) for anything malformed or refused."""
    known = params_for(rtype)
    query = Query(rtype, count=page_default, page_max=page_max)
    for name, raw in pairs:
        base_name, _, modifier = name.partition(":")
        if base_name in RESULT_PARAMS:
            _result_param(query, known, base_name, raw)
            continue
        param = known.get(base_name)
        if param is None:
            if strict:
                raise SearchError(f"unknown search parameter {name!r} for {rtype} (Prefer: handling=strict)",
                                  code="not-supported")
            query.ignored.append(name)
            continue
        allowed = MODIFIERS[param.kind]
        if modifier not in allowed and not (param.kind == "reference" and modifier[:1].isupper()):
            raise SearchError(f"modifier :{modifier} is not supported on {base_name!r}", code="not-supported")
        query.criteria.append(Criterion(param, modifier, _parse_value(param, modifier, raw), raw))
        query.used.append((name, raw))
    return query


def _result_param(query: Query, known: dict[str, Param], name: str, raw: str) -> None:
    if name == "_count":
        if not raw.isdigit():
            raise SearchError(f"_count must be a non-negative integer, got {raw!r}")
        query.count = min(int(raw), query.page_max)  # a server may return fewer (R4 search.html, "_count")
        query.used.append((name, str(query.count)))
    elif name == "_sort":
        for item in raw.split(","):
            descending = item.startswith("-")
            pname = item[1:] if descending else item
            param = known.get(pname)
            if param is None or (param.kind != "date" and pname != "_id"):
                raise SearchError(f"cannot sort {query.rtype} by {pname!r}; supported: "
                                  + ", ".join(sorted(n for n, p in known.items() if p.kind == "date") + ["_id"]),
                                  code="not-supported")
            query.sort.append((param, descending))
        query.used.append((name, raw))
    elif name == "_summary":
        if raw == "count":
            query.summary_count = True
            query.used.append((name, raw))
        else:
            query.ignored.append(name)
