"""The sandbox EHR as a CDS Hooks client: opening a chart calls the registered `patient-view` service.

As CDS Hooks 2.0 "Trusting CDS Clients" asks of an EHR: each call carries a JWT signed with the EHR's own key
(ES384; a new key per sandbox start), whose public half the EHR publishes at /ehr/cds-jwks.json; iss is the
EHR's base URL, aud the service endpoint, a five-minute exp and a fresh jti. The prefetch is filled the way the
service's discovery asks (the Patient, and all the patient's vital signs and laboratory results, newest first)
from the EHR's own store. A service that is slow or down costs the chart at most CDS_TIMEOUT seconds and
shows a line saying so: the chart always opens.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass

import requests

from .. import state
from .patients import in_progress_encounter

log = logging.getLogger(__name__)

CATEGORIES = ("vital-signs", "laboratory")
PREFETCH_MAX = 2000  # the service refuses more; a demo record holds a few hundred


@dataclass(frozen=True)
class HookResult:
    cards: list[dict]
    problem: str | None  # why no cards could be fetched (shown on the chart), None when the call answered


def _category(obs: dict) -> set[str]:
    return {c.get("code") for cat in obs.get("category") or [] for c in cat.get("coding") or []}


def prefetch(patient: dict) -> dict:
    sandbox = state.current()
    observations = [o for o in sandbox.store.in_compartment(patient["id"], "Observation")
                    if _category(o) & set(CATEGORIES)]
    observations.sort(key=lambda o: o.get("effectiveDateTime") or "", reverse=True)
    base = state.fhir_base()
    encounter_id = in_progress_encounter(patient["id"])
    encounter = sandbox.store.get("Encounter", encounter_id) if encounter_id else None
    return {"patient": patient, **({"encounter": encounter} if encounter else {}), "observations": {
        "resourceType": "Bundle", "type": "searchset", "total": len(observations),
        "entry": [{"fullUrl": f"{base}/Observation/{o['id']}", "resource": o, "search": {"mode": "match"}}
                  for o in observations[:PREFETCH_MAX]]}}


def call_patient_view(patient: dict, encounter_id: str | None, practitioner_id: str) -> HookResult | None:
    """Call the registered service for this chart; None when no CDS service is registered."""
    sandbox = state.current()
    url = sandbox.settings.get("CDS_SERVICE_URL")
    if not url:
        return None
    now = int(time.time())
    token = sandbox.cds_key.sign({"iss": state.base_url(), "aud": url, "iat": now, "exp": now + 300,
                                  "jti": str(uuid.uuid4())})
    context = {"userId": f"Practitioner/{practitioner_id}", "patientId": patient["id"]}
    if encounter_id:
        context["encounterId"] = encounter_id
    body = {"hook": "patient-view", "hookInstance": str(uuid.uuid4()), "fhirServer": state.fhir_base(),
            "context": context, "prefetch": prefetch(patient)}
    try:
        resp = requests.post(url, json=body, headers={"Authorization": f"Bearer {token}"},
                             timeout=sandbox.settings["CDS_TIMEOUT"])
    except requests.RequestException as exc:
        log.warning("CDS service not reached: %s", type(exc).__name__)
        return HookResult([], "The decision support service did not answer.")
    if resp.status_code != 200:
        return HookResult([], f"The decision support service refused the call (HTTP {resp.status_code}).")
    try:
        cards = resp.json().get("cards")
    except (ValueError, AttributeError):
        cards = None
    if not isinstance(cards, list):
        return HookResult([], "The decision support service answered something that is not CDS Hooks cards.")
    return HookResult([c for c in cards if isinstance(c, dict)], None)


def send_feedback(card_uuid: str, outcome: str, reason: dict | None = None) -> int:
    """POST one feedback item for a card to the registered service; the HTTP status it answered."""
    sandbox = state.current()
    url = f"{sandbox.settings['CDS_SERVICE_URL']}/feedback"
    now = int(time.time())
    token = sandbox.cds_key.sign({"iss": state.base_url(), "aud": url, "iat": now, "exp": now + 300,
                                  "jti": str(uuid.uuid4())})
    item = {"card": card_uuid, "outcome": outcome,
            "outcomeTimestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))}
    if reason:
        item["overrideReason"] = {"reason": reason}
    try:
        return requests.post(url, json={"feedback": [item]}, headers={"Authorization": f"Bearer {token}"},
                             timeout=sandbox.settings["CDS_TIMEOUT"]).status_code
    except requests.RequestException:
        return 503
