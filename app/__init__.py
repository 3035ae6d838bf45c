"""Sepsis Sentinel. `create_app` reads like a table of contents: settings, database, SMART, web."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import requests
import sqlalchemy as sa
from flask import Flask

from app import db
from app.alerts.policy import Policy, PolicyError
from app.config import ROOT, ConfigError, Settings, load_settings
from app.fhir.transport import http_session, observe_round_trips
from app.ops import logs
from app.ops import metrics as ops_metrics
from app.smart import Launcher, LaunchOptions, Registration, Sealer, SessionStore, load_registration
from app.smart.backend import BackendTokens, backend_tokens
from app.smart.backend_key import BackendKey, load_key, public_jwk_from_file
from app.smart.errors import BackendError


def site_clock(zone_name: str) -> Callable[[], datetime]:
    """Now, in the site's zone: every time the app shows or reads from a form is in it (storage is UTC)."""
    if zone_name:
        zone = ZoneInfo(zone_name)
        return lambda: datetime.now(zone)
    return lambda: datetime.now(UTC).astimezone()  # the server's zone


@dataclass
class Services:
    """What request handlers need, built once per app. Holds no per-user state: that lives in the database."""

    settings: Settings
    engine: sa.Engine
    registration: Registration
    store: SessionStore
    launcher: Launcher
    http: requests.Session
    clock: Callable[[], datetime]
    policy: Policy
    # SMART Backend Services (background screening): the signing key whose public half /.well-known/jwks.json
    # publishes, and the shared, cached system-token source. None when no backend client is configured.
    backend_key: BackendKey | None = None
    backend: BackendTokens | None = None
    backend_jwks: dict | None = None  # what the JWKS URL serves: the signing key's public half, then any others
    # The time patients are scored at: the clock itself, except in the demo, whose sandbox replays the records on a
    # faster clock (the sandbox's DemoClock): sessions, tokens and forms keep real time, the data and its scoring
    # move faster.
    clinical_clock: Callable[[], datetime] | None = None

    def clinical_now(self) -> datetime:
        return (self.clinical_clock or self.clock)()


def create_app(overrides: dict | None = None) -> Flask:
    overrides = dict(overrides or {})
    clock = overrides.pop("clock", None)
    clinical_clock = overrides.pop("clinical_clock", None)
    settings = load_settings(overrides)
    clock = clock or site_clock(settings.site_timezone)
    logs.configure(settings.log_format, settings.log_level)

    app = Flask(__name__, template_folder=str(ROOT / "templates"), static_folder=str(ROOT / "static"))
    app.config.update(SECRET_KEY=settings.secret_key, TESTING=settings.testing,
                      MAX_CONTENT_LENGTH=64 * 1024, SEND_FILE_MAX_AGE_DEFAULT=3600)
    app.extensions["sentinel"] = build_services(settings, clock)
    app.extensions["sentinel"].clinical_clock = clinical_clock
    register_operations(app)
    register_blueprints(app)
    register_security(app)
    register_errorhandlers(app)
    return app


def build_services(settings: Settings, clock: Callable[[], datetime]) -> Services:
    key = backend_key(settings)  # first: a broken key stops the start before anything is opened
    jwks = backend_jwks(settings, key)
    engine = db.make_engine(settings.database_url)
    if settings.auto_migrate:
        db.upgrade(engine, settings.iss_allowlist)
    else:
        db.check_schema(engine)
    registration = load_registration(settings.smart_launch_file)
    store = SessionStore(engine, Sealer(settings.secret_key), idle=timedelta(minutes=settings.session_idle_minutes),
                         max_age=timedelta(hours=settings.session_max_hours),
                         pending_ttl=timedelta(minutes=settings.pending_launch_minutes),
                         pending_per_client=settings.pending_launches_per_client,
                         pending_max=settings.pending_launches_max)
    http = http_session(max_bytes=settings.fhir_max_response_bytes, seconds=settings.fhir_time_budget)
    options = LaunchOptions(iss_allowlist=settings.iss_allowlist, require_https=settings.env == "production",
                            roles=settings.roles, timeout=(settings.fhir_connect_timeout, settings.fhir_read_timeout))
    launcher = Launcher(registration, store, http, options, clock)
    return Services(settings=settings, engine=engine, registration=registration, store=store, launcher=launcher,
                    http=http, clock=clock, policy=alert_policy(settings), backend_key=key,
                    backend=backend_tokens(settings, http, key), backend_jwks=jwks)


def backend_key(settings: Settings) -> BackendKey | None:
    """The backend signing key, read once at start, so a missing or broken key stops the app with a clear message."""
    if not (settings.backend_key or settings.backend_key_file):
        return None
    try:
        return load_key(settings.backend_key_file, settings.backend_key)
    except BackendError as exc:
        raise ConfigError(exc.detail) from None


def backend_jwks(settings: Settings, key: BackendKey | None) -> dict | None:
    if key is None:
        return None
    try:
        others = [public_jwk_from_file(path) for path in settings.backend_also_publish]
    except BackendError as exc:
        raise ConfigError(exc.detail) from None
    return {"keys": [key.public_jwk(), *(k for k in others if k["kid"] != key.kid)]}


def alert_policy(settings: Settings) -> Policy:
    try:
        return Policy.from_dict(settings.alert_policy) if settings.alert_policy else Policy()
    except PolicyError as exc:
        raise ConfigError(f"SENTINEL_ALERT_POLICY: {exc}") from None


def register_blueprints(app: Flask) -> None:
    from app.web import (
        adoption,
        alerts,
        board,
        bundle,
        cds,
        chrome,
        feedback,
        home,
        jwks,
        launch,
        operations,
        patient,
        transparency,
        tuning,
    )

    for module in (home, launch, patient, alerts, bundle, feedback, transparency, tuning, adoption, jwks, chrome,
                   operations, cds, board):
        app.register_blueprint(module.bp)


def register_operations(app: Flask) -> None:
    """Request ids, access lines and metrics for every request; /livez, /readyz, /metrics."""
    from app.web import ops

    observe_round_trips(ops_metrics.fhir_request)
    ops.init_app(app)


def register_security(app: Flask) -> None:
    from app.web import security

    security.init_app(app)


def register_errorhandlers(app: Flask) -> None:
    from app.web import errors

    errors.init_app(app)
