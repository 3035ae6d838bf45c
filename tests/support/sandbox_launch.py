"""A SMART launch run against the sandbox the way an app does (the sandbox tests and bench.inspect_sandbox)."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from html import unescape
from urllib.parse import parse_qs, urlencode, urlparse

BASE = "http://localhost"
FHIR = f"{BASE}/fhir"
START = datetime(2026, 11, 23, 14, 30, tzinfo=UTC).timestamp()
APP_ID, APP_REDIRECT, APP_LAUNCH = "test-app", "http://app.test/callback", "http://app.test/launch"
CONF_ID, CONF_SECRET, CONF_REDIRECT = "test-confidential", "s3cret-value", "http://conf.test/callback"
BROAD_ID, BROAD_REDIRECT = "test-broad", "http://broad.test/callback"  # registered with the default scope
EHR_SCOPE = ("launch openid fhirUser profile online_access patient/Patient.r patient/Encounter.r "
             "patient/Observation.rs patient/ServiceRequest.crs patient/MedicationRequest.crs "
             "user/Practitioner.r user/PractitionerRole.rs")
SEPTIC = "demo-102421"  # demo patients (sandbox/sandbox/demo_patients)
OTHER = "demo-108289"


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlparse(url).query).items()}


def open_chart(client, user: str = "nurse", patient: str = SEPTIC, app: str = APP_ID, **choices: str) -> dict[str, str]:
    """Press 'Open Sepsis Sentinel' on the EHR: returns the iframe's launch URL parameters (iss, launch).
    `choices`: the front page's other fields (app_banner="1")."""
    page = client.get("/ehr/chart?" + urlencode({"user": user, "patient": patient, "app": app, **choices}))
    assert page.status_code == 200
    src = unescape(re.search(r'<iframe id="app"[^>]*src="([^"]+)"', page.text).group(1))
    return query_of(src)


@dataclass
class Authorization:
    params: dict
    verifier: str
    response: object  # the /authorize response

    @property
    def location(self) -> str:
        return self.response.headers.get("Location", "")

    @property
    def code(self) -> str:
        return query_of(self.location)["code"]


def authorize(client, *, launch: str | None, scope: str = EHR_SCOPE, client_id: str = APP_ID,
              redirect_uri: str = APP_REDIRECT, **overrides) -> Authorization:
    """GET /auth/authorize as the app would (PKCE S256, state, nonce, aud); `overrides` replace or drop (None)."""
    verifier, challenge = pkce()
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri, "scope": scope,
              "state": secrets.token_urlsafe(16), "aud": FHIR, "code_challenge": challenge,
              "code_challenge_method": "S256", "nonce": secrets.token_urlsafe(8)}
    if launch:
        params["launch"] = launch
    params.update(overrides)
    params = {k: v for k, v in params.items() if v is not None}
    return Authorization(params, verifier, client.get("/auth/authorize?" + urlencode(params)))


def exchange(client, auth: Authorization, *, verifier: str | None = None, client_id: str = APP_ID,
             redirect_uri: str = APP_REDIRECT, headers: dict | None = None, **extra):
    data = {"grant_type": "authorization_code", "code": auth.code, "redirect_uri": redirect_uri,
            "code_verifier": verifier or auth.verifier, "client_id": client_id, **extra}
    return client.post("/auth/token", data={k: v for k, v in data.items() if v is not None}, headers=headers or {})


def ehr_launch(client, user: str = "nurse", patient: str = SEPTIC, scope: str = EHR_SCOPE, app: str = APP_ID,
               redirect_uri: str = APP_REDIRECT) -> dict:
    """A whole EHR launch by a public app; returns the token response."""
    launch = open_chart(client, user, patient, app=app)
    auth = authorize(client, launch=launch["launch"], scope=scope, client_id=app, redirect_uri=redirect_uri)
    assert auth.response.status_code == 302, auth.response.text
    token = exchange(client, auth, client_id=app, redirect_uri=redirect_uri)
    assert token.status_code == 200, token.json
    return token.json


def bearer(token: dict | str) -> dict:
    return {"Authorization": f"Bearer {token['access_token'] if isinstance(token, dict) else token}"}


def basic(client_id: str, secret: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}
