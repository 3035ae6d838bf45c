"""OAuth 2.0 for SMART with Authlib: the authorize URL (PKCE S256, state, aud, launch), code exchange, refresh."""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2 import OAuth2Error

from .errors import ContextMissing, SessionExpired, TokenExchangeFailed
from .registration import Registration

log = logging.getLogger(__name__)

# FHIR R4 id datatype: [A-Za-z0-9\-\.]{1,64}. Anything else from the EHR is refused, not passed on.
FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
DEFAULT_EXPIRES_IN = 300  # when the server omits expires_in, assume a short life and refresh early


@dataclass(frozen=True)
class TokenSet:
    access_token: str
    refresh_token: str | None
    expires_at: datetime
    scope: str
    patient: str | None
    encounter: str | None
    id_token: str | None
    # CDS Hooks Link.appContext (launched from a card) and SMART 2 fhirContext references: untrusted strings, bounded.
    app_context: str | None = None
    fhir_context: tuple[str, ...] = ()
    # How long the token lived when issued (expires_in): the refresh margin scales with it (app.smart.tokens).
    lifetime: timedelta | None = None
    # SMART App Launch 2.0 launch context for the app's display (token response; absent on refresh)
    need_patient_banner: bool | None = None
    smart_style_url: str | None = None


def new_pkce_verifier() -> str:
    # RFC 7636 4.1: 43-128 characters from the unreserved set; 64 url-safe bytes give 86.
    return secrets.token_urlsafe(64)


def _client(reg: Registration, redirect_uri: str | None, http: requests.Session | None) -> OAuth2Session:
    client = OAuth2Session(
        reg.client_id, reg.client_secret, redirect_uri=redirect_uri, code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic" if reg.client_secret else "none",
    )
    if http is not None:  # share the hardened session's adapters, proxies and instrumentation hooks
        client.mount("https://", http.get_adapter("https://"))
        client.mount("http://", http.get_adapter("http://"))
        client.hooks["response"] = list(http.hooks["response"])  # incl. app.fhir.bounded: size, time, no redirect
        client.trust_env, client.verify = http.trust_env, http.verify  # see app.fhir.transport.http_session
    return client


def authorize_url(reg: Registration, authorization_endpoint: str, redirect_uri: str, *, scope: str, state: str,
                  code_verifier: str, aud: str, nonce: str, launch: str | None) -> str:
    """The URL the browser goes to. `aud` is the FHIR base (SMART 2.0 requires it); `launch` only for EHR launch."""
    extra = {"aud": aud, "nonce": nonce}
    if launch:
        extra["launch"] = launch
    url, _ = _client(reg, redirect_uri, None).create_authorization_url(
        authorization_endpoint, state=state, code_verifier=code_verifier, scope=scope, **extra)
    return url


MAX_APP_CONTEXT = 2048  # characters; a longer appContext is dropped (logged), never truncated into meaning
MAX_FHIR_CONTEXT = 10
FHIR_REFERENCE = re.compile(r"[A-Z][A-Za-z]{1,63}/[A-Za-z0-9\-.]{1,64}")


def _app_context(token: dict, previous: TokenSet | None) -> str | None:
    """The token response's appContext when it is a string of sane length; anything else is ignored (it only
    steers which page opens first, and the page checks what it names)."""
    if "appContext" not in token:
        return previous.app_context if previous else None
    value = token["appContext"]
    if isinstance(value, str) and 0 < len(value) <= MAX_APP_CONTEXT:
        return value
    log.warning("token response: appContext ignored (not a string of at most %d characters)", MAX_APP_CONTEXT)
    return None


def _fhir_context(token: dict, previous: TokenSet | None) -> tuple[str, ...]:
    """SMART App Launch 2 fhirContext: the relative references (Type/id) in it, at most MAX_FHIR_CONTEXT."""
    if "fhirContext" not in token:
        return previous.fhir_context if previous else ()
    items = token["fhirContext"] if isinstance(token["fhirContext"], list) else []
    refs = [i.get("reference") for i in items[:MAX_FHIR_CONTEXT] if isinstance(i, dict)]
    return tuple(r for r in refs if isinstance(r, str) and FHIR_REFERENCE.fullmatch(r))


def _token_set(token: dict, now: datetime, previous: TokenSet | None = None) -> TokenSet:
    access = token.get("access_token")
    if not isinstance(access, str) or not access:
        raise TokenExchangeFailed(detail="no access_token in token response")
    if str(token.get("token_type", "")).lower() != "bearer":
        raise TokenExchangeFailed(detail="token_type is not Bearer")
    try:
        expires_in = int(token.get("expires_in", DEFAULT_EXPIRES_IN))
    except (TypeError, ValueError):
        expires_in = DEFAULT_EXPIRES_IN
    patient = token.get("patient", previous.patient if previous else None)
    encounter = token.get("encounter", previous.encounter if previous else None)
    for name, value in (("patient", patient), ("encounter", encounter)):
        if value is not None and not (isinstance(value, str) and FHIR_ID.fullmatch(value)):
            raise ContextMissing(detail=f"{name} context is not a valid FHIR id")
    return TokenSet(
        access_token=access,
        refresh_token=token.get("refresh_token") or (previous.refresh_token if previous else None),
        expires_at=now + timedelta(seconds=max(0, expires_in)),
        scope=str(token.get("scope") or (previous.scope if previous else "")),
        patient=patient,
        encounter=encounter,
        id_token=token.get("id_token"),
        app_context=_app_context(token, previous),
        fhir_context=_fhir_context(token, previous),
        lifetime=timedelta(seconds=max(0, expires_in)),
        need_patient_banner=token["need_patient_banner"] if isinstance(token.get("need_patient_banner"), bool)
        else None,
        smart_style_url=token.get("smart_style_url") if isinstance(token.get("smart_style_url"), str) else None,
    )


def exchange_code(reg: Registration, token_endpoint: str, redirect_uri: str, code: str, code_verifier: str,
                  http: requests.Session, timeout: tuple[float, float], now: datetime) -> TokenSet:
    """Trade the authorization code (with the PKCE verifier) for tokens."""
    client = _client(reg, redirect_uri, http)
    try:
        token = client.fetch_token(token_endpoint, grant_type="authorization_code", code=code,
                                   code_verifier=code_verifier, timeout=timeout)
    except (OAuth2Error, OAuthError) as exc:
        raise TokenExchangeFailed(detail=f"token endpoint error {exc.error}") from None
    except (requests.RequestException, ValueError) as exc:
        raise TokenExchangeFailed(detail=type(exc).__name__) from None
    return _token_set(dict(token), now)


def refresh(reg: Registration, token_endpoint: str, tokens: TokenSet, http: requests.Session,
            timeout: tuple[float, float], now: datetime) -> TokenSet:
    """A fresh access token from the refresh token; SessionExpired when there is none or the EHR refuses."""
    if not tokens.refresh_token:
        raise SessionExpired(detail="no refresh token")
    client = _client(reg, None, http)
    try:
        token = client.refresh_token(token_endpoint, refresh_token=tokens.refresh_token, timeout=timeout)
    except (OAuth2Error, OAuthError) as exc:
        raise SessionExpired(detail=f"refresh refused: {exc.error}") from None
    except (requests.RequestException, ValueError) as exc:
        raise SessionExpired(detail=f"refresh failed: {type(exc).__name__}") from None
    return _token_set(dict(token), now, previous=tokens)
