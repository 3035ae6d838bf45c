"""OpenID Connect id_token verification: RS256 signature against the EHR's JWKS, then iss, aud, exp and nonce."""

from __future__ import annotations

import time
from dataclasses import dataclass

import requests
from joserfc import jwt
from joserfc.errors import BadSignatureError, InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

from .errors import IdTokenInvalid

_JWKS_CACHE: dict[str, tuple[float, dict]] = {}  # public keys, cached; refetched once on an unknown kid
JWKS_CACHE_SECONDS = 3600
# A signature that fails under a key we hold may mean the EHR replaced the key but kept its kid: the JWKS is
# fetched again, but at most this often per URI, so forged tokens cannot make us hammer the EHR.
JWKS_REFETCH_SECONDS = 60
LEEWAY_SECONDS = 60


@dataclass(frozen=True)
class Identity:
    subject: str
    fhir_user: str
    name: str | None


def _fetch_jwks(uri: str, http: requests.Session, timeout, force: bool) -> dict:
    cached = _JWKS_CACHE.get(uri)
    if cached and not force and time.monotonic() - cached[0] < JWKS_CACHE_SECONDS:
        return cached[1]
    try:
        resp = http.get(uri, headers={"Accept": "application/json"}, timeout=timeout, allow_redirects=False)
        if resp.is_redirect:
            raise requests.TooManyRedirects("JWKS answered with a redirect")  # never followed
        resp.raise_for_status()
        doc = resp.json()
    except (requests.RequestException, ValueError, RecursionError) as exc:
        raise IdTokenInvalid(detail=f"JWKS could not be fetched ({type(exc).__name__})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("keys"), list):
        raise IdTokenInvalid(detail="JWKS is malformed")
    _JWKS_CACHE[uri] = (time.monotonic(), doc)
    return doc


def _may_refetch(uri: str) -> bool:
    cached = _JWKS_CACHE.get(uri)
    return cached is None or time.monotonic() - cached[0] >= JWKS_REFETCH_SECONDS


def verify_id_token(id_token: str | None, *, jwks_uri: str | None, issuer: str | None, client_id: str, nonce: str,
                    http: requests.Session, timeout, now: float | None = None, iss: str | None = None) -> Identity:
    """Verify and return who the user is. Any failure is IdTokenInvalid; nothing unverified is trusted.

    The token's `iss` must be discovery's `issuer`; when discovery names none, the FHIR base the launch began
    with (`iss`): an id_token from some other issuer that happens to hold a key is never accepted."""
    if not id_token:
        raise IdTokenInvalid(detail="no id_token")
    if not jwks_uri:
        raise IdTokenInvalid(detail="the EHR publishes no jwks_uri")
    token = None
    for force in (False, True):  # a key rotation shows up as an unknown kid (or a kid reused): refetch once
        keys = KeySet.import_key_set(_fetch_jwks(jwks_uri, http, timeout, force))
        try:
            token = jwt.decode(id_token, keys, algorithms=["RS256"])
            break
        except InvalidKeyIdError:
            if force:
                raise IdTokenInvalid(detail="signature: no key with this kid") from None
        except BadSignatureError:
            if force or not _may_refetch(jwks_uri):
                raise IdTokenInvalid(detail="signature: bad_signature") from None
        except JoseError as exc:
            raise IdTokenInvalid(detail=f"signature: {exc.error}") from None
        except ValueError:
            raise IdTokenInvalid(detail="id_token is malformed") from None
    claims = token.claims
    options = {
        "aud": {"essential": True, "value": client_id},
        "exp": {"essential": True},
        "sub": {"essential": True},
        "nonce": {"essential": True, "value": nonce},
        "iss": {"essential": True, "value": issuer or iss} if (issuer or iss) else {"essential": True},
    }
    registry = jwt.JWTClaimsRegistry(now=int(now if now is not None else time.time()), leeway=LEEWAY_SECONDS,
                                     **options)
    try:
        registry.validate(claims)
    except JoseError as exc:
        raise IdTokenInvalid(detail=f"claims: {exc.error}: {exc.description}") from None
    fhir_user = claims.get("fhirUser") or claims.get("profile")  # SMART v1 servers used "profile"
    if not isinstance(fhir_user, str) or not fhir_user:
        raise IdTokenInvalid("The EHR did not say who you are (no fhirUser), so Sepsis Sentinel did not open.",
                             detail="no fhirUser claim")
    name = claims.get("name") if isinstance(claims.get("name"), str) else None
    return Identity(subject=str(claims["sub"]), fhir_user=fhir_user, name=name)
