"""SMART Backend Services, client side: system access tokens for the background screening, no user involved.

SMART App Launch 2, "Backend Services": the app POSTs `grant_type=client_credentials` to the token endpoint with a
`client_assertion` (a JWT signed with its private key, `private_key_jwt`, client-confidential-asymmetric): header
`alg` ES384 or RS384, `kid`, `typ` JWT (optionally `jku`, which must equal the registered JWKS URL); claims `iss` =
`sub` = client id, `aud` = the token endpoint, `exp` at most five minutes ahead, `jti` unique. The token endpoint
comes from `{fhir_base}/.well-known/smart-configuration`, which must offer `private_key_jwt` with our algorithm.
The answer has no refresh token: when the access token nears its end, a new assertion gets a new one.

`BackendTokens` is an `app.fhir.tokens.TokenSource`, so `Transport(base, BackendTokens(...))` reads FHIR with
it: the token is cached until shortly before it expires, and the Transport's one 401 retry calls `refresh()`.
Neither the assertion nor the token is ever logged.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import requests
from joserfc import jwt

from .backend_key import BackendKey
from .discovery import SmartConfiguration, check_iss, discover
from .errors import (
    BackendKeyInvalid,
    BackendTokenRefused,
    BackendTokenUnavailable,
    BackendUnsupported,
    DiscoveryFailed,
)

log = logging.getLogger(__name__)

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
AUTH_METHOD = "private_key_jwt"
# The spec allows at most 300 s; 240 s leaves a minute for our clock running ahead of the server's.
ASSERTION_LIFETIME = 240
# When the server omits expires_in: the spec recommends tokens of at most 300 s, so assume that.
DEFAULT_TOKEN_LIFETIME = 300
MAX_MARGIN = 60.0  # seconds before expiry a cached token is replaced
MARGIN_FRACTION = 0.2  # ... but never more than this share of the token's lifetime
DEFAULT_SCOPE = "system/Patient.rs system/Encounter.rs system/Observation.rs system/Location.rs"


def renewal_margin(lifetime: float) -> float:
    """How long before expiry to stop using a token: up to a minute, scaled down for short tokens, always less
    than the lifetime itself (a 10 s token is used for 8 s, a 300 s token for 240 s, an hour's for 59 min)."""
    return min(MAX_MARGIN, max(lifetime, 0.0) * MARGIN_FRACTION)


def signed_assertion(key: BackendKey, client_id: str, token_endpoint: str, now: float, *,
                     lifetime: int = ASSERTION_LIFETIME, jku: str | None = None) -> str:
    """The client assertion JWT: iss = sub = client id, aud = token endpoint, exp <= 5 min, a fresh random jti."""
    if not 0 < lifetime <= 300:
        raise ValueError("a client assertion lives at most 300 seconds (SMART Backend Services)")
    header = key.header()
    if jku:
        header["jku"] = jku
    claims = {"iss": client_id, "sub": client_id, "aud": token_endpoint, "iat": int(now),
              "exp": int(now) + lifetime, "jti": secrets.token_urlsafe(32)}
    return jwt.encode(header, claims, key.key, algorithms=[key.alg])


@dataclass(frozen=True)
class _Token:
    value: str
    expires_at: float  # when it stops being used (expiry minus the margin), on our clock
    scope: str


class BackendTokens:
    """A thread-safe, cached source of system access tokens for one FHIR base (a `TokenSource`).

    `fhir_base` must be on `iss_allowlist`. `scope` is space-separated SMART v2 system scopes. Nothing is
    fetched until the first `access_token()`. Failures raise a `BackendError`: `BackendTokenRefused` (the server
    said no: fix the registration), `BackendUnsupported` (no private_key_jwt with our alg),
    `BackendTokenUnavailable` (network or 5xx: try later, `temporary` is True).
    """

    def __init__(self, fhir_base: str, client_id: str, key: BackendKey, http: requests.Session, *,
                 scope: str = DEFAULT_SCOPE, iss_allowlist: tuple[str, ...] = (), require_https: bool = True,
                 timeout: tuple[float, float] = (3.05, 10.0), clock: Callable[[], float] = time.time,
                 jku: str | None = None):
        if not client_id:
            raise ValueError("a backend client needs its client id")
        self.fhir_base = check_iss(fhir_base, iss_allowlist, require_https)
        self.client_id = client_id
        self.scope = " ".join(scope.split())
        self._key = key
        self._http = http
        self._require_https = require_https
        self._timeout = timeout
        self._clock = clock
        self._jku = jku
        self._lock = threading.Lock()
        self._token: _Token | None = None
        self.requests_made = 0  # token requests sent, for the operations view and tests

    def __repr__(self) -> str:  # never the token
        return f"BackendTokens(client_id={self.client_id!r}, fhir_base={self.fhir_base!r})"

    @property
    def granted_scope(self) -> str | None:
        """What the server granted with the current token (it may grant less than asked), or None."""
        token = self._token
        return token.scope if token else None

    def access_token(self) -> str:
        with self._lock:
            token = self._token
            if token is None or self._clock() >= token.expires_at:
                token = self._token = self._fetch()
            return token.value

    def refresh(self) -> str | None:
        """A new token at once (after a 401: the server no longer honours the one we hold)."""
        with self._lock:
            self._token = None
            self._token = self._fetch()
            return self._token.value

    def configuration(self) -> SmartConfiguration:
        """The FHIR base's SMART configuration, checked to offer Backend Services with our key's algorithm."""
        try:
            config = discover(self.fhir_base, self._http, self._timeout, self._require_https)
        except DiscoveryFailed as exc:
            raise BackendTokenUnavailable(detail=f"discovery: {exc.detail}") from None
        if AUTH_METHOD not in config.token_endpoint_auth_methods:
            raise BackendUnsupported(detail="token_endpoint_auth_methods_supported lacks private_key_jwt")
        if self._key.alg not in config.token_endpoint_auth_signing_algs:
            raise BackendUnsupported(detail=f"token_endpoint_auth_signing_alg_values_supported lacks {self._key.alg}")
        if config.grant_types and "client_credentials" not in config.grant_types:
            raise BackendUnsupported(detail="grant_types_supported lacks client_credentials")
        return config

    def _fetch(self) -> _Token:
        endpoint = self.configuration().token_endpoint
        now = self._clock()
        data = {"grant_type": "client_credentials", "scope": self.scope, "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": signed_assertion(self._key, self.client_id, endpoint, now, jku=self._jku)}
        self.requests_made += 1
        started = time.perf_counter()
        try:
            resp = self._http.post(endpoint, data=data, headers={"Accept": "application/json"},
                                   timeout=self._timeout, allow_redirects=False)
        except requests.RequestException as exc:
            log.warning("backend_token_unavailable client=%s error=%s", self.client_id, type(exc).__name__)
            raise BackendTokenUnavailable(detail=type(exc).__name__) from None
        body = _json_object(resp)
        if resp.status_code in (400, 401, 403):
            error = str(body.get("error", "")) or "no error code"
            log.error("backend_token_refused client=%s status=%d error=%s", self.client_id, resp.status_code, error)
            raise BackendTokenRefused(detail=f"HTTP {resp.status_code} {error}: "
                                             f"{str(body.get('error_description', ''))[:200]}")
        if resp.status_code != 200:
            log.warning("backend_token_unavailable client=%s status=%d", self.client_id, resp.status_code)
            raise BackendTokenUnavailable(detail=f"token endpoint HTTP {resp.status_code}")
        value = body.get("access_token")
        if not isinstance(value, str) or not value or str(body.get("token_type", "")).lower() != "bearer":
            log.warning("backend_token_unavailable client=%s status=200 reason=unusable_body", self.client_id)
            raise BackendTokenUnavailable(detail="token response without a bearer access_token")
        lifetime = _lifetime(body.get("expires_in"))
        scope = body.get("scope") if isinstance(body.get("scope"), str) else self.scope
        log.info("backend_token_issued client=%s lifetime=%ds scopes=%d %.0f ms", self.client_id, lifetime,
                 len(scope.split()), (time.perf_counter() - started) * 1000)
        return _Token(value=value, expires_at=now + lifetime - renewal_margin(lifetime), scope=scope)


def _json_object(resp: requests.Response) -> dict:
    try:
        body = resp.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _lifetime(expires_in: object) -> int:
    if isinstance(expires_in, bool) or not isinstance(expires_in, int | float) or expires_in <= 0:
        return DEFAULT_TOKEN_LIFETIME
    return int(expires_in)


def backend_tokens(settings, http: requests.Session, key: BackendKey | None) -> BackendTokens | None:
    """The app's BackendTokens from its settings, or None when no backend client is configured."""
    if not settings.backend_client_id:
        return None
    if key is None:
        raise BackendKeyInvalid(detail="SENTINEL_BACKEND_CLIENT_ID is set but no backend key is configured")
    return BackendTokens(settings.backend_fhir_base, settings.backend_client_id, key, http,
                         scope=settings.backend_scopes, iss_allowlist=settings.iss_allowlist,
                         require_https=settings.env == "production",
                         timeout=(settings.fhir_connect_timeout, settings.fhir_read_timeout))


__all__ = ["ASSERTION_TYPE", "BackendTokens", "backend_tokens", "renewal_margin", "signed_assertion"]
