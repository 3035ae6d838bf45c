"""The `patient-view` CDS service: discovery, one hook call answered from what the screening stored, and feedback.

    service = PatientView(engine, iss_allowlist=..., links=..., fresh=timedelta(minutes=30), lookback=...)
    service.answer(request_body, caller, now)        -> {"cards": [...]}
    service.feedback(request_body, caller, received)  -> how many items were recorded

The hot path reads the database only: the patient's newest scoring (by the screening or at a chart open) and the
current state of its alert. Only when the patient was not scored within `fresh` does the hook score the EHR's
prefetch, through the one scoring path (app.assessment), so the alert rules are the same as everywhere else. It
never reads FHIR itself, so it answers in milliseconds whatever the EHR's FHIR server is doing. No Flask.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from app.alerts import store as alerts
from app.alerts.policy import ABSTAIN, Assessment, Policy
from app.alerts.workflow import ACTIVE, Scope
from app.assessment import assess_and_sync, evaluate
from app.fhir import FhirBadResponse, map_record
from app.fhir.prefetch import PREFETCH, prefetched_icu_admission, prefetched_record
from app.model import Model
from app.screening import history, window

from . import cards, store
from .auth import Caller

log = logging.getLogger(__name__)

SERVICE_ID = "sepsis-sentinel"
HOOK = "patient-view"
SOURCE = "cds"  # risk_scores.source for a scoring of the hook's prefetch
FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
UUID = re.compile(r"(urn:uuid:)?[0-9a-fA-F-]{36}")


class CdsRequestInvalid(ValueError):
    """The hook or feedback body is not what CDS Hooks 2.0 describes (400); the message says which part."""


def discovery() -> dict:
    """GET /cds-services: the one service, what it does, and the data it wants prefetched."""
    return {"services": [{
        "hook": HOOK,
        "id": SERVICE_ID,
        "title": "Sepsis Sentinel",
        "description": ("Shows a card when Sepsis Sentinel's background screening has an active, undecided sepsis "
                        "alert for the patient (risk at or above the site's threshold with a sign of organ "
                        "dysfunction), or when a patient with signs of shock cannot be scored, saying what to "
                        "chart. No card once a provider confirmed, dismissed or paused the alert."),
        "prefetch": dict(PREFETCH),
        "usageRequirements": "Register the app's SMART launch URL so the card's link can open the bedside page.",
    }]}


@dataclass(frozen=True)
class HookCall:
    hook_instance: str
    fhir_server: str
    patient_id: str
    encounter_id: str | None
    prefetch: object


def parse_call(body: object, iss_allowlist: Iterable[str]) -> HookCall:
    if not isinstance(body, dict):
        raise CdsRequestInvalid("the body must be a JSON object")
    if body.get("hook") != HOOK:
        raise CdsRequestInvalid(f"this service answers the {HOOK} hook only")
    instance = body.get("hookInstance")
    if not isinstance(instance, str) or not UUID.fullmatch(instance):
        raise CdsRequestInvalid("hookInstance must be a UUID")
    server = body.get("fhirServer")
    allowed = {a.strip().rstrip("/") for a in iss_allowlist}
    if not isinstance(server, str) or server.rstrip("/") not in allowed:
        raise CdsRequestInvalid("fhirServer must be a FHIR base this app is set up for")
    context = body.get("context")
    if not isinstance(context, dict) or not FHIR_ID.fullmatch(str(context.get("patientId") or "")):
        raise CdsRequestInvalid("context.patientId must be a FHIR id")
    encounter = context.get("encounterId")
    if encounter is not None and not FHIR_ID.fullmatch(str(encounter)):
        raise CdsRequestInvalid("context.encounterId must be a FHIR id")
    return HookCall(instance[-36:], server.rstrip("/"), context["patientId"], encounter, body.get("prefetch"))


@dataclass(frozen=True)
class Answer:
    cards: list[dict]
    path: str  # stored | prefetch | none: where the answer came from, for logs and metrics


class PatientView:
    def __init__(self, engine: sa.Engine, *, iss_allowlist: Iterable[str], links: cards.Links, fresh: timedelta,
                 lookback: timedelta, model: Model | None = None, policy: Policy | None = None):
        self.engine, self.iss_allowlist, self.links = engine, tuple(iss_allowlist), links
        self.fresh, self.lookback, self.model, self.policy = fresh, lookback, model, policy

    def answer(self, body: object, caller: Caller, now: datetime) -> Answer:
        call = parse_call(body, self.iss_allowlist)
        newest = self._newest_score(call)
        verdict: Assessment | None = None
        if newest is None or newest.at < now - self.fresh:
            scored = self._score_prefetch(call, now)
            if scored is not None:
                alert, verdict, path = scored.alert, scored.verdict, "prefetch"
            else:
                alert, path = alerts.newest_for_patient(self.engine, call.fhir_server, call.patient_id,
                                                        call.encounter_id), "stored"
        else:
            path = "stored"
            alert = alerts.get(self.engine, newest.alert_id) if newest.alert_id else None
            if newest.level == ABSTAIN:
                verdict = self._stored_verdict(call, newest.scope_key, now)
        out = []
        if (alert is not None and alert.state == ACTIVE and alert.patient_id == call.patient_id
                and alert.iss == call.fhir_server):
            out.append(("alert", alert.id, cards.alert_card(alert, self.links)))
        elif verdict is not None and verdict.level == ABSTAIN:
            card = cards.chart_card(verdict, self.links)
            if card is not None:
                out.append(("chart", None, card))
        store.record_cards(self.engine, [
            dict(uuid=card["uuid"], client=caller.iss, hook_instance=call.hook_instance, alert_id=alert_id,
                 patient_id=call.patient_id, kind=kind, indicator=card["indicator"], issued_at=now)
            for kind, alert_id, card in out])
        return Answer([card for _, _, card in out], path)

    def _newest_score(self, call: HookCall):
        t = history.risk_scores
        query = sa.select(t.c.at, t.c.alert_id, t.c.level, t.c.scope_key).where(
            t.c.iss == call.fhir_server, t.c.patient_id == call.patient_id, t.c.outcome != history.FAILED)
        if call.encounter_id:
            query = query.where(t.c.encounter_id == call.encounter_id)
        with self.engine.connect() as conn:
            return conn.execute(query.order_by(t.c.at.desc(), t.c.id.desc()).limit(1)).first()

    def _score_prefetch(self, call: HookCall, now: datetime):
        if not call.encounter_id:
            # Alerts are one per encounter: without one, a prefetch score could only raise a second, patient-wide
            # alert beside the screening's. The stored state answers instead.
            return None
        try:
            record = prefetched_record(call.prefetch, call.patient_id, now=now, lookback=self.lookback)
        except FhirBadResponse as exc:
            log.warning("cds: prefetch not used (%s)", exc.detail)
            return None
        if record is None:
            return None
        measurements = map_record(record, now, base=call.fhir_server).measurements
        scope = Scope(iss=call.fhir_server, patient_id=call.patient_id, encounter_id=call.encounter_id)
        admitted = prefetched_icu_admission(call.prefetch, call.patient_id, call.encounter_id, now)
        return assess_and_sync(self.engine, scope, measurements, now, source=SOURCE, model=self.model,
                               policy=self.policy, care_unit=lambda: "unknown", icu_admitted_at=admitted)

    def _stored_verdict(self, call: HookCall, scope_key: str, now: datetime) -> Assessment | None:
        """What the model lacks for a patient it abstained on, from the screening's stored window (no FHIR)."""
        stored = window.load(self.engine, call.fhir_server, scope_key)
        if stored is None:
            return None
        verdict, _ = evaluate(self.engine, stored.measurements(now, self.lookback), now, iss=call.fhir_server,
                              model=self.model, policy=self.policy)
        return verdict

    # -- feedback -----------------------------------------------------------------------------------------------

    def feedback(self, body: object, caller: Caller, received: datetime) -> int:
        """Record each feedback item on a card this client was given; returns how many were new. An item about an
        unknown card, or malformed, makes the whole call 400 before anything is recorded."""
        items = body.get("feedback") if isinstance(body, dict) else None
        if not isinstance(items, list) or not 1 <= len(items) <= 50:
            raise CdsRequestInvalid("feedback must be a list of 1 to 50 items")
        rows = [self._feedback_row(item, caller, received) for item in items]
        return sum(store.record_feedback(self.engine, row) for row in rows)

    def _feedback_row(self, item: object, caller: Caller, received: datetime) -> dict:
        if not isinstance(item, dict) or not isinstance(item.get("card"), str):
            raise CdsRequestInvalid("each feedback item needs the card's uuid")
        if store.issued_to(self.engine, item["card"], caller.iss) is None:
            raise CdsRequestInvalid("feedback names a card this service did not return to this client")
        outcome = item.get("outcome")
        if outcome not in (store.ACCEPTED, store.OVERRIDDEN):
            raise CdsRequestInvalid("outcome must be accepted or overridden")
        try:
            at = datetime.fromisoformat(str(item.get("outcomeTimestamp")).replace("Z", "+00:00"))
        except ValueError:
            raise CdsRequestInvalid("outcomeTimestamp must be an ISO 8601 instant") from None
        if at.tzinfo is None:
            raise CdsRequestInvalid("outcomeTimestamp needs a time zone")
        row = dict(card_uuid=item["card"], client=caller.iss, outcome=outcome, outcome_at=at, received_at=received,
                   reason_code=None, reason_display=None, user_comment=None)
        override = item.get("overrideReason")
        if outcome == store.OVERRIDDEN and isinstance(override, dict):
            reason = override.get("reason") if isinstance(override.get("reason"), dict) else {}
            code, display, comment = reason.get("code"), reason.get("display"), override.get("userComment")
            row.update(reason_code=code[:64] if isinstance(code, str) else None,
                       reason_display=display[:200] if isinstance(display, str) else None,
                       user_comment=comment[:1000] if isinstance(comment, str) else None)
        return row
