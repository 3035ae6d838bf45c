"""Who launched the app and for which patient: fhirUser -> Practitioner -> PractitionerRole code -> app role."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from app.fhir.dates import parse_datetime
from app.roles import DEPLOYMENT, NURSE, PROVIDER, READ_ONLY

from .oauth import FHIR_ID

ROLE_PRECEDENCE = (PROVIDER, NURSE, DEPLOYMENT)  # a user with several roles acts with the first


@dataclass(frozen=True)
class User:
    ref: str  # "Practitioner/123": relative to the FHIR base, as stored and audited
    name: str | None
    role: str  # provider | nurse | deployment | read-only


def relative_reference(fhir_user: str, iss: str) -> str | None:
    """`Practitioner/123` from a relative or absolute fhirUser on this FHIR base; None if elsewhere or malformed.

    The public SMART sandbox sends relative references; SMART 2.0 says fhirUser is an absolute URL. Both are
    accepted, but an absolute URL on another server is not followed (our token must not go there).
    """
    ref = fhir_user.strip()
    base = iss.rstrip("/") + "/"
    if ref.startswith(("http://", "https://")):
        if not ref.startswith(base):
            return None
        ref = ref[len(base):]
    parts = ref.split("/")
    if len(parts) != 2 or parts[0] not in {"Practitioner", "PractitionerRole", "Patient", "RelatedPerson", "Person"}:
        return None
    if not FHIR_ID.fullmatch(parts[1]):
        return None
    return ref


def human_name(resource: dict | None) -> str | None:
    names = (resource or {}).get("name") or []
    if not isinstance(names, list) or not names or not isinstance(names[0], dict):
        return None
    n = names[0]
    if isinstance(n.get("text"), str):
        return n["text"]
    given = " ".join(g for g in n.get("given", []) if isinstance(g, str))
    parts = [p for p in (n.get("prefix", [None])[0] if isinstance(n.get("prefix"), list) and n.get("prefix") else None,
                         given, n.get("family") if isinstance(n.get("family"), str) else None) if p]
    return " ".join(parts) or None


def _period_covers(period: object, now: datetime) -> bool:
    """FHIR Period: an absent start or end is open; an unreadable or zone-less bound counts as not covering now
    (a role whose dates cannot be read gives no rights). A date-only bound covers its whole day."""
    if period is None:
        return True
    if not isinstance(period, dict):
        return False
    for name, later_ok in (("start", True), ("end", False)):
        value = period.get(name)
        if value is None:
            continue
        parsed = parse_datetime(value)
        bound = parsed.time
        if bound is None and isinstance(value, str) and len(value.strip()) == 10:  # YYYY-MM-DD
            day = parse_datetime(f"{value.strip()}T00:00:00Z").time
            if day is not None:
                bound = day if later_ok else day.replace(hour=23, minute=59, second=59)
        if bound is None:
            return False
        if (later_ok and now < bound) or (not later_ok and now > bound):
            return False
    return True


def current_roles_of(user_ref: str, iss: str, role_resources: list[dict], now: datetime) -> list[dict]:
    """The PractitionerRoles that are this user's (`practitioner` refers to `user_ref`, relative or absolute on
    this base), not `active: false`, and whose `period` covers now. Any other role gives no rights: an EHR that
    answers a search with someone else's or an ended role must not make a clerk a provider."""
    mine = []
    for res in role_resources:
        if not isinstance(res, dict) or res.get("active") is False:
            continue
        reference = (res.get("practitioner") or {}).get("reference") if isinstance(res.get("practitioner"),
                                                                                   dict) else None
        if not isinstance(reference, str) or relative_reference(reference, iss) != user_ref:
            continue
        if not _period_covers(res.get("period"), now):
            continue
        mine.append(res)
    return mine


def role_from_codes(role_resources: list[dict], roles: dict[str, str]) -> str:
    """Map PractitionerRole.code codings through the site's table; unknown codes give read-only."""
    found = set()
    for res in role_resources:
        for concept in res.get("code") or []:
            for coding in (concept or {}).get("coding") or []:
                system, code = coding.get("system"), coding.get("code")
                role = roles.get(f"{system}|{code}") or roles.get(str(code))
                if role:
                    found.add(role)
    for role in ROLE_PRECEDENCE:
        if role in found:
            return role
    return READ_ONLY


Read = Callable[[str, dict | None], dict | None]
ReadBoth = Callable[[tuple[str, dict | None], tuple[str, dict | None]], tuple[dict | None, dict | None]]


def one_after_the_other(read: Read) -> ReadBoth:
    return lambda first, second: (read(*first), read(*second))


def resolve_user(fhir_user: str, iss: str, read: Read, roles: dict[str, str], fallback_name: str | None = None,
                 read_both: ReadBoth | None = None, now: datetime | None = None) -> User:
    """Find the user's role. `read(path, params)` returns FHIR JSON or None (not found, not allowed).
    `read_both(a, b)` makes two independent reads (the Practitioner and its PractitionerRoles), e.g. at once.
    Only a PractitionerRole that is this user's, active and current counts (`current_roles_of`)."""
    now = now or datetime.now(UTC)
    ref = relative_reference(fhir_user, iss)
    if ref is None:
        return User(ref=fhir_user[:200], name=fallback_name, role=READ_ONLY)
    kind, ident = ref.split("/")
    if kind == "Practitioner":
        practitioner, bundle = (read_both or one_after_the_other(read))(
            (ref, None), ("PractitionerRole", {"practitioner": ident}))
        bundle = bundle or {}
        entries = bundle.get("entry") if isinstance(bundle.get("entry"), list) else []
        roles_found = [e.get("resource") for e in entries if isinstance(e, dict) and isinstance(e.get("resource"), dict)
                       and e["resource"].get("resourceType") == "PractitionerRole"]
        mine = current_roles_of(ref, iss, roles_found, now)
        return User(ref=ref, name=human_name(practitioner) or fallback_name, role=role_from_codes(mine, roles))
    if kind == "PractitionerRole":
        role_res = read(ref, None) or {}
        practitioner_ref = ((role_res.get("practitioner") or {}).get("reference")) or ""
        relative = relative_reference(practitioner_ref, iss)
        practitioner = read(relative, None) if relative else None
        # fhirUser names the role itself: it must be that resource, active and current, and name a practitioner.
        usable = (role_res.get("resourceType") == "PractitionerRole" and role_res.get("id") == ident
                  and relative is not None and current_roles_of(relative, iss, [role_res], now))
        return User(ref=ref, name=human_name(practitioner) or fallback_name,
                    role=role_from_codes([role_res], roles) if usable else READ_ONLY)
    return User(ref=ref, name=fallback_name, role=READ_ONLY)  # patients and relatives: view only
