"""SMART discovery: `{iss}/.well-known/smart-configuration` (SMART App Launch 2.0, section "Discovery")."""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests

from .errors import DiscoveryFailed, IssNotAllowed

_CACHE: dict[str, tuple[float, SmartConfiguration]] = {}  # a cache of public documents, not state
CACHE_SECONDS = 300


@dataclass(frozen=True)
class SmartConfiguration:
    iss: str
    authorization_endpoint: str
    token_endpoint: str
    issuer: str | None
    jwks_uri: str | None
    capabilities: tuple[str, ...]
    # For SMART Backend Services (client_credentials with private_key_jwt): what the token endpoint accepts.
    token_endpoint_auth_methods: tuple[str, ...] = ()
    token_endpoint_auth_signing_algs: tuple[str, ...] = ()
    grant_types: tuple[str, ...] = ()

    def as_dict(self) -> dict:
        return {
            "iss": self.iss, "authorization_endpoint": self.authorization_endpoint,
            "token_endpoint": self.token_endpoint, "issuer": self.issuer, "jwks_uri": self.jwks_uri,
            "capabilities": list(self.capabilities),
            "token_endpoint_auth_methods": list(self.token_endpoint_auth_methods),
            "token_endpoint_auth_signing_algs": list(self.token_endpoint_auth_signing_algs),
            "grant_types": list(self.grant_types),
        }

    @classmethod
    def from_dict(cls, d: dict) -> SmartConfiguration:
        return cls(d["iss"], d["authorization_endpoint"], d["token_endpoint"], d.get("issuer"),
                   d.get("jwks_uri"), tuple(d.get("capabilities", ())),
                   tuple(d.get("token_endpoint_auth_methods", ())), tuple(d.get("token_endpoint_auth_signing_algs", ())),
                   tuple(d.get("grant_types", ())))


def normalize_iss(iss: str) -> str:
    return iss.strip().rstrip("/")


def check_iss(iss: str, allowlist: tuple[str, ...], require_https: bool) -> str:
    """The iss, normalized, if it is on the allow-list; otherwise IssNotAllowed. Never fetch an unlisted iss."""
    iss = normalize_iss(iss or "")
    allowed = {normalize_iss(a) for a in allowlist}
    if not iss or iss not in allowed:
        raise IssNotAllowed(detail="iss not on allow-list")
    if require_https and urlsplit(iss).scheme != "https":
        raise IssNotAllowed("This EHR's FHIR address is not HTTPS, so Sepsis Sentinel will not connect to it.")
    return iss


def _url(value, field: str, require_https: bool) -> str:
    if not isinstance(value, str) or urlsplit(value).scheme not in ("https", "http") or not urlsplit(value).netloc:
        raise DiscoveryFailed(detail=f"smart-configuration {field} missing or not a URL")
    if require_https and urlsplit(value).scheme != "https":
        raise DiscoveryFailed(detail=f"smart-configuration {field} is not https")
    return value


def _strings(value) -> tuple[str, ...]:
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()


def discover(iss: str, http: requests.Session, timeout: tuple[float, float], require_https: bool,
             now=time.monotonic) -> SmartConfiguration:
    """Fetch and validate the SMART configuration of an (already allow-listed) iss."""
    cached = _CACHE.get(iss)
    if cached and now() - cached[0] < CACHE_SECONDS:
        return cached[1]
    try:
        resp = http.get(f"{iss}/.well-known/smart-configuration", headers={"Accept": "application/json"},
                        timeout=timeout, allow_redirects=False)  # a redirect is an error, never followed
    except requests.RequestException as exc:
        raise DiscoveryFailed(detail=type(exc).__name__) from None
    if resp.status_code != 200:
        raise DiscoveryFailed(detail=f"smart-configuration HTTP {resp.status_code}")
    try:
        doc = resp.json()
    except (ValueError, RecursionError):
        raise DiscoveryFailed(detail="smart-configuration is not JSON") from None
    if not isinstance(doc, dict):
        raise DiscoveryFailed(detail="smart-configuration is not a JSON object")
    methods = doc.get("code_challenge_methods_supported")
    if isinstance(methods, list) and "S256" not in methods:
        # SMART 2.0 requires S256; a server that advertises PKCE without it cannot be used safely.
        raise DiscoveryFailed(detail="server does not support PKCE S256")
    config = SmartConfiguration(
        iss=iss,
        authorization_endpoint=_url(doc.get("authorization_endpoint"), "authorization_endpoint", require_https),
        token_endpoint=_url(doc.get("token_endpoint"), "token_endpoint", require_https),
        issuer=doc.get("issuer") if isinstance(doc.get("issuer"), str) else None,
        jwks_uri=_url(doc["jwks_uri"], "jwks_uri", require_https) if doc.get("jwks_uri") else None,
        capabilities=_strings(doc.get("capabilities")),
        token_endpoint_auth_methods=_strings(doc.get("token_endpoint_auth_methods_supported")),
        token_endpoint_auth_signing_algs=_strings(doc.get("token_endpoint_auth_signing_alg_values_supported")),
        grant_types=_strings(doc.get("grant_types_supported")),
    )
    _CACHE[iss] = (now(), config)
    return config
