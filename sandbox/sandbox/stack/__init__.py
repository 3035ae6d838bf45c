"""The one stack launcher: Sepsis Sentinel and the sandbox EHR side by side on free loopback ports.

- `start_stack`: both in this process (the app under werkzeug's threaded server), SQLite or any database URL, the
  demo's clock and in-process screening on request. The demo, the end-to-end and integration tests and the
  latency benchmarks start this, so the demo a person clicks through is the system the tests drive.
- `start_gunicorn_stack`: the app as production runs it (`sentinel serve`, gunicorn workers) on PostgreSQL (a
  throwaway one unless given), the EHR in a process of its own: the load and memory benchmarks.
- The pieces, for callers that break one part on purpose (the resilience tests): `EhrServer` (in this process,
  its port can go down and come back), `EhrProcess`, `AppProcess` (gunicorn), `Postgres` (stop, restart).

Loopback only; every process started here is stopped by its own pid.
"""

from __future__ import annotations

import os
import tempfile
import threading
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from werkzeug.serving import BaseWSGIServer

from app.config import ROOT

from .clock import DemoClock
from .ehr import EhrProcess, EhrServer, PathOnlyRequestHandler, serve
from .gunicorn import AppProcess, rss_kib
from .postgres import Postgres, postgres_available
from .waiting import free_port, wait_for

__all__ = ["AppProcess", "DemoClock", "EhrProcess", "EhrServer", "GunicornStack", "PathOnlyRequestHandler",
           "Postgres", "Stack", "free_port", "postgres_available", "register_app", "rss_kib", "serve",
           "start_gunicorn_stack", "start_stack", "wait_for"]

BACKEND_CLIENT_ID = "sepsis-sentinel-backend"
DEMO_BACKEND_KEY = ROOT / "instance" / "backend_key.pem"  # gitignored; generated on first start


def register_app(ehr, app_url: str, launch_file: Path | str = ROOT / "smart_launch.json") -> None:
    """The EHR team's side of an app launch: the app's client id, redirect and launch URIs, secret and scopes as
    its SMART launch file declares them, registered with the sandbox Flask app `ehr`."""
    from app.smart import load_registration
    from sandbox import register_client

    reg = load_registration(launch_file)
    register_client(ehr, client_id=reg.client_id, redirect_uris=[reg.redirect_uri(app_url)],
                    launch_url=reg.launch_uri(app_url), client_secret=reg.client_secret,
                    scope=" ".join(sorted(set(reg.ehr_launch_scope.split()) | set(reg.standalone_launch_scope.split()))))


# -- both in this process ---------------------------------------------------------------------------------------

@dataclass
class Stack:
    ehr_url: str  # the sandbox EHR's front page
    fhir_base: str  # its FHIR base, the iss
    app_url: str
    ehr: object  # the sandbox Flask app (fault switches, registrations)
    app: object  # the Sepsis Sentinel Flask app
    backend_key_file: str = ""  # the screening's private key (the demo's generated one unless configured)
    servers: list[BaseWSGIServer] = field(default_factory=list)
    threads: list[threading.Thread] = field(default_factory=list)
    clock: DemoClock | None = None  # the demo clock, when the records replay on one
    scheduler: object = None  # app.screening.scheduler.Scheduler, when the stack screens in-process
    ehr_server: EhrServer | None = None

    def shutdown(self) -> None:
        if self.scheduler is not None:
            self.scheduler.stop()
        for server in self.servers:
            server.shutdown()
        if self.ehr_server is not None:
            self.ehr_server.close()
        for thread in self.threads:
            thread.join(timeout=5)


def start_stack(host: str = "127.0.0.1", ehr_port: int = 0, app_port: int = 0, app_overrides: dict | None = None,
                sandbox_settings: dict | None = None, *, demo_speed: float | None = None, replay_hours: int = 30,
                screen: bool = False, token_source=None) -> Stack:
    """Bind both servers (port 0 = any free port), register the app with the EHR, serve in daemon threads.

    `demo_speed` (hours per real minute): the sandbox replays the last `replay_hours` of each demo record on a demo
    clock that runs that fast, and the app scores on it. `screen`: the background screening runs in-process on
    the ICU units (token: `token_source`, else the app's backend client)."""
    from app import create_app
    from sandbox import register_backend_client, register_cds_service

    clock = DemoClock(demo_speed, fast_hours=replay_hours) if demo_speed else None
    sandbox_settings = dict(sandbox_settings or {})
    if clock is not None:
        sandbox_settings.update(REPLAY_CLOCK=clock.epoch, REPLAY_HOURS=replay_hours)
    if screen:
        from sandbox.users import MICU_ID, SICU_ID

        app_overrides = {"screen_locations": (f"Location/{MICU_ID}", f"Location/{SICU_ID}"),
                         **(app_overrides or {})}
    ehr_server = EhrServer(sandbox_settings, host, ehr_port)
    ehr, ehr_url, fhir_base = ehr_server.app, ehr_server.base_url, ehr_server.fhir_base

    # Bind the app's port first so its public URL (and redirect URI) is known before the app is built.
    try:
        app_server = serve(host, app_port, _placeholder)
    except OSError:
        ehr_server.close()
        raise
    app_url = f"http://{host}:{app_server.server_port}"
    overrides = {"iss_allowlist": (fhir_base,), "public_url": app_url, "frame_ancestors": ("'self'", ehr_url),
                 "cds_clients": {ehr_url: f"{ehr_url}/ehr/cds-jwks.json"},  # the EHR as a CDS Hooks client
                 **_backend_overrides(fhir_base, app_overrides or {}), **(app_overrides or {})}
    app = create_app(overrides)
    app_server.app = app
    services = app.extensions["sentinel"]
    settings = services.settings
    # The EHR team's side of Backend Services: the screening client, known by the app's JWKS URL.
    if settings.backend_client_id:
        register_backend_client(ehr, settings.backend_client_id, jwks_url=f"{app_url}/.well-known/jwks.json",
                                scope=settings.backend_scopes)
    register_app(ehr, app_url, settings.smart_launch_file)
    register_cds_service(ehr, f"{app_url}/cds-services/sepsis-sentinel")  # a chart open calls the hook
    if clock is not None:
        clock.zone = services.clock().tzinfo  # the site's zone, as every time the app shows
        services.clinical_clock = clock
    stack = Stack(ehr_url=ehr_url, fhir_base=fhir_base, app_url=app_url, ehr=ehr, app=app,
                  backend_key_file=settings.backend_key_file, clock=clock, ehr_server=ehr_server)
    thread = threading.Thread(target=app_server.serve_forever, daemon=True)
    thread.start()
    stack.servers.append(app_server)
    stack.threads.append(thread)
    if screen:
        stack.scheduler = start_screening(services, token_source or services.backend, settings.backend_fhir_base)
    return stack


def _backend_overrides(fhir_base: str, given: dict) -> dict:
    """The demo's backend client against the sandbox; a key generated into instance/ unless one is configured."""
    from app.smart.backend_key import load_key

    out = {"backend_client_id": BACKEND_CLIENT_ID, "backend_fhir_base": fhir_base}
    configured = given.get("backend_key") or given.get("backend_key_file") or os.environ.get(
        "SENTINEL_BACKEND_KEY") or os.environ.get("SENTINEL_BACKEND_KEY_FILE")
    if not configured:
        try:
            load_key(generate_into=DEMO_BACKEND_KEY)
        except FileExistsError:  # another demo process made it a moment ago
            pass
        out["backend_key_file"] = str(DEMO_BACKEND_KEY)
    return out


def start_screening(services, token_source, fhir_base: str):
    """The in-process schedule of the same cycle `sentinel worker` runs (app.screening)."""
    from app.screening.scheduler import Scheduler
    from app.screening.setup import screening_for

    screening = screening_for(services, token_source, fhir_base)
    return Scheduler(screening, timedelta(minutes=services.settings.screen_interval_minutes)).start()


def _placeholder(environ, start_response):  # pragma: no cover - replaced before serving starts
    start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
    return [b"starting"]


# -- the app under gunicorn -------------------------------------------------------------------------------------

@dataclass
class GunicornStack:
    ehr: EhrProcess
    app: AppProcess
    workdir: Path  # the processes' logs
    postgres: Postgres | None = None  # the throwaway server, when the stack started one

    @property
    def ehr_url(self) -> str:
        return self.ehr.base_url

    @property
    def app_url(self) -> str:
        return self.app.url

    def gunicorn_pids(self) -> tuple[int, list[int]]:
        """(master pid, worker pids) of the app."""
        return self.app.proc.pid, self.app.workers()

    def stop(self) -> None:
        self.app.stop()
        self.ehr.close()
        if self.postgres is not None:
            self.postgres.close()


def start_gunicorn_stack(*, workers: int = 2, threads: int = 8, database_url: str | None = None,
                         sample_patients: bool = False, log_level: str = "WARNING",
                         env: dict | None = None) -> GunicornStack:
    """The sandbox EHR in its own process, a PostgreSQL (throwaway unless `database_url`), the app under gunicorn
    (`workers` x `threads`) registered with the EHR; `env` adds SENTINEL_* settings."""
    from app.smart import load_registration

    workdir = Path(tempfile.mkdtemp(prefix="sentinel-stack-"))
    postgres = Postgres() if database_url is None else None
    ehr = app = None
    try:
        ehr_port, app_port = free_port(), free_port()
        app_url = f"http://127.0.0.1:{app_port}"
        reg = load_registration(ROOT / "smart_launch.json")
        scope = " ".join(sorted(set(reg.ehr_launch_scope.split()) | set(reg.standalone_launch_scope.split())))
        options = ["--register-client", reg.client_id, "--redirect-uri", reg.redirect_uri(app_url),
                   "--launch-url", reg.launch_uri(app_url), "--scope", scope]
        if not sample_patients:
            options.append("--no-sample-patients")
        ehr = EhrProcess(ehr_port, options, workdir / "ehr.log")
        app = AppProcess(ehr, database_url or postgres.database("stack"), workdir / "app.log", workers=workers,
                         threads=threads, port=app_port, env=env, timeout=60, log_level=log_level)
    except BaseException:
        for started in (ehr, postgres):
            if started is not None:
                started.close()
        raise
    return GunicornStack(ehr=ehr, app=app, workdir=workdir, postgres=postgres)
