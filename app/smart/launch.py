"""The SMART App Launch, start to finish: /launch builds the authorize redirect, /callback turns the code into a
server-side session. Views call `begin` and `complete`; everything they need to decide lives here."""

from __future__ import annotations

import contextvars
import logging
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

import requests
import sqlalchemy as sa

from .context import User, resolve_user
from .discovery import SmartConfiguration, check_iss, discover
from .errors import AuthorizationDenied, ContextMissing, NotForPatients
from .idtoken import verify_id_token
from .oauth import FHIR_ID, authorize_url, exchange_code, new_pkce_verifier
from .registration import Registration
from .sessions import PendingLaunch, Session, SessionStore
from .style import fetch_style

log = logging.getLogger(__name__)
PATIENT_FACING = frozenset({"Patient", "RelatedPerson"})  # fhirUser types that are not the care team


@dataclass(frozen=True)
class LaunchOptions:
    iss_allowlist: tuple[str, ...]
    require_https: bool
    roles: dict[str, str]
    timeout: tuple[float, float]


def unit_of(fhir_context: tuple[str, ...]) -> str | None:
    """The first Location reference in a launch's fhirContext: the unit a user-level launch is for."""
    return next((ref for ref in fhir_context if ref.startswith("Location/")), None)


@dataclass(frozen=True)
class Launched:
    session_id: str
    session: Session
    user: User
    app_context: str | None = None  # as the token response carried it (TokenSet.app_context): untrusted
    fhir_context: tuple[str, ...] = ()


class Launcher:
    def __init__(self, registration: Registration, store: SessionStore, http: requests.Session,
                 options: LaunchOptions, clock: Callable[[], datetime]):
        self.reg, self.store, self.http, self.options, self.clock = registration, store, http, options, clock
        # Threads start on first use (after a pre-forking server forks); a read that times out ends on its own.
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="smart-read")

    def begin(self, iss: str | None, launch: str | None, public_url: str,
              client: str | None = None) -> tuple[str, str]:
        """Validate iss, discover, store the pending launch; return (authorize URL, browser-binding secret)."""
        iss = check_iss(iss or "", self.options.iss_allowlist, self.options.require_https)
        if launch is not None and not (0 < len(launch) <= 2048):
            raise ContextMissing(detail="launch parameter empty or too long")
        config = discover(iss, self.http, self.options.timeout, self.options.require_https)
        state, browser_secret = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        verifier, nonce = new_pkce_verifier(), secrets.token_urlsafe(24)
        pending = PendingLaunch(iss=iss, launch=launch, code_verifier=verifier, nonce=nonce,
                                endpoints=config.as_dict())
        self.store.save_pending(state, browser_secret, pending, self.clock(), client=client)
        scope = self.reg.ehr_launch_scope if launch else self.reg.standalone_launch_scope
        url = authorize_url(self.reg, config.authorization_endpoint, self.reg.redirect_uri(public_url),
                            scope=scope, state=state, code_verifier=verifier, aud=iss, nonce=nonce, launch=launch)
        log.info("launch begun: mode=%s", "ehr" if launch else "standalone")
        return url, browser_secret

    def complete(self, *, state: str | None, code: str | None, error: str | None, browser_secret: str | None,
                 public_url: str, on_session: Callable[[sa.Connection, Session], None] | None = None) -> Launched:
        """Consume the state once, exchange the code, verify identity and context, open a session.
        `on_session(conn, session)` runs in the transaction that stores the session (e.g. its audit row)."""
        now = self.clock()
        pending = self.store.consume_pending(state, browser_secret, now)
        if error or not code:
            # Only RFC 6749 error-code characters reach the log (section 4.1.2.1: %x20-21 / %x23-5B / %x5D-7E):
            # a newline in ?error= would otherwise write a forged line into it.
            shown = "".join(c if c.isalnum() or c in "_-." else "?" for c in str(error or "")[:40])
            raise AuthorizationDenied(detail=f"authorize returned error={shown}")
        config = SmartConfiguration.from_dict(pending.endpoints)
        tokens = exchange_code(self.reg, config.token_endpoint, self.reg.redirect_uri(public_url), code,
                               pending.code_verifier, self.http, self.options.timeout, now)
        if not tokens.patient and not unit_of(tokens.fhir_context):
            # A patient is required, except for a user-level launch into a unit (the unit board): the EHR names
            # the unit as a Location in fhirContext (SMART App Launch 2). That session is bound to no patient.
            raise ContextMissing(detail="token response has no patient")
        identity = verify_id_token(tokens.id_token, jwks_uri=config.jwks_uri, issuer=config.issuer, iss=pending.iss,
                                   client_id=self.reg.client_id, nonce=pending.nonce, http=self.http,
                                   timeout=self.options.timeout, now=now.timestamp())
        # The EHR's style is read beside the user's Practitioner and roles: the launch waits for the slower only.
        style = self._pool.submit(contextvars.copy_context().run, fetch_style, tokens.smart_style_url, pending.iss,
                                  self.http, self.options.timeout)
        read = self._reader(pending.iss, tokens.access_token)
        user = resolve_user(identity.fhir_user, pending.iss, read, self.options.roles, fallback_name=identity.name,
                            read_both=self._at_once(read), now=now)
        if user.ref.split("/")[0] in PATIENT_FACING:
            raise NotForPatients(detail=f"fhirUser is a {user.ref.split('/')[0]}")
        display = {"need_patient_banner": tokens.need_patient_banner is not False, "style": style.result()}
        session_id, session = self.store.create(iss=pending.iss, token_endpoint=config.token_endpoint,
                                                tokens=tokens, user_ref=user.ref, user_name=user.name,
                                                role=user.role, now=now, display=display, also=on_session)
        log.info("launch complete: role=%s", user.role)
        return Launched(session_id=session_id, session=session, user=user, app_context=tokens.app_context,
                        fhir_context=tokens.fhir_context)

    def _at_once(self, read: Callable[[str, dict | None], dict | None]):
        """Two independent FHIR reads in parallel: one on a pool thread, one on this one (a launch waits for
        the slower, not for both)."""

        def read_both(first: tuple[str, dict | None], second: tuple[str, dict | None]):
            # in a copy of this context, so the pool thread's log lines carry the request's id
            later = self._pool.submit(contextvars.copy_context().run, read, *second)
            return read(*first), later.result()

        return read_both

    def _reader(self, iss: str, access_token: str) -> Callable[[str, dict | None], dict | None]:
        """GET on this FHIR base only; None when the resource is absent or not allowed (the user stays read-only)."""

        def read(path: str, params: dict | None) -> dict | None:
            parts = path.split("/")
            if not (1 <= len(parts) <= 2 and parts[0].isalpha() and all(FHIR_ID.fullmatch(p) for p in parts[1:])):
                return None
            try:
                resp = self.http.get(f"{iss}/{path}", params=params, timeout=self.options.timeout,
                                     headers={"Authorization": f"Bearer {access_token}",
                                              "Accept": "application/fhir+json"},
                                     allow_redirects=False)  # the bearer token never follows a redirect
                if resp.status_code != 200:
                    return None
                doc = resp.json()
            except (requests.RequestException, ValueError, RecursionError):
                return None
            return doc if isinstance(doc, dict) else None

        return read
