"""One screening cycle: read the census, then screen each patient on it through the ONE scoring path.

    cycle = Screening(engine, settings, transports, model=..., policy=..., clock=...)
    cycle.run(due_at)                      # the demo's in-process scheduler: census and every patient, here
    cycle.start(due_at) -> (id, census)    # procrastinate: the census here, each patient as a job (tasks.py)
    cycle.screen(cycle_id, entry)          # one patient: read what is new, score, raise into the alert store

A patient whose data cannot be read is recorded as failed (with the FHIR error code) and the others go on; the
window is not advanced for it, so the next cycle reads everything it missed. Every screening, score or abstention
is a row of `risk_scores`; an alert the screening raises (or resumes after a pause) is audited with the system as
actor. A token the EHR refuses is logged as an error and recorded on the cycle, never swallowed.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from app import audit
from app.alerts import store
from app.alerts.policy import Policy
from app.alerts.workflow import ACTIVE, Scope
from app.assessment import Assessed, assess_and_sync, resolve_model
from app.fhir import FhirError, FhirRequestRejected, Transport
from app.fhir.encounters import Census, CensusEntry, read_census
from app.model import Model
from app.ops import logs, metrics

from . import history, window
from .history import FAILED, SCREENING

log = logging.getLogger(__name__)

SYSTEM_ACTOR = "system/screening"  # audit_log.user_ref for what the screening does on its own
SYSTEM_ROLE = "system"


@dataclass(frozen=True)
class ScreeningSettings:
    iss: str  # the FHIR base screened
    locations: tuple[str, ...]  # "Location/<id>" each
    lookback_hours: int = 72
    page_size: int = 200
    max_pages: int = 20
    census_max_pages: int = 50


def error_code(exc: BaseException) -> str:
    """A short code for logs and the operations view: the FHIR error's, the token source's, else the type."""
    code = getattr(exc, "code", None) or getattr(exc, "log_code", None)
    return str(code)[:64] if code else type(exc).__name__[:64]


def error_text(exc: BaseException) -> str:
    """A sentence for the deployment team, with the technical detail (the errors' own messages and details carry
    no PHI or tokens)."""
    message, detail = getattr(exc, "message", None), getattr(exc, "detail", None)
    text = " ".join(p for p in (str(message) if message else "", f"({detail})" if detail else "") if p)
    return text[:500] or type(exc).__name__


class Screening:
    """Screening for one FHIR base. `transports()` gives a fresh Transport per patient (its time budget covers
    one patient's reads). `clock()` is the clinical now (the demo's runs fast), `wall()` the real UTC time."""

    def __init__(self, engine: sa.Engine, settings: ScreeningSettings, transports: Callable[[], Transport], *,
                 model: Model | None = None, policy: Policy | None = None, clock: Callable[[], datetime],
                 wall: Callable[[], datetime] = history.wall_now, after_score: Callable[..., object] | None = None):
        self.engine, self.settings, self.transports = engine, settings, transports
        # Called after each stored scoring with (transport, scope, window, assessed, alert before, now): the
        # write-back to the EHR (app.writeback) when the site turns it on.
        self.after_score = after_score
        self.model, self.unavailable = resolve_model(model)
        self.policy, self.clock, self.wall = policy, clock, wall

    def scope(self, entry: CensusEntry) -> Scope:
        """An encounter's alerts on this FHIR server (the page's scope for the same patient and encounter)."""
        return Scope(iss=self.settings.iss, patient_id=entry.patient_id, encounter_id=entry.encounter_id)

    @property
    def lookback(self) -> timedelta:
        return timedelta(hours=self.settings.lookback_hours)

    # -- the census ---------------------------------------------------------------------------------------------

    def start(self, due_at: datetime, runner: str) -> tuple[int, Census | None]:
        """Open a cycle and read its census; (cycle id, census), the census None when it could not be read."""
        cycle_id = history.open_cycle(self.engine, iss=self.settings.iss, runner=runner, due_at=due_at)
        with logged_as(cycle_id, "screening:census"):
            return self._census(cycle_id)

    def _census(self, cycle_id: int) -> tuple[int, Census | None]:
        transport = self.transports()
        try:
            census = read_census(transport, self.settings.locations, now=self.clock(),
                                 page_size=self.settings.page_size,
                                 max_pages=self.settings.census_max_pages)
        except Exception as exc:  # FHIR down, token refused, ...: recorded and shown, the schedule goes on
            log.error("screening cycle %s: census not read: %s (%s)", cycle_id, error_code(exc),
                      getattr(exc, "detail", None) or type(exc).__name__)
            history.census_read(self.engine, cycle_id, size=None, complete=False,
                                fhir_requests=transport.round_trips, error=error_code(exc), error_text=error_text(exc))
            return cycle_id, None
        if census.complete:  # discharged or transferred off the units: their windows are not kept
            window.drop_others(self.engine, self.settings.iss,
                               {self.scope(e).key for e in census.entries})
        history.census_read(self.engine, cycle_id, size=len(census.entries), complete=census.complete,
                            fhir_requests=transport.round_trips)
        return cycle_id, census

    def queued(self, cycle_id: int, queued: int, already_queued: int) -> None:
        sc = history.screening_cycles
        with self.engine.begin() as conn:
            conn.execute(sc.update().where(sc.c.id == cycle_id).values(queued=queued, already_queued=already_queued))

    def run(self, due_at: datetime, runner: str = "in-process") -> int:
        """The whole cycle in this thread: the census, then each patient in turn. `due_at`: when the schedule
        wanted it, on the wall clock (the operations view's lag). Returns the cycle id."""
        started = self.wall()
        cycle_id, census = self.start(due_at, runner)
        failed = 0
        if census is not None:
            self.queued(cycle_id, len(census.entries), 0)
            failed = sum(self.screen(cycle_id, entry) == FAILED for entry in census.entries)
        metrics.screening_cycle((self.wall() - started).total_seconds(), max(0.0, (started - due_at).total_seconds()),
                                failed + (census is None))
        return cycle_id

    # -- one patient --------------------------------------------------------------------------------------------

    def screen(self, cycle_id: int | None, entry: CensusEntry, *, final_attempt: bool = True) -> str:
        """Screen one census patient: the outcome recorded (scored | abstained | unavailable | failed).

        When the data cannot be read and this is not the job's last attempt, the FhirError is raised (the task
        engine retries with backoff) and nothing is recorded; on the last attempt the failure is recorded.
        """
        with logged_as(cycle_id, "screening:patient"):
            return self._screen(cycle_id, entry, final_attempt)

    def _screen(self, cycle_id: int | None, entry: CensusEntry, final_attempt: bool) -> str:
        started, cpu = time.perf_counter(), time.thread_time()
        now, wall = self.clock(), self.wall()
        scope = self.scope(entry)
        transport = self.transports()
        try:
            read = self._read(transport, scope, entry.patient_id, now, wall)
            measurements = read.window.measurements(now, self.lookback)
            window.save(self.engine, self.settings.iss, scope.key, entry.encounter_id, read.window,
                        changed=read.changed)
            before = store.newest(self.engine, scope)
            assessed = assess_and_sync(
                self.engine, scope, measurements, now, source=SCREENING, model=self.model,
                unavailable_reason=self.unavailable, policy=self.policy,
                care_unit=lambda: entry.location_display or entry.location,
                icu_admitted_at=entry.icu_admitted_at, cycle_id=cycle_id, read=read.kind,
                fhir_requests=read.fhir_requests, duration_ms=_ms(started), cpu_ms=_cpu_ms(cpu),
                location=entry.location, location_display=entry.location_display)
        except FhirError as exc:
            if not final_attempt:
                raise
            log.warning("screening: patient not read (%s), %d FHIR requests", exc.code, transport.round_trips)
            return self._failed(cycle_id, scope, now, transport, started, cpu, exc.code)
        except Exception as exc:  # a bug or a broken token source: this patient fails, the others go on
            if not final_attempt:
                raise
            log.error("screening: patient failed (%s)", error_code(exc))
            return self._failed(cycle_id, scope, now, transport, started, cpu, error_code(exc))
        self._audit(scope, before, assessed, now, cycle_id)
        if self.after_score is not None:
            self.after_score(transport, scope, read.window, assessed, before, now)
        return history.outcome_of(assessed.verdict.level)

    def _read(self, transport: Transport, scope: Scope, patient_id: str, now: datetime, wall: datetime):
        s = self.settings
        stored = window.load(self.engine, s.iss, scope.key)
        options = dict(lookback=self.lookback, page_size=s.page_size, max_pages=s.max_pages, wall=wall)
        if stored is not None and now - stored.full_read_at < window.FULL_READ_EVERY:
            try:
                return window.incremental_read(transport, stored, now, **options)
            except FhirRequestRejected as exc:  # the server refuses _lastUpdated: read the whole window
                log.info("screening: incremental read refused (%s); full read", exc.detail)
        return window.full_read(transport, patient_id, now, **options)

    def _failed(self, cycle_id, scope: Scope, now, transport, started, cpu, code: str) -> str:
        history.record_score(self.engine, iss=self.settings.iss, scope_key=scope.key, patient_id=scope.patient_id,
                             encounter_id=scope.encounter_id, at=now, source=SCREENING, cycle_id=cycle_id,
                             fhir_requests=transport.round_trips, duration_ms=_ms(started), cpu_ms=_cpu_ms(cpu),
                             error=code)
        return FAILED

    def _audit(self, scope: Scope, before: store.AlertRecord | None, assessed: Assessed, now: datetime,
               cycle_id: int | None) -> None:
        """An alert the screening raised or resumed, audited with the system as the actor."""
        alert = assessed.alert
        if alert is None or alert.state != ACTIVE:
            return
        if before is not None and before.id == alert.id and before.state == ACTIVE:
            return
        action = "raise_alert" if before is None or before.id != alert.id else "resume_alert"
        audit.record(self.engine, at=now, user_ref=SYSTEM_ACTOR, role=SYSTEM_ROLE, patient_id=scope.patient_id,
                     action=action, target=f"alert/{alert.id}",
                     detail={"cycle": cycle_id, "iss": self.settings.iss, "level": assessed.verdict.level})
        log.info("screening %s alert %s (cycle %s)", action, alert.id, cycle_id)


@contextlib.contextmanager
def logged_as(cycle_id: int | None, what: str):
    """Log lines (the FHIR transport's too) carry `screening-<cycle>` where a page's carry its request id."""
    tokens = logs.bind_request(f"screening-{cycle_id}", what)
    try:
        yield
    finally:
        logs.unbind(tokens)


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


def _cpu_ms(started: float) -> int:
    return int((time.thread_time() - started) * 1000)
