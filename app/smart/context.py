"""Who launched the app and for which patient: fhirUser -> Practitioner -> PractitionerRole code -> app role."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .oauth import FHIR_ID

ROLE_PRECEDENCE = ("provider", "nurse", "deployment")  # a user with several roles acts with the first
READ_ONLY = "read-only"


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
                 read_both: ReadBoth | None = None) -> User:
    """Find the user's role. `read(path, params)` returns FHIR JSON or None (not found, not allowed).
    `read_both(a, b)` makes two independent reads (the Practitioner and its PractitionerRoles), e.g. at once."""
    ref = relative_reference(fhir_user, iss)
    if ref is None:
        return User(ref=fhir_user[:200], name=fallback_name, role=READ_ONLY)
    kind, ident = ref.split("/")
    if kind == "Practitioner":
        practitioner, bundle = (read_both or one_after_the_other(read))(
            (ref, None), ("PractitionerRole", {"practitioner": ident}))
        bundle = bundle or {}
        roles_found = [e.get("resource") or {} for e in bundle.get("entry") or []
                       if (e.get("resource") or {}).get("resourceType") == "PractitionerRole"]
        return User(ref=ref, name=human_name(practitioner) or fallback_name, role=role_from_codes(roles_found, roles))
    if kind == "PractitionerRole":
        role_res = read(ref, None) or {}
        practitioner_ref = ((role_res.get("practitioner") or {}).get("reference")) or ""
        practitioner = read(practitioner_ref, None) if relative_reference(practitioner_ref, iss) else None
        return User(ref=ref, name=human_name(practitioner) or fallback_name, role=role_from_codes([role_res], roles))
    return User(ref=ref, name=fallback_name, role=READ_ONLY)  # patients and relatives: view only
