"""A local EHR that behaves like a real one: SMART App Launch 2.0 authorization server, FHIR R4 server, an EHR
front page, demo patients and fault switches. The demo and every test run the app against it.

    app = create_sandbox({"ACCESS_TOKEN_LIFETIME": 60})        # settings: see sandbox/settings.py
    app.config["SANDBOX_BASE_URL"] = "http://127.0.0.1:54321"  # once the port is bound
    register_client(app, "sepsis-sentinel", ["http://127.0.0.1:8701/callback"], "http://127.0.0.1:8701/launch")

URLs: FHIR base (the `iss`) `{BASE}/fhir`, discovery `{BASE}/fhir/.well-known/smart-configuration`,
authorization `{BASE}/auth/{authorize,token,jwks,introspect}`, EHR front page `{BASE}/`, faults
`{BASE}/_sandbox/faults` (see sandbox/faults.py).
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta

from flask import Flask, request

from . import faults, replay, users
from .auth import server as auth_server
from .auth.backend import DEFAULT_BACKEND_SCOPE, BackendClient, check_public_jwks
from .auth.keys import SigningKey
from .auth.models import DEFAULT_CLIENT_SCOPE, AuthStore, Client
from .demo_patients import load as load_demo_patients
from .demo_patients import records as demo_records
from .faults import FaultBoard
from .fhir.loader import load_folder
from .fhir.outcome import operation_outcome
from .fhir.pages import Snapshots
from .fhir.store import ResourceStore
from .settings import SandboxConfigError, resolve
from .state import Sandbox

__all__ = ["create_sandbox", "register_backend_client", "register_client", "SandboxConfigError", "faults"]
log = logging.getLogger(__name__)


def create_sandbox(settings: dict | None = None) -> Flask:
    """Build the sandbox EHR app with its data loaded. Raises SandboxConfigError for a bad setting or data path."""
    started = time.perf_counter()
    config = resolve(settings)
    app = Flask(__name__)
    app.config.update(config)
    clock = config["CLOCK"]
    store = ResourceStore()
    sandbox = Sandbox(settings=app.config, store=store, auth=AuthStore(clock), key=SigningKey.generate(),
                      faults=FaultBoard(config["FAULT_SEED"]),
                      snapshots=Snapshots(clock, config["SEARCH_SNAPSHOT_LIFETIME"]))
    app.extensions["sandbox"] = sandbox
    _load_data(sandbox, config)
    auth_server.build(app, sandbox)
    _register_blueprints(app)
    _register_error_handlers(app)
    faults.install(app)
    if sandbox.replay is not None:
        replay.install(app, sandbox.replay)
    sandbox.startup_seconds = time.perf_counter() - started
    log.info("sandbox ready: %d resources, %d demo + %d sample patients, %.2f s", store.count(),
             len(sandbox.demo_patient_ids), len(sandbox.sample_patient_ids), sandbox.startup_seconds)
    return app


def _load_data(sandbox: Sandbox, config: dict) -> None:
    now = datetime.fromtimestamp(float(config["CLOCK"]()), UTC).replace(microsecond=0)
    now_iso = now.isoformat()
    for resource in users.resources():
        resource.setdefault("meta", {}).update({"versionId": "1", "lastUpdated": now_iso})
        sandbox.store.add(resource)
    sandbox.user_ids = [u.practitioner_id for u in users.USERS]
    if config["LOAD_DEMO_PATIENTS"]:
        replay_clock = config["REPLAY_CLOCK"]
        start = datetime.fromtimestamp(float(replay_clock()), UTC).replace(microsecond=0) if replay_clock else now
        ids, resources = load_demo_patients(config["DEMO_PATIENTS_DIR"],
                                            start + timedelta(hours=config["REPLAY_HOURS"]) if replay_clock else now)
        if replay_clock:
            resources, held = replay.split(resources, start)
            sandbox.replay = replay.Replay(replay_clock, held)
        for resource in resources:
            sandbox.store.add(_as_recorded(resource, now_iso))
        sandbox.demo_patient_ids = ids
        sandbox.demo_notes = {r["id"]: r["shows"] for r in demo_records(config["DEMO_PATIENTS_DIR"])}
    if config["CENSUS_PATIENTS"]:
        from .census import load as load_census

        for resource in load_census(int(config["CENSUS_PATIENTS"]), config["CENSUS_HOURS"], now)[1]:
            sandbox.store.add(_as_recorded(resource, now_iso))
    if config["LOAD_SAMPLE_PATIENTS"]:
        try:
            sandbox.sample_patient_ids = load_folder(config["SAMPLE_PATIENTS_DIR"], sandbox.store, now_iso)
        except (OSError, ValueError) as exc:
            raise SandboxConfigError(f"could not load the sample patients from {config['SAMPLE_PATIENTS_DIR']}: "
                                     f"{exc}") from exc


def _as_recorded(resource: dict, now_iso: str) -> dict:
    """Version 1, last updated as the EHR recorded it: an Observation when it was entered (its `issued` time)."""
    recorded = resource.get("issued") if resource.get("resourceType") == "Observation" else None
    resource.setdefault("meta", {}).update({"versionId": "1", "lastUpdated": recorded or now_iso})
    return resource


def _register_blueprints(app: Flask) -> None:
    from .auth.views import bp as auth_bp
    from .ehr.views import bp as ehr_bp
    from .fhir.views import bp as fhir_bp

    app.register_blueprint(auth_bp)
    app.register_blueprint(fhir_bp)
    app.register_blueprint(ehr_bp)


def _register_error_handlers(app: Flask) -> None:
    """Under /fhir every error is an OperationOutcome; elsewhere Flask's plain pages do."""

    def fhir_or_default(error):
        if request.path == "/fhir" or request.path.startswith("/fhir/"):
            from .fhir.views import fhir_response

            return fhir_response(operation_outcome(error.description or error.name,
                                                   "not-found" if error.code == 404 else "not-supported"),
                                 error.code)
        return error

    for code in (404, 405):
        app.register_error_handler(code, fhir_or_default)


def register_client(app: Flask, client_id: str, redirect_uris: list[str] | tuple[str, ...], launch_url: str | None,
                    client_secret: str | None = None, scope: str = DEFAULT_CLIENT_SCOPE,
                    name: str = "Sepsis Sentinel") -> Client:
    """Register (or replace) an app. Public when `client_secret` is None, else confidential-symmetric (HTTP Basic).

    `redirect_uris` match exactly; `launch_url` is where the EHR front page launches the app; `scope` is the most
    the app may ever be granted.
    """
    if not client_id or not redirect_uris:
        raise ValueError("a client needs a client_id and at least one redirect URI")
    client = Client(client_id=client_id, redirect_uris=tuple(redirect_uris), launch_url=launch_url,
                    client_secret=client_secret or None, scope=scope, name=name)
    app.extensions["sandbox"].auth.add_client(client)
    return client


def register_backend_client(app: Flask, client_id: str, *, jwks: dict | None = None, jwks_url: str | None = None,
                            scope: str = DEFAULT_BACKEND_SCOPE, name: str = "Sepsis Sentinel screening") -> BackendClient:
    """Register (or replace) a SMART Backend Services client: its public keys by value (`jwks`) or by URL
    (`jwks_url`, fetched when a token is requested), and the `system/` scopes it may be granted."""
    if not client_id or (jwks is None) == (jwks_url is None):
        raise ValueError("a backend client needs a client_id and exactly one of jwks or jwks_url")
    if jwks is not None:
        check_public_jwks(jwks)
    if scope.split() and any(not s.startswith("system/") for s in scope.split()):
        raise ValueError("a backend client is registered with system/ scopes only")
    client = BackendClient(client_id=client_id, scope=scope, jwks=jwks, jwks_url=jwks_url, name=name)
    app.extensions["sandbox"].auth.add_client(client)
    return client


def register_cds_service(app: Flask, service_url: str | None) -> None:
    """The CDS Hooks service a chart open calls (its patient-view endpoint URL; None: none). The service must know
    this EHR as a client: iss = the sandbox's base URL, JWKS at {base}/ehr/cds-jwks.json."""
    app.config["CDS_SERVICE_URL"] = service_url.rstrip("/") if service_url else None
