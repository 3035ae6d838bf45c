"""A fast check that a resource's JSON fits fhirclient's R4 model; where it cannot tell, fhirclient decides.

Building fhirclient model objects costs about 80 us per Observation, most of a bedside page's own work for a
patient with a few hundred results. `conforms` walks the JSON against the same model tables fhirclient uses
(`elementProperties`) without building objects. It answers True only when fhirclient's strict parse would raise
nothing at all; anything else (a wrong type, a missing required element, an unknown element, a contained
resource) answers False, and `structure_problem` asks fhirclient for the exact problem. So the outcome is
fhirclient's in every case, only faster for the clean ones.
"""

from __future__ import annotations

from fhirclient.models.fhirabstractbase import FHIRAbstractBase, FHIRValidationError
from fhirclient.models.fhirabstractresource import FHIRAbstractResource
from fhirclient.models.fhirdate import FHIRDate
from fhirclient.models.observation import Observation

_MODEL, _DATE, _RESOURCE, _PRIMITIVE = range(4)
_NUMBERS = (int, float)


def _primitive_ok(value: object, typ: type) -> bool:
    """fhirclient's `_matches_type`: an instance of the type, where int and float stand for each other."""
    return isinstance(value, typ) or ((typ is int or typ is float) and isinstance(value, _NUMBERS))


class _Schema:
    """One model class's element table, keyed by JSON name, as fhirclient's `update_with_json` reads it."""

    __slots__ = ("by_key", "valid", "required")

    def __init__(self, cls: type):
        self.by_key: dict[str, tuple[type, bool, int]] = {}
        self.valid = {"resourceType"}
        groups: dict[str, list[str]] = {}
        required: set[str] = set()
        for _name, jsname, typ, is_list, of_many, not_optional in cls().elementProperties():
            if isinstance(typ, type) and issubclass(typ, FHIRAbstractResource):
                kind = _RESOURCE
            elif isinstance(typ, type) and issubclass(typ, FHIRAbstractBase):
                kind = _MODEL
            elif isinstance(typ, type) and issubclass(typ, FHIRDate):
                kind = _DATE
            else:
                kind = _PRIMITIVE
            self.by_key[jsname] = (typ, bool(is_list), kind)
            self.valid.add(jsname)
            if of_many is not None:
                self.valid.add(of_many)
            groups.setdefault(of_many or jsname, []).append(jsname)
            if not_optional:
                required.add(of_many or jsname)
        # A required element (or choice group, e.g. value[x]) is met by any of its JSON names.
        self.required = tuple(tuple(groups[g]) for g in sorted(required))


_SCHEMAS: dict[type, _Schema] = {}


def _schema(cls: type) -> _Schema:
    schema = _SCHEMAS.get(cls)
    if schema is None:
        schema = _SCHEMAS[cls] = _Schema(cls)
    return schema


def _date_ok(typ: type, value: object) -> bool:
    if type(value) is not str:
        return False
    try:
        # What FHIRDate.__init__ checks, without building the object: the format, then the calendar
        # (e.g. 30 February). A fhirclient without these internals makes this fail, so fhirclient decides.
        return typ._REGEX.fullmatch(value) is not None and typ._from_string(value) is not None
    except Exception:  # noqa: BLE001 - any failure means "let fhirclient say what is wrong"
        return False


def _element_ok(typ: type, kind: int, value: object) -> bool:
    if kind == _MODEL:
        return type(value) is dict and _clean(_schema(typ), value)
    if kind == _PRIMITIVE:
        return _primitive_ok(value, typ)
    if kind == _DATE:
        return _date_ok(typ, value)
    return False  # a contained resource: fhirclient's factory decides


def _clean(schema: _Schema, doc: dict) -> bool:
    by_key = schema.by_key
    for key, value in doc.items():
        prop = by_key.get(key)
        if prop is None:
            if key in schema.valid:
                continue  # "resourceType", or a choice group's bare name such as "value"
            # "_status": a primitive's extensions; fhirclient accepts it for any known element when not null
            if key[:1] == "_" and key[1:] in by_key and value is not None:
                continue
            return False
        if value is None:
            continue  # fhirclient treats null as absent
        typ, is_list, kind = prop
        if not is_list:
            if type(value) is list or not _element_ok(typ, kind, value):
                return False
        elif type(value) is not list:
            return False
        else:
            for item in value:
                if not _element_ok(typ, kind, item):
                    return False
    for group in schema.required:
        if all(doc.get(k) is None for k in group):
            return False
    return True


def conforms(cls: type, doc: object) -> bool:
    """True when `cls(doc)` (strict) would raise nothing: no wrong type, no missing required element, no
    unknown element, no contained resource. False means "not sure": ask fhirclient."""
    if type(doc) is not dict:
        return False
    if issubclass(cls, FHIRAbstractResource) and doc.get("resourceType", cls.resource_type) != cls.resource_type:
        return False
    return _clean(_schema(cls), doc)


def structure_problem(obs: dict) -> str | None:
    """fhirclient's strict R4 model as a validator. Unknown extra elements are tolerated (newer FHIR versions
    add some); wrong types, unreadable dates and missing required elements are not. A resource that `conforms`
    (the common case) skips building fhirclient's objects; for any other, fhirclient says what is wrong."""
    if conforms(Observation, obs):
        return None
    try:
        Observation(obs)
    except FHIRValidationError as exc:
        problems = _validation_leaves(exc, "")
        return problems[0] if problems else None
    except Exception:  # fhirclient raises bare Exception on a resourceType mismatch, and may hit other junk
        return "not a valid FHIR Observation"
    return None


def _validation_leaves(exc: FHIRValidationError, prefix: str) -> list[str]:
    path = ".".join(p for p in (prefix, exc.path or "") if p)
    out: list[str] = []
    for err in exc.errors:
        if isinstance(err, FHIRValidationError):
            out.extend(_validation_leaves(err, path))
        elif isinstance(err, AttributeError) and "Superfluous entry" in str(err):
            continue
        elif isinstance(err, KeyError):
            out.append(f"{path or 'Observation'}: a required element is missing")
        else:
            out.append(f"{path or 'Observation'}: wrong type or format")
    return out
