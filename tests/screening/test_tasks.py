"""The screening on procrastinate and PostgreSQL: one job per patient, a queueing lock, retries, two workers at once.

Workers here run in-process until their queue is empty (`wait=False`); tests/screening/test_worker_process.py kills
a real `sentinel worker`-shaped process mid-job.
"""

from __future__ import annotations

import os
import threading
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from app import db
from app.alerts import store
from app.screening import history, tasks
from tests.support.screening import LOCATIONS, in_thread, jobs

pytestmark = pytest.mark.postgres
DEMO = 10


@pytest.fixture
def pg_engine():
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        pytest.skip("TEST_DATABASE_URL not set (scripts/test.sh starts a PostgreSQL and sets it)")
    from tests.support.databases import reset_postgres as _reset_postgres

    _reset_postgres(url)
    engine = db.make_engine(url)
    db.upgrade(engine)
    engine.url_text = url
    yield engine
    engine.dispose()


@pytest.fixture
def queue(pg_engine, ehr, tokens, http, clock):
    from app.fhir import Transport
    from app.screening.cycle import Screening, ScreeningSettings

    settings = ScreeningSettings(iss=f"{ehr.base_url}/fhir", locations=LOCATIONS)
    screening = Screening(pg_engine, settings, lambda: Transport(settings.iss, tokens, session=http, read_timeout=5,
                                                                 time_budget=10, backoff=0.01, max_backoff=0.05),
                          clock=clock)

    def make():
        # The tests defer each cycle themselves: the periodic tick is set where it never fires during a test.
        return tasks.build(pg_engine.url_text, lambda: screening, interval_minutes=15, attempts=3, retry_wait=0,
                           cron="0 0 1 1 *")

    app = make()
    assert tasks.ensure_schema(app, pg_engine) is True
    assert tasks.ensure_schema(app, pg_engine) is False  # a second worker starting finds it there
    app.make, app.engine, app.screening = make, pg_engine, screening
    with app.open():
        yield app


def work(app, concurrency: int = 2) -> None:
    """Workers until no job is left to do (a worker with wait=False stops once it finds its queue empty, which
    can be while a cycle is still queueing its patients). A worker opens and closes the app's connection itself,
    so the app is opened again afterwards for the test's own deferring."""
    for _ in range(5):
        in_thread(lambda: app.run_worker(queues=[tasks.QUEUE], wait=False, concurrency=concurrency,
                                         install_signal_handlers=False))
        app.open()
        if not [j for j in jobs(app.engine) if j["status"] in ("todo", "doing")]:
            return


def scores(engine, cycle_id: int) -> list[dict]:
    t = history.risk_scores
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(t).where(t.c.cycle_id == cycle_id)).mappings()]


def alert_count(engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(store.alerts.c.scope_key, sa.func.count()).group_by(store.alerts.c.scope_key))
        return dict(rows.all())


def tick(app, at: datetime) -> None:
    app.sentinel_tasks["cycle"].defer(timestamp=int(at.timestamp()))


def test_a_tick_queues_one_job_per_patient_and_workers_screen_them_all(queue, clock):
    tick(queue, clock.now)
    work(queue)
    (cycle,) = history.cycle_summaries(queue.engine)
    assert (cycle.runner, cycle.census_size, cycle.queued, cycle.screened, cycle.failed) == (
        "procrastinate", DEMO, DEMO, DEMO, 0)
    done = jobs(queue.engine)
    assert [j["task_name"] for j in done].count("sentinel.screening.patient") == DEMO
    assert {j["status"] for j in done} == {"succeeded"}
    assert all(j["queueing_lock"].startswith("screen:") for j in done if j["task_name"].endswith("patient"))
    assert alert_count(queue.engine) and set(alert_count(queue.engine).values()) == {1}


def test_a_patient_still_queued_from_the_last_cycle_is_not_queued_twice(queue, clock):
    cycle = queue.sentinel_tasks["cycle"]
    first = cycle(timestamp=int(clock.now.timestamp()))  # the census, run here: its jobs wait
    second = cycle(timestamp=int((clock.now + timedelta(minutes=15)).timestamp()))
    summaries = {c.id: c for c in history.cycle_summaries(queue.engine)}
    assert (summaries[first].queued, summaries[first].already_queued) == (DEMO, 0)
    assert (summaries[second].queued, summaries[second].already_queued) == (0, DEMO)
    work(queue)
    assert len(scores(queue.engine, first)) == DEMO and scores(queue.engine, second) == []


def test_two_workers_at_once_raise_no_alert_twice(queue, clock):
    cycle = queue.sentinel_tasks["cycle"]
    cycle(timestamp=int(clock.now.timestamp()))  # the census; two workers take its patients' jobs at once
    other = queue.make()
    other.engine = queue.engine
    threads = [threading.Thread(target=work, args=(app, 2)) for app in (queue, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    clock.now += timedelta(minutes=15)
    cycle(timestamp=int(clock.now.timestamp()))
    threads = [threading.Thread(target=work, args=(app, 2)) for app in (queue, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    summaries = history.cycle_summaries(queue.engine)
    assert [c.screened for c in summaries] == [DEMO, DEMO]
    assert set(alert_count(queue.engine).values()) == {1}
    assert {j["status"] for j in jobs(queue.engine)} == {"succeeded"}


def test_a_patient_job_the_ehr_fails_is_retried_and_only_its_last_failure_is_recorded(queue, clock, faults, ehr):
    faults.set(ehr, "status", status=503, path="/fhir/Patient/demo-102421", times=4)  # the first attempt's reads
    tick(queue, clock.now)
    work(queue, concurrency=1)
    mine = [j for j in jobs(queue.engine) if (j["queueing_lock"] or "").endswith("demo-102421-icu")]
    assert [(j["status"], j["attempts"]) for j in mine] == [("succeeded", 2)]
    (cycle,) = history.cycle_summaries(queue.engine)
    assert (cycle.screened, cycle.failed) == (DEMO, 0)
    faults.set(ehr, "status", status=503, path="/fhir/Patient/demo-108952")  # every attempt fails
    clock.now += timedelta(days=2)  # past the daily full read, so the Patient is read again
    tick(queue, clock.now)
    work(queue, concurrency=1)
    latest = history.cycle_summaries(queue.engine)[0]
    assert (latest.screened, latest.failed) == (DEMO, 1)
    failed = [j for j in jobs(queue.engine) if j["status"] == "failed"]
    assert failed == []  # the last attempt records the failure and ends the job: the next cycle tries again


def test_the_periodic_cycle_runs_every_interval():
    assert tasks.cron_every(15) == "*/15 * * * *" and tasks.cron_every(120) == "0 */2 * * *"
    assert tasks.conninfo("postgresql+psycopg://u:p@h/db?host=/tmp/x") == "postgresql://u:p@h/db?host=%2Ftmp%2Fx"
