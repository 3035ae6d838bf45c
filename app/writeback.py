"""Write-back (off unless SENTINEL_WRITEBACK=true): each screening result as a FHIR RiskAssessment, and an alert as
a Flag when it is raised, so the EHR's patient lists can show a sepsis column.

Called by the screening after each scoring (Screening's `after_score` hook), on the same transport and system
token (the backend client needs system/RiskAssessment.c and system/Flag.c). Both are conditional creates keyed by
an identifier, so a retried job never writes twice. A write the EHR refuses is logged and counted, never raised:
the score and the alert are already stored, and the screening goes on.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from app.alerts.workflow import ACTIVE, Scope
from app.fhir import FhirError, Transport
from app.fhir.risk_assessments import alert_flag, identifier_query, risk_assessment

log = logging.getLogger(__name__)

SCOPES = ("system/RiskAssessment.c", "system/Flag.c")


def basis_ids(observations: dict, now: datetime, lookback: timedelta) -> list[str]:
    """The Observation ids of a screening window inside the lookback, newest first."""
    start = now - lookback
    timed = [(when, oid) for oid, (when, _) in observations.items()
             if when is not None and start <= datetime.fromisoformat(when) <= now]
    return [oid for _, oid in sorted(timed, reverse=True)]


def write(transport: Transport, scope: Scope, assessed, before, now: datetime, basis: list[str]) -> int:
    """Write this scoring (and the alert it raised); returns how many resources the EHR accepted."""
    verdict, alert = assessed.verdict, assessed.alert
    resources = []
    if verdict.level != "unavailable":
        resources.append(("RiskAssessment", risk_assessment(
            key=f"{scope.key}@{now.isoformat()}", patient_id=scope.patient_id, encounter_id=scope.encounter_id,
            at=now, probability=verdict.risk.probability if verdict.risk else None,
            model_version=verdict.risk.model_version if verdict.risk else (
                verdict.abstain.model_version if verdict.abstain else None), basis=basis)))
    raised = alert is not None and alert.state == ACTIVE and (before is None or before.id != alert.id
                                                              or before.state != ACTIVE)
    if raised:
        resources.append(("Flag", alert_flag(alert_id=alert.id, patient_id=scope.patient_id,
                                             encounter_id=scope.encounter_id, raised_at=alert.raised_at)))
    written = 0
    for resource_type, resource in resources:
        try:
            transport.create(resource_type, resource, if_none_exist=identifier_query(resource))
            written += 1
        except FhirError as exc:
            log.warning("write-back: %s not written (%s)", resource_type, exc.code)
    return written
