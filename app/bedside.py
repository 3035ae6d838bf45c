"""What the bedside page shows for one patient, assembled from FHIR, the model and the alert workflow.

One call per page load, `take_snapshot`: FHIR record -> mapping -> model score -> alert policy -> alert
workflow (raise, resume, lapse) -> for a confirmed alert, the treatment bundle (three more FHIR searches).
The panels that change after an action (`alert_panel`, `screening_panel`) read only the database, so a
decision never costs a FHIR round trip. No Flask here: the web layer hands in a transport and a context, and
renders what comes back.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa

from app import abnormal, roles
from app.alerts import store
from app.alerts.findings import UnscoredFinding, scored_without, unscored_finding
from app.alerts.policy import (
    ABSTAIN,
    UNAVAILABLE,
    Assessment,
    Policy,
    display_unit,
)
from app.alerts.workflow import DISMISS_REASONS, PAUSE_CHOICES, WITHDRAW_REASONS, Actor, Scope, may_decide
from app.assessment import assess_and_sync
from app.assessment import resolve_model as resolve_scoring_model
from app.bundle import (
    BLOOD_CULTURE_CODES,
    CULTURE_LOOKBACK,
    MEDICATION_LOOKBACK,
    BundleStatus,
    Culture,
    Facts,
    FluidDefaults,
    Given,
    NotConfirmed,
    OrderNotPlaced,
    ReviewInvalid,
    SubmissionTaken,
    evaluate,
    fluid_review,
    medication_kind,
)
from app.bundle import orders as bundle_orders
from app.fhir import (
    Demographics,
    FhirError,
    FhirUnauthorized,
    Mapped,
    MappingResult,
    PatientRecord,
    Rejected,
    Transport,
    fetch_patient_record,
    map_record,
)
from app.fhir.codes import loinc_codings
from app.fhir.dates import fhir_instant, parse_datetime
from app.fhir.encounters import icu_admission, read_encounter
from app.fhir.paging import search
from app.headline import RISK_WORDS, Headline, headline
from app.model import ABSTAIN_RULE, CONCEPTS, Abstain, Measurement, Model, Risk, load_model
from app.model.scoring import MAX_AGE_H, REQUIRED
from app.nursing import form as screenings
from app.screening.history import CHART
from app.timewords import clock_text, date_text

log = logging.getLogger(__name__)

KEY_VITALS = ("heart_rate", "resp_rate", "sbp", "map", "temperature", "spo2")
TREND_HOURS = 24
LIMIT_LINES = {"sbp": 90.0, "map": 65.0}  # drawn on the sparkline: the organ-dysfunction limits
MAX_REJECTED_SHOWN = 200


# -- who and where -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Context:
    """The launch as the page needs it: FHIR server, patient, encounter and user (from app.smart's Session)."""

    iss: str
    patient_id: str
    encounter_id: str | None
    user_ref: str
    user_name: str | None
    role: str

    @classmethod
    def of(cls, session) -> Context:
        return cls(session.iss, session.patient_id, session.encounter_id, session.user_ref, session.user_name,
                   session.role)

    @property
    def scope(self) -> Scope:
        return Scope(iss=self.iss, patient_id=self.patient_id, encounter_id=self.encounter_id)

    @property
    def actor(self) -> Actor:
        return Actor(self.user_ref, self.user_name, self.role)


def new_submission_id() -> str:
    """A one-time id per rendered form: a resubmission of the same form is recorded once."""
    return uuid.uuid4().hex


# -- banner ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Banner:
    name: str | None
    age_years: int | None
    sex: str | None  # FHIR administrative gender

    @property
    def age_text(self) -> str:
        return f"{self.age_years} y" if self.age_years is not None else "age unknown"

    @property
    def sex_text(self) -> str:
        return {"male": "male", "female": "female", "other": "other"}.get(self.sex or "", "sex unknown")


def banner(patient: Demographics, now: datetime) -> Banner:
    age = patient.age_years(now)
    return Banner(name=patient.name, age_years=int(age) if age is not None and age >= 0 else None, sex=patient.sex)


# -- nursing assessment ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Row:
    """One line of the measurements table: the newest value of a concept the model was given."""

    concept: str
    label: str
    value_text: str
    unit: str
    time: datetime | None
    starred: bool
    count: int  # values of this concept used
    flag: str | None = None  # "high" | "low": outside the bedside limits (app.abnormal)
    reason: str | None = None  # for a starred row, why it matters in words: "RR 30, rising"

    @property
    def shown_first(self) -> bool:
        """In the collapsed table: the starred and the abnormal values."""
        return self.starred or self.flag is not None


@dataclass(frozen=True)
class Sparkline:
    concept: str
    label: str
    unit: str
    points: str  # SVG polyline points, drawn server-side (CSP allows no inline script or style)
    last_x: float
    last_y: float
    low: float
    high: float
    last: float
    last_time: datetime
    count: int
    limit_y: float | None = None
    limit: float | None = None
    width: int = 160
    height: int = 36


@dataclass(frozen=True)
class MissingInput:
    label: str
    text: str


@dataclass(frozen=True)
class NursingAssessment:
    patient_id: str
    level: str
    words: str
    probability: float | None  # None whenever the model did not give a number
    threshold: float | None
    threshold_version: int | None
    model_version: str | None
    signs: tuple
    sign_window_hours: float
    rows: tuple[Row, ...]
    sparklines: tuple[Sparkline, ...]
    missing: tuple[MissingInput, ...]
    unavailable_reason: str | None
    abstain_rule: str
    finding: UnscoredFinding | None = None  # signs of organ dysfunction or shock while there is no score
    scored_without: tuple[str, ...] = ()  # expected measurements a score was made without (partial data)
    demographics: str | None = None  # "age 67, sex female": what the model was given besides measurements

    @property
    def scored(self) -> bool:
        """The model gave a number: only then are rows "used by the model" and starred."""
        return self.probability is not None

    @property
    def rows_first(self) -> tuple[Row, ...]:
        return tuple(r for r in self.rows if r.shown_first)

    @property
    def reasons(self) -> tuple[str, ...]:
        return tuple(r.reason for r in self.rows if r.reason)


@dataclass(frozen=True)
class DataLists:
    """Issue 4 item 5: the data used, and the data not used with the reason."""

    used: tuple[tuple[str, int, datetime, datetime], ...]  # label, count, first, last (measurements only)
    rejected: tuple[Rejected, ...]
    rejected_total: int
    reason_counts: dict
    not_relevant: int
    window_start: datetime
    notes: tuple[str, ...]
    complete: bool
    also: tuple[str, ...] = ()  # read but not "in the time window": demographics, an older body weight


def _value_text(concept: str, value: float) -> str:
    return f"{value:.4g}" if abs(value) < 1000 else f"{value:.0f}"


def sex_words(value: float) -> str:
    """The model's 0/1 sex input in words (FHIR administrative gender: 1 = male)."""
    return "male" if value >= 0.5 else "female"


def _demographics(used: Iterable[Mapped]) -> str | None:
    """ "age 67, sex female": the model's inputs from the patient record rather than a measurement."""
    found = {m.measurement.concept: m.measurement.value for m in used
             if CONCEPTS[m.measurement.concept].kind == "demographic"}
    parts = ([f"age {int(found['age'])}"] if "age" in found else []) + (
        [f"sex {sex_words(found['sex_male'])}"] if "sex_male" in found else [])
    return ", ".join(parts) or None


def _rows(used: Iterable[Mapped], risk: Risk | None, now: datetime) -> tuple[Row, ...]:
    """The newest value of each measured model input, with its flag and, when starred, why in words.
    Demographics are not measurements: they are named once beside the table (`_demographics`)."""
    by_concept: dict[str, list[Mapped]] = defaultdict(list)
    for mapped in used:
        by_concept[mapped.measurement.concept].append(mapped)
    starred = risk.starred if risk else frozenset()
    order = {c: i for i, c in enumerate(CONCEPTS)}
    kind_order = {"vital": 0, "lab": 1}
    rows = []
    for concept, items in by_concept.items():
        if not CONCEPTS[concept].model_input or CONCEPTS[concept].kind == "demographic":
            continue  # body weight: used by the bundle, not by the model; age and sex: named beside the table
        latest = max(items, key=lambda x: x.measurement.time).measurement
        points = [(m.measurement.time, m.measurement.value) for m in items]
        star = concept in starred
        rows.append(Row(concept, CONCEPTS[concept].label, _value_text(concept, latest.value), display_unit(concept),
                        latest.time, star, len(items), abnormal.flag(concept, latest.value),
                        abnormal.reason(concept, CONCEPTS[concept].label, points, now) if star else None))
    rows.sort(key=lambda r: (kind_order.get(CONCEPTS[r.concept].kind, 3), order[r.concept]))
    return tuple(rows)


def sparkline(concept: str, points: list[tuple[datetime, float]], now: datetime, width: int = 160,
              height: int = 36) -> Sparkline | None:
    """Inline SVG coordinates for one vital over the last TREND_HOURS hours (x = time, y = value)."""
    start = now - timedelta(hours=TREND_HOURS)
    pts = sorted((t, v) for t, v in points if start <= t <= now)
    if len(pts) < 2:
        return None
    values = [v for _, v in pts]
    limit = LIMIT_LINES.get(concept)
    low, high = min(values), max(values)
    span_low, span_high = min(low, limit) if limit else low, max(high, limit) if limit else high
    if span_high - span_low < 1e-9:
        span_low, span_high = span_low - 1, span_high + 1
    pad = 3

    def xy(t: datetime, v: float) -> tuple[float, float]:
        x = pad + (width - 2 * pad) * ((t - start).total_seconds() / (TREND_HOURS * 3600))
        y = pad + (height - 2 * pad) * (1 - (v - span_low) / (span_high - span_low))
        return round(x, 1), round(y, 1)

    coords = [xy(t, v) for t, v in pts]
    last_t, last_v = pts[-1]
    return Sparkline(concept, CONCEPTS[concept].label, display_unit(concept),
                     " ".join(f"{x},{y}" for x, y in coords), coords[-1][0], coords[-1][1], low, high, last_v, last_t,
                     len(pts), xy(start, limit)[1] if limit else None, limit, width, height)


def _missing(abstain: Abstain, mapping: MappingResult, now: datetime,
             lookback_hours: float) -> tuple[MissingInput, ...]:
    """What is missing or too old, with when it was last seen, and why a newer value was not used."""
    out = []
    for miss in abstain.missing:
        group = next((g for g in REQUIRED if g[0] == miss.concept), (miss.concept,))
        refused = sorted((r for r in mapping.rejected if r.concept in group and r.time is not None),
                         key=lambda r: r.time, reverse=True)
        if miss.reason == "too old" and miss.last_seen is not None:
            text = f"last measured {clock_text(miss.last_seen, now)}, more than {MAX_AGE_H:g} hours ago"
        else:
            text = f"not measured in the last {lookback_hours:g} hours"
        if refused and (miss.last_seen is None or refused[0].time > miss.last_seen):
            text += f"; a value from {clock_text(refused[0].time, now)} was not used ({refused[0].text})"
        out.append(MissingInput(miss.label, text))
    return tuple(out)


def nursing_assessment(patient_id: str, verdict: Assessment, mapping: MappingResult, now: datetime, *,
                       threshold_version: int | None, lookback_hours: float) -> NursingAssessment:
    used = mapping.used
    series: dict[str, list[tuple[datetime, float]]] = defaultdict(list)
    for mapped in used:
        if mapped.measurement.concept in KEY_VITALS:
            series[mapped.measurement.concept].append((mapped.measurement.time, mapped.measurement.value))
    lines = tuple(s for c in KEY_VITALS if (s := sparkline(c, series.get(c, []), now)) is not None)
    risk = verdict.risk
    return NursingAssessment(
        patient_id=patient_id, level=verdict.level, words=RISK_WORDS[verdict.level],
        probability=risk.probability if risk else None, threshold=verdict.threshold,
        threshold_version=threshold_version, model_version=(risk.model_version if risk else
                                                            verdict.abstain.model_version if verdict.abstain
                                                            else None),
        signs=verdict.signs, sign_window_hours=verdict.policy.sign_window.total_seconds() / 3600,
        rows=_rows(used, risk, now), sparklines=lines, demographics=_demographics(used) if risk else None,
        missing=_missing(verdict.abstain, mapping, now, lookback_hours) if verdict.abstain else (),
        unavailable_reason=verdict.unavailable_reason, abstain_rule=ABSTAIN_RULE,
        finding=unscored_finding(verdict), scored_without=scored_without(verdict))


def data_lists(record: PatientRecord, mapping: MappingResult, now: datetime) -> DataLists:
    """What was read: the measurements inside the time window, and apart from them what is not a measurement
    of the window (age and sex from the patient record; a body weight, often older, for fluid volumes)."""
    by_concept: dict[str, list[Measurement]] = defaultdict(list)
    for mapped in mapping.used:
        by_concept[mapped.measurement.concept].append(mapped.measurement)
    window = {c: ms for c, ms in by_concept.items()
              if CONCEPTS[c].kind != "demographic" and CONCEPTS[c].model_input
              and any(m.time >= record.window_start for m in ms)}
    used = tuple(sorted(((CONCEPTS[c].label, len(ms), min(m.time for m in ms), max(m.time for m in ms))
                         for c, ms in window.items()), key=lambda u: u[0]))
    also = []
    demographics = _demographics(mapping.used)
    if demographics:
        also.append(f"From the patient record: {demographics}.")
    weights = sorted(by_concept.get("body_weight", []), key=lambda m: m.time)
    if weights:
        also.append(f"Body weight {_value_text('body_weight', weights[-1].value)} kg, recorded "
                    f"{date_text(weights[-1].time, now)}: used for fluid volumes only, not by the model.")
    rejected = tuple(sorted(mapping.rejected, key=lambda r: (r.reason, r.label, r.time or record.fetched_at)))
    return DataLists(used=used, rejected=rejected[:MAX_REJECTED_SHOWN], rejected_total=len(rejected),
                     reason_counts=mapping.reason_counts(), not_relevant=mapping.not_relevant,
                     window_start=record.window_start, notes=record.notes, complete=record.complete,
                     also=tuple(also))


# -- the provider's panel (database only) ------------------------------------------------------------------

@dataclass(frozen=True)
class AlertPanel:
    patient_id: str
    alert: store.AlertRecord | None
    level: str | None  # the page's current verdict when known (a fragment refresh does not re-score)
    can_decide: bool
    why_disabled: str | None
    submission_ids: dict
    dismiss_reasons: dict
    pause_choices: tuple
    screening: screenings.Screening | None
    by_encounter: bool
    now: datetime
    errors: dict = field(default_factory=dict)
    form: dict = field(default_factory=dict)
    notice: str | None = None
    notice_kind: str = "saved"  # saved | conflict | failed
    withdraw_reasons: dict = field(default_factory=lambda: dict(WITHDRAW_REASONS))
    why_no_withdraw: str | None = None  # None: this user may withdraw a confirmation

    @property
    def can_withdraw(self) -> bool:
        return self.why_no_withdraw is None

    @property
    def withdraw_reason_text(self) -> str | None:
        a = self.alert
        return WITHDRAW_REASONS.get(a.withdraw_reason or "", a.withdraw_reason) if a else None

    @property
    def visible(self) -> bool:
        """An alert to show with its actions (a paused one comes back only after the next page load re-checks)."""
        return self.alert is not None and self.alert.state == "active"

    @property
    def pause_over(self) -> bool:
        a = self.alert
        return a is not None and a.state == "paused" and not a.paused_now(self.now)

    @property
    def state_words(self) -> str:
        return store.STATE_WORDS.get(self.alert.state, self.alert.state) if self.alert else ""

    @property
    def dismiss_reason_text(self) -> str | None:
        a = self.alert
        return DISMISS_REASONS.get(a.dismiss_reason or "", a.dismiss_reason) if a else None


_UNREAD = object()


def alert_panel(engine: sa.Engine, ctx: Context, now: datetime, *, alert: store.AlertRecord | None = None,
                level: str | None = None, screening=_UNREAD, **extra) -> AlertPanel:
    """The provider evaluation section from the database (no FHIR): the scope's newest alert and its actions.
    `screening`: the scope's latest nurse screening, when the caller has read it already."""
    alert = alert or store.newest(engine, ctx.scope)
    return AlertPanel(
        patient_id=ctx.patient_id, alert=alert, level=level, can_decide=may_decide(ctx.role),
        why_disabled=roles.why_not(ctx.role, "decide_on_alerts"),
        submission_ids={k: new_submission_id() for k in ("confirm", "dismiss", "pause", "withdraw")},
        why_no_withdraw=roles.why_not(ctx.role, "withdraw_confirmation"),
        dismiss_reasons=DISMISS_REASONS, pause_choices=tuple(PAUSE_CHOICES),
        screening=screenings.latest(engine, ctx.scope) if screening is _UNREAD else screening,
        by_encounter=ctx.scope.by_encounter, now=now, **extra)


@dataclass(frozen=True)
class ScreeningPanel:
    patient_id: str
    latest: screenings.Screening | None
    can_submit: bool
    why_disabled: str | None
    submission_id: str
    sources: dict
    now: datetime
    errors: dict = field(default_factory=dict)
    form: dict = field(default_factory=dict)
    notice: str | None = None


def screening_panel(engine: sa.Engine, ctx: Context, now: datetime, *, latest=_UNREAD, **extra) -> ScreeningPanel:
    can = screenings.may_screen(ctx.role)
    return ScreeningPanel(
        patient_id=ctx.patient_id, latest=screenings.latest(engine, ctx.scope) if latest is _UNREAD else latest,
        can_submit=can, why_disabled=roles.why_not(ctx.role, "submit_the_nurse_screening"),
        submission_id=new_submission_id(), sources=screenings.INFECTION_SOURCES, now=now, **extra)


# -- the treatment bundle ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class OrderCell:
    """One bundle element's order: what was sent to the EHR, or the form to send it."""

    patient_id: str
    alert_id: int
    element: str
    record: bundle_orders.OrderRecord | None
    orderable: bool  # the element needs an order and none is placed (or the last one failed)
    can_order: bool
    why_disabled: str | None
    submission_id: str
    antibiotic_choices: dict
    now: datetime
    notice: str | None = None
    error: str | None = None
    choice: str | None = None
    review: FluidDefaults | None = None  # fluids: what the review step starts from

    @classmethod
    def build(cls, ctx: Context, alert_id: int, element: str, record: bundle_orders.OrderRecord | None, *,
              orderable: bool, now: datetime, notice: str | None = None, error: str | None = None,
              choice: str | None = None, review: FluidDefaults | None = None) -> OrderCell:
        can = bundle_orders.may_order(ctx.role)
        return cls(ctx.patient_id, alert_id, element, record, orderable, can, roles.why_not(ctx.role, "place_orders"),
                   new_submission_id(), {k: v.display for k, v in bundle_orders.ANTIBIOTIC_CHOICES.items()}, now,
                   notice, error, choice, review if element == "fluids" else None)

    @property
    def retry(self) -> bool:
        return self.record is not None and self.record.retryable(self.now)


@dataclass(frozen=True)
class BundlePanel:
    patient_id: str
    alert: store.AlertRecord | None
    status: BundleStatus | None  # None until a provider confirms the alert
    orders: dict
    ctx: Context
    notes: tuple[str, ...]
    now: datetime

    @property
    def can_order(self) -> bool:
        return bundle_orders.may_order(self.ctx.role)

    @property
    def why_disabled(self) -> str | None:
        return roles.why_not(self.ctx.role, "place_orders")

    def cell(self, element) -> OrderCell:
        record = self.orders.get(element.key)
        orderable = (record.retryable(self.now) if record else element.orderable)
        review = FluidDefaults.of(self.status.weight_kg, self.status.weight_time) if self.status else None
        return OrderCell.build(self.ctx, self.alert.id, element.key, record, orderable=orderable, now=self.now,
                               review=review)


def _codings(concept: object) -> list[tuple[str | None, str | None]]:
    if not isinstance(concept, dict) or not isinstance(concept.get("coding"), list):
        return []
    return [(c.get("system"), c.get("code")) for c in concept["coding"] if isinstance(c, dict)]


def _search_or_note(transport: Transport, rtype: str, params: dict, notes: list[str], what: str,
                    max_pages: int) -> tuple[dict, ...] | None:
    try:
        result = search(transport, rtype, params, max_pages=max_pages)
    except FhirUnauthorized:
        raise
    except FhirError as exc:
        log.warning("bundle: %s search failed (%s)", rtype, exc.code)
        notes.append(f"{what} could not be read from the EHR, so the elements that depend on them show "
                     "'unknown'.")
        return None
    notes.extend(n for n in result.notes if n not in notes)
    return result.resources


def bundle_facts(transport: Transport, record: PatientRecord, mapping: MappingResult, time_zero: datetime,
                 *, max_pages: int = 5) -> tuple[Facts, tuple[str, ...]]:
    """What FHIR shows for the bundle: results from the record already read, plus three searches
    (MedicationAdministration, MedicationRequest, ServiceRequest) since the look-backs before time zero."""
    notes: list[str] = []
    pid = record.patient.patient_id
    used = [m.measurement for m in mapping.used]
    weights = sorted((m for m in used if m.concept == "body_weight"), key=lambda m: m.time)
    cultures: list[Culture] = []
    for obs in record.observations:
        if not isinstance(obs, dict) or obs.get("status") in ("entered-in-error", "cancelled"):
            continue
        if any(code in BLOOD_CULTURE_CODES for code, _ in loinc_codings(obs.get("code"))):
            t = parse_datetime(obs.get("effectiveDateTime") or (obs.get("effectivePeriod") or {}).get("start")).time
            if t is not None:
                cultures.append(Culture(t, True, f"Observation/{obs.get('id')}"))
    since_meds = fhir_instant(time_zero - MEDICATION_LOOKBACK)
    administrations = _search_or_note(transport, "MedicationAdministration",
                                      {"patient": pid, "effective-time": f"ge{since_meds}", "_count": "100"},
                                      notes, "Medication administrations", max_pages)
    requests = _search_or_note(transport, "MedicationRequest",
                               {"patient": pid, "authoredon": f"ge{since_meds}", "_count": "100"},
                               notes, "Medication orders", max_pages)
    services = _search_or_note(transport, "ServiceRequest",
                               {"patient": pid, "authored": f"ge{fhir_instant(time_zero - CULTURE_LOOKBACK)}",
                                "_count": "100"}, notes, "Blood culture orders", max_pages)
    given: list[Given] = []
    unclassified = 0
    for res in administrations or ():
        if res.get("status") not in ("completed", "in-progress"):
            continue
        kind = medication_kind(_codings(res.get("medicationCodeableConcept")))
        if kind is None:
            unclassified += "medicationReference" in res
            continue
        period = res.get("effectivePeriod") or {}
        start = parse_datetime(res.get("effectiveDateTime") or period.get("start")).time
        end = parse_datetime(period.get("end")).time if period.get("end") else None
        if start is not None:
            given.append(Given(kind[0], kind[2], start, end, True, f"MedicationAdministration/{res.get('id')}"))
    for res in requests or ():
        if res.get("status") not in ("active", "completed", "draft", "on-hold"):
            continue
        kind = medication_kind(_codings(res.get("medicationCodeableConcept")))
        if kind is None:
            unclassified += "medicationReference" in res
            continue
        t = parse_datetime(res.get("authoredOn")).time
        if t is not None:
            given.append(Given(kind[0], kind[2], t, None, False, f"MedicationRequest/{res.get('id')}"))
    for res in services or ():
        if res.get("status") in ("revoked", "entered-in-error"):
            continue
        if any(code in BLOOD_CULTURE_CODES for code, _ in loinc_codings(res.get("code"))):
            t = parse_datetime(res.get("authoredOn")).time
            if t is not None:
                cultures.append(Culture(t, res.get("status") == "completed", f"ServiceRequest/{res.get('id')}"))
    if unclassified:
        notes.append(f"{unclassified} medication record(s) name the drug by reference only, so they could not be "
                     "matched to the bundle.")
    facts = Facts(
        lactates=tuple(m for m in used if m.concept == "lactate"),
        pressures=tuple(m for m in used if m.concept in ("sbp", "map")),
        weight_kg=weights[-1].value if weights else None, weight_time=weights[-1].time if weights else None,
        cultures=tuple(cultures), medications=tuple(given),
        cultures_known=services is not None, medications_known=administrations is not None and requests is not None)
    return facts, tuple(notes)


def bundle_panel(engine: sa.Engine, ctx: Context, now: datetime, alert: store.AlertRecord | None,
                 status: BundleStatus | None, notes: tuple[str, ...] = ()) -> BundlePanel:
    return BundlePanel(patient_id=ctx.patient_id, alert=alert, status=status,
                       orders=bundle_orders.for_alert(engine, alert.id, alert.iss) if alert else {}, ctx=ctx, notes=notes,
                       now=now)


# -- the headline and the order of the sections ------------------------------------------------------------

@dataclass(frozen=True)
class HeadlinePanel:
    """Where the alert stands (app.headline), as its fragment takes it; refreshed after every decision."""

    patient_id: str
    headline: Headline


def headline_panel(ctx: Context, now: datetime, alert: store.AlertRecord | None,
                   assessment: NursingAssessment | None = None) -> HeadlinePanel:
    """From the page's assessment when there is one; a fragment refresh words the risk from the alert's record."""
    if assessment is not None:
        words = headline(assessment.level, assessment.probability, assessment.threshold, alert, now)
        if assessment.finding is not None and words.kind in (ABSTAIN, UNAVAILABLE):
            # No score, but organ dysfunction or shock in the data: the finding is the page's first line.
            words = Headline(assessment.finding.level, assessment.finding.headline, words.title)
        return HeadlinePanel(ctx.patient_id, words)
    return HeadlinePanel(ctx.patient_id, headline(None, None, None, alert, now))


NURSING, PROVIDER, BUNDLE = "nursing", "provider", "bundle"


def section_order(role: str, alert: store.AlertRecord | None) -> tuple[str, ...]:
    """Each role's task first, every section for everyone: the nurse's screening; the provider's decision, or
    once confirmed the bundle and its clocks; the rest in the page's usual order."""
    if role == roles.PROVIDER:
        confirmed = alert is not None and alert.time_zero is not None
        return (BUNDLE, PROVIDER, NURSING) if confirmed else (PROVIDER, BUNDLE, NURSING)
    return (NURSING, PROVIDER, BUNDLE)


# -- one page load -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Snapshot:
    record: PatientRecord
    banner: Banner
    headline: HeadlinePanel
    sections: tuple[str, ...]
    screening_first: bool  # in the nursing section: the nurse's form before the assessment
    assessment: NursingAssessment
    data: DataLists
    alert: AlertPanel
    bundle: BundlePanel
    screening: ScreeningPanel
    round_trips: int


@dataclass(frozen=True)
class FetchSettings:
    lookback_hours: int
    page_size: int
    max_pages: int


def resolve_model(model: Model | None) -> tuple[Model | None, str | None]:
    return resolve_scoring_model(model, loader=lambda: load_model())


def _location_name(transport: Transport, reference: str) -> str | None:
    """The Location's name, read once when an alert is raised, so the adoption pages never show a raw id."""
    ref = _relative(reference, transport.base)
    parts = ref.split("/")
    if len(parts) != 2 or parts[0] != "Location":
        return None
    try:
        name = transport.get_json(ref, expect="Location").get("name")
    except FhirError as exc:
        log.info("care unit: Location read failed (%s)", exc.code)
        return None
    return name.strip() if isinstance(name, str) and name.strip() else None


def care_unit(transport: Transport, encounter_id: str | None) -> str:
    """Where the patient is, from the Encounter: its active location (display, else the Location's name, else
    the reference), else the serviceType or type text; "unknown" when there is none or the read fails (it must
    never block an alert)."""
    if not encounter_id:
        return "unknown"
    try:
        enc = transport.get_json(f"Encounter/{encounter_id}", expect="Encounter")
    except FhirError as exc:
        log.info("care unit: Encounter read failed (%s)", exc.code)
        return "unknown"
    return unit_of(enc, transport)


def unit_of(enc: dict | None, transport: Transport | None = None) -> str:
    """The care unit an Encounter resource names (see care_unit); "unknown" when it names none. With a
    `transport`, a location given only by reference is named by reading the Location (once, at raise)."""
    if not isinstance(enc, dict):
        return "unknown"
    locations = [x for x in enc.get("location") or [] if isinstance(x, dict) and isinstance(x.get("location"), dict)]
    locations.sort(key=lambda x: x.get("status") != "active")
    for loc in locations:
        ref = loc["location"]
        if isinstance(ref.get("display"), str) and ref["display"].strip():
            return ref["display"].strip()
        if isinstance(ref.get("reference"), str) and ref["reference"].strip():
            named = _location_name(transport, ref["reference"].strip()) if transport is not None else None
            return named or ref["reference"].strip()
    for element in ("serviceType",):
        concept = enc.get(element)
        if isinstance(concept, dict):
            text = concept.get("text") or next((c.get("display") for c in concept.get("coding") or []
                                                if isinstance(c, dict) and c.get("display")), None)
            if isinstance(text, str) and text.strip():
                return text.strip()
    return "unknown"


def fetch_and_map(transport: Transport, ctx: Context, now: datetime, settings: FetchSettings):
    """The patient's record within the site's lookback, and what the mapping made of it: (record, mapping)."""
    record = fetch_patient_record(transport, ctx.patient_id, now=now,
                                  lookback=timedelta(hours=settings.lookback_hours), page_size=settings.page_size,
                                  max_pages=settings.max_pages)
    return record, map_record(record, now, base=transport.base)


def take_snapshot(transport: Transport, engine: sa.Engine, ctx: Context, now: datetime, settings: FetchSettings, *,
                  model: Model | None = None, policy: Policy | None = None, with_bundle: bool = True) -> Snapshot:
    """Fetch the patient's data once, score it, apply the alert policy and workflow, and build every panel."""
    record, mapping = fetch_and_map(transport, ctx, now, settings)
    model, unavailable = resolve_model(model)
    # One Encounter read, shared: the ICU admission time (the model's hours-in-ICU input) and the care unit.
    encounter = read_encounter(transport, ctx.encounter_id)
    admitted = icu_admission(encounter, now) if encounter is not None else None
    assessed = assess_and_sync(
        engine, ctx.scope, mapping.measurements, now, source=CHART, model=model, unavailable_reason=unavailable,
        policy=policy, care_unit=lambda: unit_of(encounter, transport), icu_admitted_at=admitted, read="full",
        fhir_requests=transport.round_trips)
    verdict, alert, site = assessed.verdict, assessed.alert, assessed.site
    status, notes = None, ()
    if with_bundle and alert is not None and alert.time_zero is not None:
        facts, notes = bundle_facts(transport, record, mapping, alert.time_zero, max_pages=settings.max_pages)
        status = evaluate(alert.time_zero, now, facts)
    latest_screening = screenings.latest(engine, ctx.scope)  # one read for both panels that show it
    assessment = nursing_assessment(ctx.patient_id, verdict, mapping, now,
                                    threshold_version=site.version if site else None,
                                    lookback_hours=settings.lookback_hours)
    snapshot = Snapshot(
        record=record, banner=banner(record.patient, now),
        headline=headline_panel(ctx, now, alert, assessment), sections=section_order(ctx.role, alert),
        screening_first=ctx.role == roles.NURSE, assessment=assessment,
        data=data_lists(record, mapping, now),
        alert=alert_panel(engine, ctx, now, alert=alert, level=verdict.level, screening=latest_screening),
        bundle=bundle_panel(engine, ctx, now, alert, status, notes),
        screening=screening_panel(engine, ctx, now, latest=latest_screening),
        round_trips=transport.round_trips)
    log.info("bedside snapshot: level=%s alert=%s round_trips=%d", verdict.level, alert.id if alert else None,
             transport.round_trips)
    return snapshot


def bundle_only(transport: Transport, engine: sa.Engine, ctx: Context, now: datetime,
                settings: FetchSettings) -> BundlePanel:
    """The bundle section alone (its fragment URL): FHIR is read only when the alert is confirmed."""
    alert = store.newest(engine, ctx.scope)
    if alert is None or alert.time_zero is None:
        return bundle_panel(engine, ctx, now, alert, None)
    record, mapping = fetch_and_map(transport, ctx, now, settings)
    facts, notes = bundle_facts(transport, record, mapping, alert.time_zero, max_pages=settings.max_pages)
    return bundle_panel(engine, ctx, now, alert, evaluate(alert.time_zero, now, facts), notes)


# -- placing a bundle order --------------------------------------------------------------------------------

def _relative(reference: str, base: str) -> str:
    """A reference on this FHIR base as "Type/id" (fhirUser is often absolute); others are kept as they are."""
    prefix = base.rstrip("/") + "/"
    return reference[len(prefix):] if reference.startswith(prefix) else reference


class OrderInvalid(ValueError):
    """The order form names no known element or medication, or its reviewed fluid volume cannot be used."""


def place_order(transport: Transport, engine: sa.Engine, ctx: Context, alert_id: int, element: str,
                choice: str | None, submission_id: str, now: datetime,
                review: Mapping[str, str] | None = None) -> tuple[bundle_orders.OrderRecord, bool]:
    """Record, then send, one bundle order; (order, replayed). The row is committed as "sending" before the EHR
    is called and the EHR call is a conditional create, so neither a retry nor a resubmitted form doubles it.
    A fluid order carries the volume and weight the provider reviewed (`review`: the form's volume_ml and
    weight_kg); nothing is computed behind their back.
    Raises NotConfirmed, AlreadyOrdered, OrderInvalid, OrderNotPlaced (the EHR refused or did not answer)."""
    alert = store.for_patient(engine, alert_id, ctx.scope)
    if alert.time_zero is None:
        raise NotConfirmed(alert)
    what = bundle_orders.orderable_for(element, choice)
    if what is None:
        raise OrderInvalid("Choose what to order.")
    try:
        fluids = fluid_review(review or {}) if element == "fluids" else None
    except ReviewInvalid as exc:
        raise OrderInvalid(str(exc)) from exc
    volume = fluids.volume_ml if fluids else None
    try:
        begun = bundle_orders.begin(engine, alert.id, element, what, volume, ctx.actor, submission_id, now,
                                    iss=alert.iss)
    except SubmissionTaken as exc:
        raise OrderInvalid("This form has expired. Reload the page and order again.") from exc
    if not begun.send:
        return begun.order, True
    resource = bundle_orders.fhir_resource(
        begun.order, what, patient_id=ctx.patient_id, encounter_id=alert.encounter_id,
        requester=_relative(ctx.user_ref, transport.base), requester_name=ctx.user_name, now=now,
        weight_kg=fluids.weight_kg if fluids else None)
    try:
        created = transport.create(what.resource_type, resource,
                                   if_none_exist=bundle_orders.if_none_exist(begun.order, ctx.patient_id))
    except FhirError as exc:
        log.warning("bundle order %s not placed: %s", begun.order.id, exc.code)
        raise OrderNotPlaced(bundle_orders.failed(engine, begun.order, exc.code), exc.code) from exc
    fhir_id = created.get("id")
    if not isinstance(fhir_id, str) or not fhir_id:
        raise OrderNotPlaced(bundle_orders.failed(engine, begun.order, "no_id"), "no_id")
    log.info("bundle order %s placed as %s", begun.order.id, what.resource_type)
    return bundle_orders.placed(engine, begun.order, fhir_id, now), False
