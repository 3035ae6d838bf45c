"""SMART scopes on FHIR requests: does this token allow this interaction on this resource?

`patient/` scopes reach only the launched patient's compartment; `user/` scopes reach any resource of the type
(the sandbox models no per-user permissions), and so do `system/` scopes (Backend Services tokens, which have no
patient). A v2 scope with constraints (`?category=...`) reaches only the
resources that match them. Interactions: c create, r read, s search (SMART App Launch 2.0, scopes section).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..auth.scopes import ClinicalScope, clinical_scopes
from .search import SearchError, parse
from .store import compartment_patients


@dataclass(frozen=True)
class Access:
    scopes: tuple[ClinicalScope, ...]
    patient_id: str | None  # the token's patient context

    @classmethod
    def of(cls, scope: str, patient_id: str | None) -> Access:
        return cls(tuple(clinical_scopes(scope)), patient_id)

    def scopes_for(self, rtype: str, interaction: str) -> list[ClinicalScope]:
        return [s for s in self.scopes if s.covers_type(rtype) and interaction in s.permissions
                and (s.context in ("user", "system") or (s.context == "patient" and self.patient_id))]

    def user_level(self, rtype: str, interaction: str) -> bool:
        """Any resource of the type, not just one patient's compartment (user/ or system/ scopes)."""
        return any(s.context in ("user", "system") and not s.query for s in self.scopes_for(rtype, interaction))

    @property
    def system(self) -> bool:
        return any(s.context == "system" for s in self.scopes)

    def allows(self, resource: dict, interaction: str, base: str) -> bool:
        rtype = resource.get("resourceType", "")
        for scope in self.scopes_for(rtype, interaction):
            if scope.context == "patient" and self.patient_id not in compartment_patients(resource):
                continue
            if scope.query and not _matches_constraints(scope, resource, base):
                continue
            return True
        return False


def _matches_constraints(scope: ClinicalScope, resource: dict, base: str) -> bool:
    try:
        query = parse(resource["resourceType"], list(scope.query), strict=True, page_default=1, page_max=1)
    except SearchError:
        return False  # constraints this server cannot evaluate grant nothing
    return query.matches(resource, base)


def required_scope(rtype: str, interaction: str, patient_id: str | None, system: bool = False) -> str:
    """The scope that would allow it, for error messages and WWW-Authenticate."""
    context = "system" if system else "patient" if patient_id else "user"
    return f"{context}/{rtype}.{interaction}"
