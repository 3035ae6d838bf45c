"""Prometheus metrics: what the app counts, and the text exposition that `GET /metrics` serves.

Under gunicorn several worker processes serve requests, and a scrape reaches one of them. So `sentinel serve`
points PROMETHEUS_MULTIPROC_DIR at an emptied folder before gunicorn forks; each worker then writes its values
to files there, a scrape adds up every worker's files (prometheus_client's multiprocess mode), and gunicorn's
`child_exit` hook marks a dead worker's files (app/ops/gunicorn_conf.py). Without the variable (the demo, tests)
values live in this process.

Two families are read from the database at scrape time, so they count what every process and instance did
(the screening worker included), and are the same whichever instance is scraped (take max(), not sum(), over
instances): alert events by kind (raised, confirmed, dismissed, paused, resumed, lapsed), and feedback
waiting for an answer.

The recording functions below are the API the rest of the app calls; they never raise into a request.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from pathlib import Path

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import multiprocess as _multiprocess
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST

log = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST

# Seconds. A page waits on the EHR (tens of ms to the 20 s FHIR budget); a fragment or decision takes a few ms.
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 60.0)
FHIR_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0)
CYCLE_BUCKETS = (0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)

_registry = CollectorRegistry(auto_describe=True)  # this process's metrics (single-process mode)

HTTP_REQUESTS = Histogram(
    "sentinel_http_request_duration_seconds", "HTTP requests served, by route (URL rule), method and status",
    ["route", "method", "status"], buckets=HTTP_BUCKETS, registry=_registry)
FHIR_REQUESTS = Histogram(
    "sentinel_fhir_request_duration_seconds",
    "FHIR round trips to the EHR, by resource type, method and outcome (HTTP status, timeout, connection_error)",
    ["resource", "method", "outcome"], buckets=FHIR_BUCKETS, registry=_registry)
LAUNCHES = Counter("sentinel_launches", "SMART launches completed (ok) or refused (the error code)", ["outcome"],
                   registry=_registry)
ASSESSMENTS = Counter(
    "sentinel_assessments",
    "Risk assessments by level: alert, watch, low (a score), abstain (too little data), unavailable (no model)",
    ["level"], registry=_registry)
SCREENING_CYCLES = Histogram("sentinel_screening_cycle_duration_seconds", "Background screening cycles, by duration",
                             buckets=CYCLE_BUCKETS, registry=_registry)
SCREENING_FAILURES = Counter("sentinel_screening_patient_failures",
                             "Patients a screening cycle could not screen (FHIR or scoring failed)", registry=_registry)
CDS_CALLS = Counter("sentinel_cds_calls",
                    "CDS Hooks calls: answered (from the stored screening or the prefetch, with or without a card) "
                    "or refused (the reason code, e.g. jwt_replayed, unknown_client)", ["outcome", "path"],
                    registry=_registry)
SCREENING_LAG = Gauge("sentinel_screening_lag_seconds",
                      "How far behind schedule the newest screening cycle started", registry=_registry,
                      multiprocess_mode="mostrecent")


def _safe(record):
    """Metrics must never break what they measure: a recording error is logged, not raised."""
    def wrapper(*args, **kwargs):
        try:
            record(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - see docstring
            log.warning("metric not recorded: %s (%s)", record.__name__, type(exc).__name__)
    wrapper.__name__, wrapper.__doc__ = record.__name__, record.__doc__
    return wrapper


@_safe
def http_request(route: str, method: str, status: int, seconds: float) -> None:
    """One HTTP request served (route = the URL rule, never the raw path)."""
    HTTP_REQUESTS.labels(route, method, str(status)).observe(seconds)


@_safe
def fhir_request(resource: str, method: str, outcome: str, seconds: float) -> None:
    """One FHIR round trip (app.fhir.transport calls this through its observer)."""
    FHIR_REQUESTS.labels(resource, method, outcome).observe(seconds)


@_safe
def launch(outcome: str) -> None:
    """A launch completed ("ok") or was refused (its error code, e.g. "iss_not_allowed")."""
    LAUNCHES.labels(outcome).inc()


@_safe
def assessment(level: str) -> None:
    """One risk assessment: "alert", "watch", "low", "abstain" or "unavailable"."""
    ASSESSMENTS.labels(level).inc()


@_safe
def cds_call(outcome: str, path: str = "") -> None:
    """One CDS Hooks call: outcome "card" | "no_card" | a refusal's code; path "stored" | "prefetch" | ""."""
    CDS_CALLS.labels(outcome, path).inc()


@_safe
def screening_cycle(duration: float, lag: float, failures: int = 0) -> None:
    """One background screening cycle: how long it took (s), how late it started against its schedule (s), and
    how many patients it could not screen."""
    SCREENING_CYCLES.observe(duration)
    SCREENING_LAG.set(lag)
    if failures:
        SCREENING_FAILURES.inc(failures)


# -- multiprocess mode (gunicorn) ------------------------------------------------------------------------------

def prepare_multiprocess_dir(path: str | Path) -> Path:
    """The folder for the workers' metric files, without the files a previous run left (they would count
    again). Only prometheus_client's own *.db files are removed, whatever else the folder holds."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    for stale in path.glob("*.db"):
        stale.unlink()
    return path


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def worker_exited(pid: int) -> None:
    """gunicorn's child_exit: the dead worker's live gauges stop counting (its counters still do)."""
    if multiprocess_dir():
        _multiprocess.mark_process_dead(pid)


# -- values read from the database at scrape time --------------------------------------------------------------

class DatabaseCollector:
    """Alert events by kind, feedback waiting for an answer, and the newest background screening cycle (whichever
    process ran it: a `sentinel worker` serves no metrics of its own), read from the database when scraped."""

    def __init__(self, engine: sa.Engine):
        self.engine = engine

    def collect(self) -> Iterable[Metric]:
        from app.alerts.store import alert_events
        from app.feedback.store import feedback

        up = GaugeMetricFamily("sentinel_database_up", "1 when the scrape could read the database")
        try:
            with self.engine.connect() as conn:
                events = conn.execute(sa.select(alert_events.c.kind, sa.func.count())
                                      .group_by(alert_events.c.kind)).all()
                waiting = conn.execute(sa.select(sa.func.count()).select_from(feedback)
                                       .where(feedback.c.status == "new")).scalar_one()
        except sa.exc.SQLAlchemyError as exc:
            log.warning("metrics: database not readable (%s)", type(exc).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        alerts = CounterMetricFamily("sentinel_alert_events", "Alert events in the database, by kind", labels=["kind"])
        for kind, n in sorted(events):
            alerts.add_metric([kind], n)
        yield alerts
        yield GaugeMetricFamily("sentinel_feedback_waiting", "Feedback items with status new (no answer yet)",
                                value=waiting)
        yield from self._screening()

    def _screening(self) -> Iterable[Metric]:
        from app.screening.history import cycle_summaries

        try:
            cycles = cycle_summaries(self.engine, limit=2)
        except sa.exc.SQLAlchemyError as exc:
            log.warning("metrics: screening cycles not readable (%s)", type(exc).__name__)
            return
        # The newest cycle may still be running: its figures are those of the one before, unless it failed.
        done = next((c for c in cycles if c.error or (c.census_size is not None and c.pending == 0)), None)
        if done is None:
            return
        yield GaugeMetricFamily("sentinel_screening_last_cycle_duration_seconds",
                                "The newest finished screening cycle: start to last patient screened",
                                value=done.duration.total_seconds() if done.duration else 0.0)
        yield GaugeMetricFamily("sentinel_screening_last_cycle_lag_seconds",
                                "The newest finished screening cycle: when due to last patient screened",
                                value=done.lag.total_seconds() if done.lag else 0.0)
        yield GaugeMetricFamily("sentinel_screening_last_cycle_failed_patients",
                                "Patients the newest finished screening cycle could not read", value=done.failed)
        yield GaugeMetricFamily("sentinel_screening_last_cycle_census_failed",
                                "1 when the newest screening cycle could not read its census (EHR down, token "
                                "refused)", value=1 if done.error else 0)


def exposition(engine: sa.Engine | None) -> bytes:
    """The Prometheus text format: every worker's values (multiprocess) or this process's, plus the database's."""
    registry = CollectorRegistry(auto_describe=True)
    if multiprocess_dir():
        _multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_registry)
    if engine is not None:
        registry.register(DatabaseCollector(engine))
    return generate_latest(registry)
