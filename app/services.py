"""The one seam between the request handlers and what they use: the database, FHIR access, the model and its card.

Built once per app by `build_services` and kept in `app.extensions["sentinel"]`. Tests and deployments swap a
part by setting it here (a stub `model`, another `model_dir`), never by patching a module.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import requests
import sqlalchemy as sa

from app import db
from app.alerts.policy import Policy, PolicyError
from app.config import ConfigError, Settings
from app.fhir import Transport
from app.fhir.transport import http_session
from app.model.artifact import ARTIFACT_DIR, Model
from app.smart import Launcher, LaunchOptions, Registration, Sealer, Session, SessionStore, load_registration
from app.smart.backend import BackendTokens, backend_tokens
from app.smart.backend_key import BackendKey, load_key, public_jwk_from_file
from app.smart.errors import BackendError
from app.smart.tokens import SessionTokens


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
    # The model the pages score with. None: the shipped artifact, loaded and verified when first scored (its
    # absence then shows as "model unavailable", never as a guess).
    model: Model | None = None
    # Where the model card the transparency, tuning and feedback pages describe is read from (and /readyz checks).
    model_dir: Path = ARTIFACT_DIR

    def clinical_now(self) -> datetime:
        return (self.clinical_clock or self.clock)()

    def transport_for(self, session: Session) -> Transport:
        """A FHIR transport for a launched session: its EHR's base, its tokens (refreshed when they expire), the
        site's timeouts and size limits, on the app's one HTTP session."""
        st = self.settings
        tokens = SessionTokens(self.store, session, self.registration, self.http,
                               (st.fhir_connect_timeout, st.fhir_read_timeout), self.clock)
        return Transport(session.iss, tokens, session=self.http, connect_timeout=st.fhir_connect_timeout,
                         read_timeout=st.fhir_read_timeout, time_budget=st.fhir_time_budget,
                         max_bytes=st.fhir_max_response_bytes, max_entries=st.fhir_max_entries_per_page)


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
