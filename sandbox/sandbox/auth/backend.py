"""SMART Backend Services on the authorization server: backend clients, `private_key_jwt`, `client_credentials`.

SMART App Launch 2, "Client Authentication: Asymmetric (public key)" and "Backend Services". A backend client is
registered with a JWKS, by value or by URL (fetched with a timeout and cached; an unknown `kid` refetches once,
which is how a key rotation arrives). The token request carries a `client_assertion` JWT; the server checks, and
answers `invalid_client` (401) on any failure: the assertion type; `alg` RS384 or ES384 only (never `none`, never
HS*: a public key must not be usable as an HMAC secret); `iss` = `sub` = a registered backend client; `jku`, when
sent, equal to the registered JWKS URL; a `kid` in that client's JWKS; the signature; `aud` = this token
endpoint; `exp` present, not past and at most five minutes ahead; `jti` never seen before (kept until the
assertion's `exp`, so a replay cache never grows without bound). Scopes are `system/` only, each one covered by
the registration, else `invalid_scope` (400). Access tokens carry no patient and no refresh token.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, field

import requests
from authlib.oauth2.rfc6749 import (
    ClientMixin,
    InvalidClientError,
    InvalidRequestError,
    InvalidScopeError,
    grants,
)
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from .. import state
from . import scopes as smart_scopes

log = logging.getLogger(__name__)

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
AUTH_METHOD = "private_key_jwt"
ALGORITHMS = ("ES384", "RS384")
KTY_OF = {"ES384": "EC", "RS384": "RSA"}
MAX_ASSERTION_LIFETIME = 300  # "exp ... no more than five minutes in the future"
DEFAULT_BACKEND_SCOPE = "system/Patient.rs system/Encounter.rs system/Observation.rs system/Location.rs"
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})


class AssertionRejected(InvalidClientError):
    """invalid_client, 401 (RFC 6749 5.2), without the Basic challenge: the client did not use HTTP Basic."""

    status_code = 401

    def get_headers(self):
        return [("Content-Type", "application/json"), ("Cache-Control", "no-store"), ("Pragma", "no-cache")]


@dataclass
class BackendClient(ClientMixin):
    """A backend service: a client id, its public keys (a JWKS value or URL) and the system scopes it may have."""

    client_id: str
    scope: str = DEFAULT_BACKEND_SCOPE
    jwks: dict | None = None
    jwks_url: str | None = None
    name: str = "Sepsis Sentinel screening"
    launch_url: None = None  # never offered on the EHR front page
    redirect_uris: tuple[str, ...] = ()
    _fetched: tuple[float, dict] | None = field(default=None, repr=False)
    _fetch_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def get_client_id(self):
        return self.client_id

    def get_default_redirect_uri(self):
        return None

    def get_allowed_scope(self, scope):
        granted, refused = smart_scopes.grant_system(scope, self.scope)
        return None if refused or not granted else granted

    def check_redirect_uri(self, redirect_uri):
        return False  # no user-facing flow

    def check_client_secret(self, client_secret):
        return False

    def check_endpoint_auth_method(self, method, endpoint):
        return method == AUTH_METHOD and endpoint == "token"

    def check_response_type(self, response_type):
        return False

    def check_grant_type(self, grant_type):
        return grant_type == "client_credentials"

    def key_set(self, refetch: bool = False) -> dict:
        """The client's JWKS: the registered value, or the URL's document (cached; `refetch` ignores the cache)."""
        if self.jwks is not None:
            return self.jwks
        sandbox = state.current()
        with self._fetch_lock:
            now = sandbox.now()
            if (not refetch and self._fetched
                    and now - self._fetched[0] < sandbox.settings["BACKEND_JWKS_CACHE_SECONDS"]):
                return self._fetched[1]
            try:
                resp = requests.get(self.jwks_url, timeout=sandbox.settings["BACKEND_JWKS_TIMEOUT"],
                                    headers={"Accept": "application/json"}, allow_redirects=False)
                doc = resp.json() if resp.status_code == 200 else None
            except (requests.RequestException, ValueError) as exc:
                log.warning("backend client %s: JWKS URL unreachable (%s)", self.client_id, type(exc).__name__)
                doc = None
            if not isinstance(doc, dict) or not isinstance(doc.get("keys"), list):
                if self._fetched:  # keep serving the last good set through a blip
                    return self._fetched[1]
                raise AssertionRejected("The client's registered JWKS URL could not be read.")
            self._fetched = (now, doc)
            return doc


def check_public_jwks(jwks: dict) -> dict:
    """A registration JWKS: a `keys` list of public keys only (a private member is refused, never stored)."""
    keys = jwks.get("keys") if isinstance(jwks, dict) else None
    if not isinstance(keys, list) or not keys:
        raise ValueError("a JWKS needs a non-empty 'keys' list")
    for key in keys:
        if not isinstance(key, dict) or _PRIVATE_MEMBERS & set(key):
            raise ValueError("a registration JWKS must hold public keys only")
    KeySet.import_key_set(jwks)  # raises on a malformed key
    return jwks


def _find_key(keys: dict, kid: str, alg: str):
    for jwk in keys.get("keys", []):
        if not isinstance(jwk, dict) or jwk.get("kid") != kid or jwk.get("kty") != KTY_OF[alg]:
            continue
        if jwk.get("alg") not in (None, alg) or _PRIVATE_MEMBERS & set(jwk):
            continue
        try:
            return KeySet.import_key_set({"keys": [jwk]}).keys[0]
        except (JoseError, ValueError, TypeError, KeyError):
            return None
    return None


def _claims_of(assertion: str):
    try:
        obj = jws.extract_compact(assertion.encode())
        claims = json.loads(obj.payload)
    except (JoseError, ValueError, TypeError, UnicodeError):
        raise AssertionRejected("The client_assertion is not a compact JWS.") from None
    if not isinstance(claims, dict) or not isinstance(obj.protected, dict):
        raise AssertionRejected("The client_assertion's header and claims must be JSON objects.")
    return obj.protected, claims


def authenticate_private_key_jwt(query_client, request):
    """Authlib client-authentication method `private_key_jwt`: the verified BackendClient, or AssertionRejected."""
    data = request.payload.data
    if data.get("client_assertion_type") != ASSERTION_TYPE or not data.get("client_assertion"):
        raise AssertionRejected(f"Send client_assertion_type={ASSERTION_TYPE} and a client_assertion.")
    header, claims = _claims_of(data["client_assertion"])
    alg = header.get("alg")
    if alg not in ALGORITHMS:
        raise AssertionRejected(f"The client_assertion alg must be one of {', '.join(ALGORITHMS)}.")
    client_id = claims.get("iss")
    if not isinstance(client_id, str) or claims.get("sub") != client_id:
        raise AssertionRejected("The client_assertion's iss and sub must both be the client_id.")
    if data.get("client_id") not in (None, client_id):
        raise AssertionRejected("client_id does not match the client_assertion's iss.")
    client = query_client(client_id)
    if not isinstance(client, BackendClient):
        raise AssertionRejected("Unknown backend client.")
    jku = header.get("jku")
    if jku is not None and jku != client.jwks_url:
        raise AssertionRejected("The client_assertion's jku is not the client's registered JWKS URL.")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise AssertionRejected("The client_assertion header needs a kid.")
    key = _find_key(client.key_set(), kid, alg)
    if key is None and client.jwks_url:
        key = _find_key(client.key_set(refetch=True), kid, alg)  # the client may have rotated its key
    if key is None:
        raise AssertionRejected(f"No key with this kid for {alg} in the client's JWKS.")
    try:
        jws.deserialize_compact(data["client_assertion"], key, algorithms=[alg])
    except (JoseError, ValueError):
        raise AssertionRejected("The client_assertion's signature does not verify.") from None
    _check_claims(client_id, claims)
    return client


def _check_claims(client_id: str, claims: dict) -> None:
    sandbox = state.current()
    now = sandbox.now()
    token_endpoint = f"{state.base_url()}/auth/token"
    aud = claims.get("aud")
    if aud != token_endpoint and not (isinstance(aud, list) and token_endpoint in aud):
        raise AssertionRejected("The client_assertion's aud must be this server's token endpoint.")
    exp = claims.get("exp")
    if isinstance(exp, bool) or not isinstance(exp, int | float):
        raise AssertionRejected("The client_assertion needs an exp (a number).")
    if exp <= now:
        raise AssertionRejected("The client_assertion has expired.")
    if exp > now + MAX_ASSERTION_LIFETIME:
        raise AssertionRejected("The client_assertion's exp is more than five minutes ahead.")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti:
        raise AssertionRejected("The client_assertion needs a jti.")
    if not sandbox.auth.use_jti(client_id, jti, float(exp)):
        raise AssertionRejected("This client_assertion's jti was already used.")


class BackendServicesGrant(grants.ClientCredentialsGrant):
    """`client_credentials` with `private_key_jwt`; every requested scope must be a granted `system/` scope."""

    TOKEN_ENDPOINT_AUTH_METHODS = [AUTH_METHOD]

    def validate_token_request(self):
        super().validate_token_request()
        scope = self.request.payload.scope
        if not scope:
            raise InvalidRequestError("Backend Services needs a scope (system/...).")
        _granted, refused = smart_scopes.grant_system(scope, self.request.client.scope)
        if refused:
            raise InvalidScopeError(f"Not granted to this client: {' '.join(refused)}")
