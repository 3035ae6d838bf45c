"""SMART scopes: parse v1 and v2 clinical scopes, and decide what to grant from what was asked and registered.

SMART App Launch 2.0, "Scopes and Launch Context": v2 scopes are `(patient|user|system)/(Type|*).[c][r][u][d][s]`,
letters in that order, optionally followed by `?param=value&...` (finer-grained constraints). v1 `.read`,
`.write` and `.*` mean `.rs`, `.cud` and `.cruds`. Requests with undefined or out-of-order letters "MAY be
ignored": this server ignores them. No Flask here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl

PERMISSIONS = "cruds"
V1_PERMISSIONS = {"read": "rs", "write": "cud", "*": "cruds"}
# Scopes that are not about clinical data (identity, context, refresh). "launch/encounter" is a hint.
NON_CLINICAL = frozenset({"openid", "fhirUser", "profile", "launch", "launch/patient", "launch/encounter",
                          "online_access", "offline_access"})
REFRESH_SCOPES = frozenset({"online_access", "offline_access"})

_V2 = re.compile(r"^(patient|user|system)/([A-Z][A-Za-z]*|\*)\.(c?r?u?d?s?)(\?.+)?$")
_V1 = re.compile(r"^(patient|user|system)/([A-Z][A-Za-z]*|\*)\.(read|write|\*)$")


@dataclass(frozen=True)
class ClinicalScope:
    context: str  # patient | user | system
    resource: str  # a resource type, or "*"
    permissions: frozenset[str]  # letters of "cruds"
    query: tuple[tuple[str, str], ...] = ()  # v2 finer-grained constraints, e.g. (("category", "...|laboratory"),)
    v1: bool = False  # written in v1 syntax; granted back in v1 syntax when granted whole

    def covers_type(self, resource_type: str) -> bool:
        return self.resource in ("*", resource_type)

    def text(self, permissions: frozenset[str] | None = None) -> str:
        perms = self.permissions if permissions is None else permissions
        if self.v1 and perms == self.permissions:
            word = next(w for w, letters in V1_PERMISSIONS.items() if frozenset(letters) == perms)
            return f"{self.context}/{self.resource}.{word}"
        letters = "".join(p for p in PERMISSIONS if p in perms)
        query = "&".join(f"{k}={v}" for k, v in self.query)
        return f"{self.context}/{self.resource}.{letters}" + (f"?{query}" if query else "")


def parse_clinical(scope: str) -> ClinicalScope | None:
    """A clinical scope, or None when `scope` is not one (or is malformed: undefined or out-of-order letters)."""
    m = _V1.match(scope)
    if m:
        return ClinicalScope(m[1], m[2], frozenset(V1_PERMISSIONS[m[3]]), v1=True)
    m = _V2.match(scope)
    if not m or not m[3]:
        return None
    query: tuple[tuple[str, str], ...] = ()
    if m[4]:
        pairs = parse_qsl(m[4][1:], keep_blank_values=True)
        if not pairs or any(not k or not v for k, v in pairs):
            return None
        query = tuple(pairs)
    return ClinicalScope(m[1], m[2], frozenset(m[3]), query)


def split(scope: str | None) -> list[str]:
    return [s for s in (scope or "").split() if s]


def grant(requested: str | None, registered: str) -> str | None:
    """The scopes to grant: each requested scope, cut down to what the registration allows.

    A clinical scope keeps only the interactions some registered scope of the same context and resource (or
    `*`) allows; a registered scope with constraints (`?category=...`) only covers a request with the same
    constraints. Scopes the server does not know are dropped (RFC 6749 3.3 lets a server grant less).
    Returns None when nothing at all can be granted (the caller answers invalid_scope).
    """
    allowed = split(registered)
    allowed_clinical = [c for c in (parse_clinical(s) for s in allowed) if c]
    granted: list[str] = []
    for scope in split(requested):
        if scope in NON_CLINICAL:
            if scope in allowed and scope not in granted:
                granted.append(scope)
            continue
        wanted = parse_clinical(scope)
        if wanted is None or wanted.context == "system":  # system/ scopes belong to backend services
            continue
        if wanted.resource == "*" and not any(r.resource == "*" and r.context == wanted.context
                                              for r in allowed_clinical):
            # A wildcard asked of an app registered type by type: grant each registered type it covers.
            for reg in allowed_clinical:
                kept = frozenset(wanted.permissions & reg.permissions)
                if reg.context == wanted.context and kept and not wanted.query:
                    text = ClinicalScope(reg.context, reg.resource, kept, reg.query).text()
                    if text not in granted:
                        granted.append(text)
            continue
        perms: set[str] = set()
        for reg in allowed_clinical:
            if reg.context == wanted.context and reg.resource in ("*", wanted.resource) and (
                    not reg.query or reg.query == wanted.query):
                perms |= reg.permissions
        kept = frozenset(wanted.permissions & perms)
        if kept:
            text = wanted.text(kept)
            if text not in granted:
                granted.append(text)
    return " ".join(granted) if granted else None


def clinical_scopes(scope: str | None) -> list[ClinicalScope]:
    return [c for c in (parse_clinical(s) for s in split(scope)) if c]


def has_patient_scopes(scope: str | None) -> bool:
    return any(c.context == "patient" for c in clinical_scopes(scope))


def grant_system(requested: str | None, registered: str) -> tuple[str, list[str]]:
    """Backend Services: (granted, refused). Every requested scope must be a `system/` scope that a registered
    `system/` scope of the same type (or `*`) covers, with all its interactions and the same constraints; anything
    else is refused whole, and the caller answers invalid_scope naming it (so a misconfigured client learns what
    to ask its EHR team for, instead of a token that later fails with 403)."""
    allowed = [c for c in clinical_scopes(registered) if c.context == "system"]
    granted: list[str] = []
    refused: list[str] = []
    for scope in split(requested):
        wanted = parse_clinical(scope)
        ok = wanted is not None and wanted.context == "system" and any(
            reg.resource in ("*", wanted.resource) and wanted.permissions <= reg.permissions
            and (not reg.query or reg.query == wanted.query) for reg in allowed)
        (granted if ok else refused).append(scope)
    return " ".join(dict.fromkeys(granted)), refused
