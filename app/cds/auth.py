"""Who is calling the hook: the CDS client's signed JWT, checked as CDS Hooks 2.0 "Trusting CDS Clients" says.

Every call carries `Authorization: Bearer <JWT>` signed by the CDS client (the EHR) with its private key; the header
names the key (`kid`) and the algorithm (ES384 or RS384, the two the spec requires services to support). The payload
has `iss` (the client, on our allow-list with the URL of its JWKS), `aud` (the URL of the service endpoint being
called), `exp`, `iat` and a unique `jti`. We check, in this order: a token at all (401), its shape (401), the client
is known (403: a caller we never agreed to serve), the signature against that client's JWKS (401), `aud`, `exp`
(short-lived: at most `MAX_LIFETIME` ahead), and that the `jti` was never used before (401: a replay). The `jku`
header is ignored: the JWKS URL comes from our configuration only, so a token cannot point us at keys of its choosing.

The JWKS is fetched with bounded HTTP: no redirects, a timeout, at most `MAX_JWKS_BYTES`, https (plain http only to
a loopback address, for the sandbox), cached for an hour and refetched on an unknown `kid` at most once a minute.
No Flask.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

import requests
import sqlalchemy as sa
from joserfc import jws, jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

from . import store

log = logging.getLogger(__name__)

ALGORITHMS = ["ES384", "RS384"]
LEEWAY_SECONDS = 30
MAX_LIFETIME = 600  # seconds: CDS Hooks asks for short-lived tokens (its examples expire in five minutes)
MAX_TOKEN_CHARS = 8192
MAX_JWKS_BYTES = 64 * 1024
JWKS_CACHE_SECONDS = 3600
REFETCH_AT_MOST_EVERY = 60


class CdsAuthError(Exception):
    """The call is not let in. `status` 401 (not authenticated) or 403 (a client we do not serve)."""

    def __init__(self, status: int, code: str, detail: str):
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail


def unauthenticated(code: str, detail: str) -> CdsAuthError:
    return CdsAuthError(401, code, detail)


def _loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


class JwksCache:
    """Each client's public keys, fetched with bounded HTTP and cached (shared by the threads of one process)."""

    def __init__(self, http: requests.Session, timeout: float, clock: Callable[[], float] = time.monotonic):
        self.http, self.timeout, self.clock = http, timeout, clock
        self._keys: dict[str, tuple[float, KeySet]] = {}
        self._lock = threading.Lock()

    def keys(self, url: str, *, refresh: bool = False) -> KeySet:
        with self._lock:
            cached = self._keys.get(url)
        age = self.clock() - cached[0] if cached else None
        if cached and (age < JWKS_CACHE_SECONDS and not refresh or refresh and age < REFETCH_AT_MOST_EVERY):
            return cached[1]
        keys = self._fetch(url)
        with self._lock:
            self._keys[url] = (self.clock(), keys)
        return keys

    def _fetch(self, url: str) -> KeySet:
        parts = urlsplit(url)
        if parts.scheme != "https" and not (parts.scheme == "http" and _loopback(parts.hostname)):
            raise unauthenticated("jwks_not_https", "the client's JWKS URL is not https")
        try:
            with self.http.get(url, headers={"Accept": "application/json"}, timeout=self.timeout,
                               allow_redirects=False, stream=True) as resp:
                if resp.status_code != 200:
                    raise unauthenticated("jwks_unavailable", f"the client's JWKS answered HTTP {resp.status_code}")
                body = b""
                for chunk in resp.iter_content(8192):
                    body += chunk
                    if len(body) > MAX_JWKS_BYTES:
                        raise unauthenticated("jwks_too_large", "the client's JWKS is larger than 64 KiB")
            doc = json.loads(body)
            return KeySet.import_key_set(doc)
        except requests.RequestException as exc:
            raise unauthenticated("jwks_unavailable", f"the client's JWKS could not be fetched ({type(exc).__name__})"
                                  ) from None
        except (ValueError, TypeError, KeyError, JoseError):
            raise unauthenticated("jwks_malformed", "the client's JWKS is not a JWK Set") from None


@dataclass(frozen=True)
class Caller:
    """An authenticated CDS client."""

    iss: str
    jti: str
    tenant: str | None


def bearer(header: str | None) -> str:
    if not header or not header.startswith("Bearer ") or not header[7:].strip():
        raise unauthenticated("no_jwt", "the call carries no bearer JWT")
    token = header[7:].strip()
    if len(token) > MAX_TOKEN_CHARS:
        raise unauthenticated("jwt_malformed", "the bearer JWT is too long")
    return token


def _unverified(token: str) -> tuple[dict, dict]:
    try:
        compact = jws.extract_compact(token.encode("ascii"))
        claims = json.loads(compact.payload)
    except (JoseError, ValueError, UnicodeError):
        raise unauthenticated("jwt_malformed", "the bearer token is not a signed JWT") from None
    if not isinstance(claims, dict):
        raise unauthenticated("jwt_malformed", "the JWT payload is not an object")
    return compact.headers(), claims


def verify(header: str | None, *, audience: str, clients: Mapping[str, str], jwks: JwksCache,
           engine: sa.Engine, now: float | None = None) -> Caller:
    """The caller, or CdsAuthError. `audience` is the URL of the endpoint called; `clients` {iss: JWKS URL}."""
    token = bearer(header)
    head, unverified = _unverified(token)
    if head.get("alg") not in ALGORITHMS:
        raise unauthenticated("jwt_alg", f"the JWT must be signed with ES384 or RS384, not {head.get('alg')!r}")
    if not isinstance(head.get("kid"), str):
        raise unauthenticated("jwt_kid", "the JWT header names no key (kid)")
    iss = unverified.get("iss")
    if not isinstance(iss, str) or iss not in clients:
        raise CdsAuthError(403, "unknown_client", "the JWT's iss is not a CDS client this service was set up for")
    claims = _signed_claims(token, jwks, clients[iss])
    now = time.time() if now is None else now
    registry = jwt.JWTClaimsRegistry(
        now=int(now), leeway=LEEWAY_SECONDS, iss={"essential": True, "value": iss},
        aud={"essential": True, "value": audience}, exp={"essential": True}, iat={"essential": True},
        jti={"essential": True})
    try:
        registry.validate(claims)
    except JoseError as exc:
        claim = getattr(exc, "claim", None) or exc.error  # e.g. jwt_aud, jwt_expired_token
        raise unauthenticated(f"jwt_{claim}"[:64], f"JWT claims: {exc.error}: {exc.description}") from None
    if claims["exp"] > now + MAX_LIFETIME + LEEWAY_SECONDS:
        raise unauthenticated("jwt_lifetime", f"the JWT expires more than {MAX_LIFETIME} s from now")
    jti = claims["jti"]
    if not isinstance(jti, str) or not 8 <= len(jti) <= 200:
        raise unauthenticated("jwt_jti", "the JWT's jti must be a string of 8 to 200 characters")
    expires = datetime.fromtimestamp(claims["exp"] + LEEWAY_SECONDS, UTC)
    if not store.claim_jti(engine, iss, jti, expires, datetime.fromtimestamp(now, UTC)):
        raise unauthenticated("jwt_replayed", "this JWT (its jti) was used before")
    tenant = claims.get("tenant")
    return Caller(iss, jti, tenant if isinstance(tenant, str) else None)


def _signed_claims(token: str, jwks: JwksCache, url: str) -> dict:
    for refresh in (False, True):  # a key rotation shows up as an unknown kid: refetch the JWKS (rate-limited)
        try:
            return jwt.decode(token, jwks.keys(url, refresh=refresh), algorithms=ALGORITHMS).claims
        except (InvalidKeyIdError, ValueError) as exc:
            if refresh:
                raise unauthenticated("jwt_signature", f"no key of the client verifies this JWT "
                                                       f"({type(exc).__name__})") from None
        except JoseError as exc:
            raise unauthenticated("jwt_signature", f"JWT signature: {exc.error}") from None
    raise AssertionError("unreachable")
