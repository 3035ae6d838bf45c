"""`sentinel demo`: the sandbox EHR and the app side by side on loopback, SQLite, nothing else to set up.

`start_stack` is also what the integration and end-to-end tests and the benchmarks start, so the demo a
person clicks through is the same system the tests drive.
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from app.config import ROOT

BACKEND_CLIENT_ID = "sepsis-sentinel-backend"
DEMO_BACKEND_KEY = ROOT / "instance" / "backend_key.pem"  # gitignored; generated on first start


class PathOnlyRequestHandler(WSGIRequestHandler):
    """Access log lines without query strings: they carry authorization codes, launch ids and state."""

    def log_request(self, code="-", size="-") -> None:
        self.log("info", '"%s %s" %s %s', self.command, self.path.split("?", 1)[0], code, size)


def serve(host: str, port: int, app) -> BaseWSGIServer:
    return make_server(host, port, app, threaded=True, request_handler=PathOnlyRequestHandler)


class DemoClock:
    """The demo's clinical time: starts at the real time and runs `speed` hours per real minute for `fast_hours`
    (the replayed hours: the sandbox replays the records on it, and the app scores on it), then at real speed, so
    the last values age as they would on a ward. Sessions, tokens and forms keep real time."""

    def __init__(self, speed: float, zone: tzinfo | None = None, real: Callable[[], float] = time.time, *,
                 fast_hours: float = 30.0):
        if not 0 < speed <= 600:
            raise ValueError("the demo speed must be between 0 and 600 hours per minute")
        self.factor, self.zone, self.real = speed * 60.0, zone, real
        self.fast_seconds = fast_hours * 3600
        self.t0 = self.start = real()

    def epoch(self) -> float:
        elapsed = self.real() - self.t0
        fast = min(elapsed * self.factor, self.fast_seconds)
        return self.start + fast + max(0.0, elapsed - self.fast_seconds / self.factor)

    def __call__(self) -> datetime:
        return datetime.fromtimestamp(self.epoch(), self.zone or UTC)


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

    def shutdown(self) -> None:
        if self.scheduler is not None:
            self.scheduler.stop()
        for server in self.servers:
            server.shutdown()
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
    from app.smart import load_registration
    from sandbox import create_sandbox, register_backend_client, register_cds_service, register_client

    clock = DemoClock(demo_speed, fast_hours=replay_hours) if demo_speed else None
    sandbox_settings = dict(sandbox_settings or {})
    if clock is not None:
        sandbox_settings.update(REPLAY_CLOCK=clock.epoch, REPLAY_HOURS=replay_hours)
    if screen:
        from sandbox.users import MICU_ID, SICU_ID

        app_overrides = {"screen_locations": (f"Location/{MICU_ID}", f"Location/{SICU_ID}"),
                         **(app_overrides or {})}
    ehr = create_sandbox(sandbox_settings)
    ehr_server = serve(host, ehr_port, ehr)
    ehr_url = f"http://{host}:{ehr_server.server_port}"
    ehr.config["SANDBOX_BASE_URL"] = ehr_url
    fhir_base = f"{ehr_url}/fhir"

    # Bind the app's port first so its public URL (and redirect URI) is known before the app is built.
    app_server = serve(host, app_port, _placeholder)
    app_url = f"http://{host}:{app_server.server_port}"
    overrides = {"iss_allowlist": (fhir_base,), "public_url": app_url, "frame_ancestors": ("'self'", ehr_url),
                 "cds_clients": {ehr_url: f"{ehr_url}/ehr/cds-jwks.json"},  # the EHR as a CDS Hooks client
                 **_backend_overrides(fhir_base, app_overrides or {}), **(app_overrides or {})}
    app = create_app(overrides)
    app_server.app = app
    settings = app.extensions["sentinel"].settings
    # The EHR team's side of Backend Services: the screening client, known by the app's JWKS URL.
    if settings.backend_client_id:
        register_backend_client(ehr, settings.backend_client_id, jwks_url=f"{app_url}/.well-known/jwks.json",
                                scope=settings.backend_scopes)
    reg = load_registration(app.extensions["sentinel"].settings.smart_launch_file)
    register_client(ehr, client_id=reg.client_id, redirect_uris=[reg.redirect_uri(app_url)],
                    launch_url=reg.launch_uri(app_url), client_secret=reg.client_secret,
                    scope=" ".join(sorted(set(reg.ehr_launch_scope.split()) | set(reg.standalone_launch_scope.split()))))
    register_cds_service(ehr, f"{app_url}/cds-services/sepsis-sentinel")  # a chart open calls the hook
    services = app.extensions["sentinel"]
    if clock is not None:
        clock.zone = services.clock().tzinfo  # the site's zone, as every time the app shows
        services.clinical_clock = clock
    stack = Stack(ehr_url=ehr_url, fhir_base=fhir_base, app_url=app_url, ehr=ehr, app=app,
                  backend_key_file=settings.backend_key_file, clock=clock)
    for server in (ehr_server, app_server):
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        stack.servers.append(server)
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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default loopback only)")
    parser.add_argument("--ehr-port", type=int, default=8700, help="sandbox EHR port (0 = any free port)")
    parser.add_argument("--app-port", type=int, default=8701, help="Sepsis Sentinel port (0 = any free port)")
    parser.add_argument("--db", default=str(ROOT / "instance" / "demo.db"), help="SQLite file for the demo")
    parser.add_argument("--demo-speed", type=float, default=2.0,
                        help="hours of the demo patients' records replayed per real minute (default 2; 0 = no "
                             "replay: every record ends now)")
    parser.add_argument("--replay-hours", type=int, default=30,
                        help="how many of each record's last hours arrive after the start (default 30)")


def run(args: argparse.Namespace) -> int:
    Path(args.db).parent.mkdir(parents=True, exist_ok=True)
    try:
        stack = start_stack(args.host, args.ehr_port, args.app_port, {"database_url": f"sqlite:///{args.db}"},
                            demo_speed=args.demo_speed or None, replay_hours=args.replay_hours, screen=True)
    except OSError as exc:
        print(f"Could not start the demo: {exc}. Another program may be using port {args.ehr_port} or "
              f"{args.app_port}; try `sentinel demo --ehr-port 0 --app-port 0`.")
        return 1
    print("\nSepsis Sentinel demo is running.\n")
    print(f"  Open the sandbox EHR:  {stack.ehr_url}/")
    print("  Pick a user (nurse, provider or deployment team) and a patient, then press 'Open Sepsis Sentinel'.\n")
    print(f"  (App: {stack.app_url}   FHIR base / iss: {stack.fhir_base}   Database: {args.db})")
    print(f"  Background screening signs in as {BACKEND_CLIENT_ID} with the key in {stack.backend_key_file}")
    print(f"  (public half: {stack.app_url}/.well-known/jwks.json).")
    if stack.clock is not None:
        print(f"  The records replay at {args.demo_speed:g} h per minute; background screening runs every "
              f"{stack.app.extensions['sentinel'].settings.screen_interval_minutes} demo minutes. Within minutes "
              "a septic patient gets an alert nobody asked for.")
        print(f"  Screening cycles: {stack.app_url}/operations/screening (as the deployment team)")
    print("  Press Ctrl-C to stop.\n", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        print("\nStopping.")
    finally:
        stack.shutdown()
    return 0
