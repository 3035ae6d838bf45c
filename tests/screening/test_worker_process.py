"""A real worker process under faults: killed mid-job (the job is queued again, nothing raised twice), and the
PostgreSQL server restarted under it (it goes on screening)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app import db
from app.alerts import store
from app.screening import history, tasks
from tests.support.screening import LOCATIONS, in_thread, jobs

pytestmark = pytest.mark.postgres
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def pg(postgres):
    """A PostgreSQL of our own (the shared throwaway one): these tests restart it."""
    return postgres


@pytest.fixture
def setup(pg, ehr, tokens, clock, tmp_path):
    url = pg.database("screening")
    engine = db.make_engine(url)
    db.upgrade(engine)
    workers = []

    def start_worker(read_timeout: float = 10) -> subprocess.Popen:
        env = {**os.environ, "WORKER_DATABASE_URL": url, "WORKER_FHIR_BASE": f"{ehr.base_url}/fhir",
               "WORKER_TOKEN": tokens.access_token(), "WORKER_LOCATIONS": ",".join(LOCATIONS),
               "WORKER_READ_TIMEOUT": str(read_timeout)}
        path = tmp_path / f"worker-{len(workers)}.log"
        with path.open("wb") as log:  # the child keeps its own copy of the descriptor
            proc = subprocess.Popen([sys.executable, "-m", "tests.screening.worker_process"], cwd=ROOT,  # noqa: S603
                                    env=env, stdout=log, stderr=subprocess.STDOUT)
        proc.log_path = path
        workers.append(proc)
        return proc

    app = tasks.build(url, lambda: None, interval_minutes=15, attempts=3, stalled_after=1, cron="0 0 1 1 *")
    app.engine, app.url, app.start_worker = engine, url, start_worker
    tasks.ensure_schema(app, engine)
    with app.open():
        yield app
    for proc in workers:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(20)
    engine.dispose()


def wait_until(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    found = None
    while time.monotonic() < deadline:
        try:
            found = condition()
        except sa.exc.OperationalError:  # the database restarting
            found = None
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what} (last: {found!r})")


def defer_patient(app, cycle_id: int, patient: str) -> None:
    key = f"screen:test:Encounter/{patient}-icu"
    app.sentinel_tasks["patient"].configure(queueing_lock=key, lock=key).defer(
        cycle_id=cycle_id, patient_id=patient, encounter_id=f"{patient}-icu", location=LOCATIONS[1])


def test_a_worker_killed_mid_job_leaves_the_job_to_be_done_again_and_nothing_is_raised_twice(setup, ehr, faults,
                                                                                            clock):
    engine = setup.engine
    cycle_id = history.open_cycle(engine, iss=f"{ehr.base_url}/fhir", runner="procrastinate", due_at=clock.now)
    faults.set(ehr, "delay", seconds=8, path="/fhir/Observation", times=1)  # holds the job mid-read
    defer_patient(setup, cycle_id, "demo-102421")
    worker = setup.start_worker(read_timeout=30)
    wait_until(lambda: [j for j in jobs(engine) if j["status"] == "doing"], 60, "the job to start")
    worker.send_signal(signal.SIGKILL)
    worker.wait(10)
    time.sleep(1.5)  # the dead worker's last heartbeat grows older than stalled_after (1 s)

    async def retry():
        async with setup.open_async():
            return await setup.sentinel_tasks["retry_stalled"](timestamp=0)

    retried = []
    in_thread(lambda: retried.append(asyncio.run(retry())))  # a loop of its own (see test_tasks.in_thread)
    assert retried and retried[0] >= 1  # the patient's job (and a periodic job it ran beside, at a minute's tick)
    setup.open()
    assert [j["status"] for j in jobs(engine) if j["task_name"].endswith("patient")] == ["todo"]
    setup.start_worker()
    wait_until(lambda: {j["status"] for j in jobs(engine) if j["task_name"].endswith("patient")} == {"succeeded"},
               60, "the job to be done again")
    t = history.risk_scores
    with engine.connect() as conn:
        rows = conn.execute(sa.select(t.c.outcome).where(t.c.cycle_id == cycle_id)).scalars().all()
    assert len(rows) == 1 and rows[0] in ("scored", "abstained")
    with engine.connect() as conn:
        raised = conn.execute(sa.select(sa.func.count()).select_from(store.alerts)).scalar()
    assert raised <= 1


def test_a_worker_goes_on_screening_after_postgresql_restarts(setup, pg, ehr, clock):
    engine = setup.engine
    worker = setup.start_worker()
    setup.sentinel_tasks["cycle"].defer(timestamp=int(clock.now.timestamp()))
    wait_until(lambda: [(c.census_size, c.screened, c.error) for c in history.cycle_summaries(engine)] == [
        (10, 10, None)], 60, "the first cycle")
    pg.restart()
    later = clock.now + timedelta(minutes=15)
    wait_until(lambda: setup.sentinel_tasks["cycle"].defer(timestamp=int(later.timestamp())) or True, 30,
               "the database back")
    try:
        wait_until(lambda: (s := history.cycle_summaries(engine)) and len(s) == 2 and s[0].screened == 10, 90,
                   "the cycle after the restart")
    except AssertionError:
        print(worker.log_path.read_text()[-6000:])
        raise
    assert {j["status"] for j in jobs(engine)} <= {"succeeded"}
