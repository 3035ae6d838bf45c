"""A screening worker in a process of its own, as `sentinel worker` runs one, for tests that kill it or restart the
database under it. Configured by the environment: WORKER_DATABASE_URL, WORKER_FHIR_BASE, WORKER_TOKEN (a token the
sandbox issued), WORKER_LOCATIONS (comma-separated), WORKER_READ_TIMEOUT. The periodic cycle is set to new year (never during a test):
the tests defer each cycle themselves."""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime

from app import db
from app.fhir import StaticToken, Transport
from app.fhir.transport import http_session
from app.screening import tasks
from app.screening.cycle import Screening, ScreeningSettings


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    env = os.environ
    engine = db.make_engine(env["WORKER_DATABASE_URL"])
    settings = ScreeningSettings(iss=env["WORKER_FHIR_BASE"], locations=tuple(env["WORKER_LOCATIONS"].split(",")))
    token, http = StaticToken(env["WORKER_TOKEN"]), http_session()
    screening = Screening(engine, settings, lambda: Transport(settings.iss, token, session=http,
                                                              read_timeout=float(env.get("WORKER_READ_TIMEOUT", 10)),
                                                              time_budget=120),
                          clock=lambda: datetime.now(UTC))
    # The tests defer each cycle themselves: the periodic tick is set where it never fires during a test.
    app = tasks.build(env["WORKER_DATABASE_URL"], lambda: screening, interval_minutes=15, attempts=3, retry_wait=0,
                      cron="0 0 1 1 *")
    tasks.ensure_schema(app, engine)
    tasks.work_forever(app, restart_after=1.0, queues=[tasks.QUEUE], concurrency=2, name=f"test-worker-{os.getpid()}",
                       update_heartbeat_interval=0.5, fetch_job_polling_interval=0.5)


if __name__ == "__main__":
    main()
