"""The page's panels that change after an action, as frozen view models: the provider's alert panel, the nurse
screening, the treatment bundle with one order cell per element, and the headline. Each is built from the database
alone (no FHIR), so a decision's fragment never costs a round trip; a page load hands in what it already read (the
alert, the latest screening, the bundle's status) so nothing is read twice. Who may act, and the sentence that
says why not, come from `app.roles`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from app import roles
from app.alerts import store
from app.alerts.policy import ABSTAIN, UNAVAILABLE
from app.alerts.workflow import DISMISS_REASONS, PAUSE_CHOICES, WITHDRAW_REASONS
from app.bundle import BundleStatus, FluidDefaults
from app.bundle import orders as bundle_orders
from app.nursing import form as screenings

from .headline import Headline, headline
from .nursing_assessment import NursingAssessment
from .page_context import PageContext

_UNREAD = object()  # an argument the caller did not read: the panel reads it (a fragment); None means "none"


def new_submission_id() -> str:
    """A one-time id per rendered form: a resubmission of the same form is recorded once."""
    return uuid.uuid4().hex


# -- the provider's panel ----------------------------------------------------------------------------------

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


def alert_panel(engine: sa.Engine, ctx: PageContext, now: datetime, *, alert=_UNREAD, level: str | None = None,
                screening=_UNREAD, **extra) -> AlertPanel:
    """The provider evaluation section from the database (no FHIR): the scope's newest alert and its actions.
    `alert` and `screening`: the scope's newest alert (None: there is none) and latest nurse screening, when the
    caller has read them already."""
    return AlertPanel(
        patient_id=ctx.patient_id, alert=store.newest(engine, ctx.scope) if alert is _UNREAD else alert, level=level,
        can_decide=roles.may(ctx.role, "decide_on_alerts"),
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


def screening_panel(engine: sa.Engine, ctx: PageContext, now: datetime, *, latest=_UNREAD,
                    **extra) -> ScreeningPanel:
    """The nurse screening form and the latest screening (`latest`, when the caller has read it already)."""
    can = roles.may(ctx.role, "submit_the_nurse_screening")
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
    def build(cls, ctx: PageContext, alert_id: int, element: str, record: bundle_orders.OrderRecord | None, *,
              orderable: bool, now: datetime, notice: str | None = None, error: str | None = None,
              choice: str | None = None, review: FluidDefaults | None = None) -> OrderCell:
        can = roles.may(ctx.role, "place_orders")
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
    ctx: PageContext
    notes: tuple[str, ...]
    now: datetime

    @property
    def can_order(self) -> bool:
        return roles.may(self.ctx.role, "place_orders")

    @property
    def why_disabled(self) -> str | None:
        return roles.why_not(self.ctx.role, "place_orders")

    def cell(self, element) -> OrderCell:
        record = self.orders.get(element.key)
        orderable = (record.retryable(self.now) if record else element.orderable)
        review = FluidDefaults.of(self.status.weight_kg, self.status.weight_time) if self.status else None
        return OrderCell.build(self.ctx, self.alert.id, element.key, record, orderable=orderable, now=self.now,
                               review=review)


def bundle_panel(engine: sa.Engine, ctx: PageContext, now: datetime, alert: store.AlertRecord | None,
                 status: BundleStatus | None, notes: tuple[str, ...] = ()) -> BundlePanel:
    return BundlePanel(patient_id=ctx.patient_id, alert=alert, status=status,
                       orders=bundle_orders.for_alert(engine, alert.id, alert.iss) if alert else {}, ctx=ctx, notes=notes,
                       now=now)


# -- the headline ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class HeadlinePanel:
    """Where the alert stands (app.bedside.headline), as its fragment takes it; refreshed after every decision."""

    patient_id: str
    headline: Headline


def headline_panel(ctx: PageContext, now: datetime, alert: store.AlertRecord | None,
                   assessment: NursingAssessment | None = None) -> HeadlinePanel:
    """From the page's assessment when there is one; a fragment refresh words the risk from the alert's record."""
    if assessment is not None:
        words = headline(assessment.level, assessment.probability, assessment.threshold, alert, now)
        if assessment.finding is not None and words.kind in (ABSTAIN, UNAVAILABLE):
            # No score, but organ dysfunction or shock in the data: the finding is the page's first line.
            words = Headline(assessment.finding.level, assessment.finding.headline, words.title)
        return HeadlinePanel(ctx.patient_id, words)
    return HeadlinePanel(ctx.patient_id, headline(None, None, None, alert, now))
