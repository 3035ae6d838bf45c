"""The screening on procrastinate (PostgreSQL's own task queue, in the database the app already uses).

- `cycle`: a periodic task every SENTINEL_SCREEN_INTERVAL_MINUTES. However many workers run, procrastinate defers
  each tick once (its periodic_defers table is unique per task and time). It reads the census and defers one
  `patient` job per encounter.
- `patient`: screens one encounter. Its queueing lock refuses a second job for an encounter whose previous one still
  waits (a slow EHR never piles up jobs), and its lock keeps two workers from screening one patient at once. When
  the EHR fails it is retried with exponential backoff; only the last attempt's failure is recorded.
- `retry_stalled`: every minute, jobs whose worker stopped sending heartbeats (killed mid-job) are queued again.
  Screening the patient twice raises nothing twice: the alert store allows one alert per encounter.

`sentinel worker` (app/screening/worker.py) runs any number of these processes, on any number of machines.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

import procrastinate
import sqlalchemy as sa
from procrastinate.exceptions import AlreadyEnqueued

from app.fhir.encounters import CensusEntry

from .cycle import Screening

log = logging.getLogger(__name__)

QUEUE = "screening"
STALLED_AFTER_SECONDS = 30  # a worker silent this long (heartbeats every 10 s) is taken for dead


def conninfo(database_url: str) -> str:
    """libpq's connection string for procrastinate's own psycopg pool, from the app's SQLAlchemy URL."""
    url = sa.engine.make_url(database_url)
    if not url.drivername.startswith("postgresql"):
        raise ValueError("the task queue needs PostgreSQL (SENTINEL_DATABASE_URL=postgresql+psycopg://...)")
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def cron_every(minutes: int) -> str:
    """A cron line for "every `minutes` minutes" (minutes dividing an hour or a day run evenly)."""
    if minutes < 60:
        return f"*/{minutes} * * * *"
    return f"0 */{max(1, minutes // 60)} * * *"


def lock_key(screening: Screening, entry: CensusEntry) -> str:
    return f"screen:{screening.settings.iss}:Encounter/{entry.encounter_id}"


def build(database_url: str, screening: Callable[[], Screening], *, interval_minutes: int, attempts: int,
          cron: str | None = None, retry_wait: float = 2, stalled_after: float = STALLED_AFTER_SECONDS
          ) -> procrastinate.App:
    """The procrastinate App with the screening's tasks; `screening()` gives the process's Screening. A failed
    patient job waits `retry_wait` ** (attempt + 1) seconds before its next attempt."""
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=conninfo(database_url)))

    @app.task(name="sentinel.screening.patient", queue=QUEUE, pass_context=True,
              retry=procrastinate.RetryStrategy(max_attempts=attempts - 1, exponential_wait=retry_wait))
    def patient(context, cycle_id: int, patient_id: str, encounter_id: str, location: str,
                location_display: str | None = None, icu_admitted_at: str | None = None) -> str:
        entry = CensusEntry(patient_id, encounter_id, location, location_display,
                            datetime.fromisoformat(icu_admitted_at) if icu_admitted_at else None)
        final = context.job.attempts >= attempts - 1
        return screening().screen(cycle_id, entry, final_attempt=final)

    @app.periodic(cron=cron or cron_every(interval_minutes), periodic_id="cycle")
    @app.task(name="sentinel.screening.cycle", queue=QUEUE)
    def cycle(timestamp: int) -> int:
        s = screening()
        cycle_id, census = s.start(datetime.fromtimestamp(timestamp, UTC), runner="procrastinate")
        if census is None:
            return cycle_id
        queued = already = 0
        for entry in census.entries:
            key = lock_key(s, entry)
            try:
                patient.configure(queueing_lock=key, lock=key).defer(
                    cycle_id=cycle_id, patient_id=entry.patient_id, encounter_id=entry.encounter_id,
                    location=entry.location, location_display=entry.location_display,
                    icu_admitted_at=entry.icu_admitted_at.isoformat() if entry.icu_admitted_at else None)
                queued += 1
            except AlreadyEnqueued:
                already += 1
        s.queued(cycle_id, queued, already)
        log.info("screening cycle %s: %d patients queued, %d still queued from before", cycle_id, queued, already)
        return cycle_id

    @app.periodic(cron="* * * * *", periodic_id="stalled")
    @app.task(name="sentinel.screening.retry_stalled", queue=QUEUE)
    async def retry_stalled(timestamp: int) -> int:
        stalled = await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=stalled_after)
        for job in stalled:
            await app.job_manager.retry_job(job)
        if stalled:
            log.warning("screening: %d job(s) of a stopped worker queued again", len(stalled))
        return len(stalled)

    app.sentinel_tasks = {"patient": patient, "cycle": cycle, "retry_stalled": retry_stalled}
    return app


def ensure_schema(app: procrastinate.App, engine: sa.Engine) -> bool:
    """Create procrastinate's tables on first use (under an advisory lock: several workers may start at once).
    True when they were created now."""
    with engine.begin() as conn:
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext('sentinel.procrastinate.schema'))"))
        exists = conn.execute(sa.text("SELECT to_regclass('procrastinate_jobs')")).scalar() is not None
        if exists:
            return False
        # procrastinate's schema file as one script, in this transaction (its migrations apply to later versions)
        with conn.connection.dbapi_connection.cursor() as cursor:  # no parameters: the script's % stay as written
            cursor.execute(app.schema_manager.get_schema())
    log.info("procrastinate schema created")
    return True


def work_forever(app: procrastinate.App, *, restart_after: float = 5.0, **options) -> None:
    """Run a worker until SIGTERM or SIGINT. procrastinate stops a worker whose database connection fails (a
    PostgreSQL restart, a failover): this starts it again after `restart_after` seconds, logging each stop as an
    error, so a screening worker never ends silently. A job it was running is taken up again by retry_stalled."""
    import asyncio
    import signal

    async def supervise() -> None:
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        current: list[asyncio.Task] = []

        def stop() -> None:
            stopping.set()
            for task in current:
                task.cancel()

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop)
        while not stopping.is_set():
            try:
                async with app.open_async():
                    current[:] = [asyncio.create_task(app.run_worker_async(install_signal_handlers=False, **options))]
                    await current[0]
            except asyncio.CancelledError:
                if stopping.is_set():
                    break
                raise
            except Exception as exc:  # the database gone: procrastinate's ConnectorException, psycopg's errors
                log.error("screening worker stopped: %s; starting again in %g s", type(exc).__name__, restart_after)
            else:
                if not stopping.is_set():
                    log.error("screening worker stopped (its database connection failed); starting again in %g s",
                              restart_after)
            if not stopping.is_set():
                try:
                    await asyncio.wait_for(stopping.wait(), restart_after)
                except TimeoutError:
                    pass
        log.info("screening worker stopped on request")

    asyncio.run(supervise())
