"""`sentinel worker`: one procrastinate worker process for the background screening. Run as many as the census
needs, on as many machines as share the PostgreSQL database; each runs the periodic cycle (deferred once per tick
whatever their number) and the patients' jobs. Stop with SIGTERM or Ctrl-C: a job in progress finishes first."""

from __future__ import annotations

import argparse
import logging

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--concurrency", type=int, default=None,
                        help="patients this process screens at once (default SENTINEL_SCREEN_WORKER_CONCURRENCY)")
    parser.add_argument("--name", default=None, help="a name for this worker in the logs (default: host and pid)")


def services_and_screening():
    """The app's services and the Screening they configure (the backend client's FHIR base and token)."""
    from app.config import load_settings
    from app.screening.setup import screening_for
    from app.services import build_services, site_clock

    settings = load_settings()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    services = build_services(settings, site_clock(settings.site_timezone))
    return services, screening_for(services, services.backend, settings.backend_fhir_base)


def run(args: argparse.Namespace) -> int:
    import os
    import socket

    from app.config import ConfigError
    from app.screening import tasks
    from app.screening.setup import NotConfigured

    try:
        services, screening = services_and_screening()
    except (ConfigError, NotConfigured) as exc:
        print(f"sentinel worker: {exc}")
        return 2
    st = services.settings
    if not st.database_url.startswith("postgresql"):
        print("sentinel worker: the task queue runs on PostgreSQL; set SENTINEL_DATABASE_URL=postgresql+psycopg://... "
              "(the demo screens in-process instead: `sentinel-sandbox demo`)")
        return 2
    app = tasks.build(st.database_url, lambda: screening, interval_minutes=st.screen_interval_minutes,
                      attempts=st.screen_retries)
    tasks.ensure_schema(app, services.engine)
    name = args.name or f"{socket.gethostname()}-{os.getpid()}"
    log.info("screening worker %s: every %d min, %s, concurrency %d", name, st.screen_interval_minutes,
             ",".join(st.screen_locations), args.concurrency or st.screen_worker_concurrency)
    tasks.work_forever(app, queues=[tasks.QUEUE], concurrency=args.concurrency or st.screen_worker_concurrency,
                       name=name)
    return 0
