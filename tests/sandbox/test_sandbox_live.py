"""The sandbox over real HTTP on a free loopback port, as the demo and the e2e tests run it."""

from __future__ import annotations

import secrets
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs, urlencode, urlparse

import pytest
import requests

from sandbox import register_client
from sandbox.__main__ import parse_args
from tests.support.ehr import served_sandbox
from tests.support.sandbox_launch import SEPTIC, pkce

TIMEOUT = (2, 10)


@pytest.fixture(scope="module")
def live():
    with served_sandbox() as app:
        register_client(app, "live-app", ["http://127.0.0.1:1/callback"], "http://127.0.0.1:1/launch",
                        client_secret="live-secret")
        yield app.base_url


def _launch(base: str) -> dict:
    """EHR launch of a confidential client over HTTP, ending with the token response."""
    page = requests.get(f"{base}/ehr/chart", params={"user": "nurse", "patient": SEPTIC}, timeout=TIMEOUT)
    src = page.text.split('<iframe id="app"', 1)[1].split('src="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    launch = parse_qs(urlparse(src).query)
    config = requests.get(launch["iss"][0] + "/.well-known/smart-configuration", timeout=TIMEOUT).json()
    verifier, challenge = pkce()
    params = {"response_type": "code", "client_id": "live-app", "redirect_uri": "http://127.0.0.1:1/callback",
              "scope": "launch openid fhirUser online_access patient/*.crs user/PractitionerRole.rs",
              "state": secrets.token_urlsafe(16), "aud": launch["iss"][0], "launch": launch["launch"][0],
              "code_challenge": challenge, "code_challenge_method": "S256", "nonce": secrets.token_urlsafe(8)}
    auth = requests.get(config["authorization_endpoint"] + "?" + urlencode(params), allow_redirects=False,
                        timeout=TIMEOUT)
    assert auth.status_code == 302
    code = parse_qs(urlparse(auth.headers["Location"]).query)["code"][0]
    token = requests.post(config["token_endpoint"], auth=("live-app", "live-secret"), timeout=TIMEOUT,
                          data={"grant_type": "authorization_code", "code": code, "code_verifier": verifier,
                                "redirect_uri": "http://127.0.0.1:1/callback"})
    assert token.status_code == 200, token.text
    return token.json()


def test_a_whole_launch_over_http(live):
    token = _launch(live)
    headers = {"Authorization": f"Bearer {token['access_token']}", "Accept": "application/fhir+json"}
    bundle = requests.get(f"{live}/fhir/Observation", params={"patient": token["patient"], "_count": 100},
                          headers=headers, timeout=TIMEOUT).json()
    seen = len(bundle["entry"])
    while nxt := next((link["url"] for link in bundle["link"] if link["relation"] == "next"), None):
        assert nxt.startswith(live + "/fhir?")
        bundle = requests.get(nxt, headers=headers, timeout=TIMEOUT).json()
        seen += len(bundle["entry"])
    assert seen == bundle["total"]


def test_concurrent_requests_are_safe(live):
    token = _launch(live)
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    order = {"resourceType": "ServiceRequest", "status": "active", "intent": "order",
             "subject": {"reference": f"Patient/{SEPTIC}"}, "code": {"text": "concurrent"}}

    def work(i: int) -> int:
        if i % 2:
            return requests.post(f"{live}/fhir/ServiceRequest", json=order, headers=headers, timeout=TIMEOUT).status_code
        return requests.get(f"{live}/fhir/Observation", params={"patient": SEPTIC, "category": "laboratory"},
                            headers=headers, timeout=TIMEOUT).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(work, range(24)))
    assert statuses.count(201) == 12 and statuses.count(200) == 12
    found = requests.get(f"{live}/fhir/ServiceRequest", params={"patient": SEPTIC, "_count": 200},
                         headers=headers, timeout=TIMEOUT).json()
    ids = [e["resource"]["id"] for e in found["entry"] if e["resource"]["code"]["text"] == "concurrent"]
    assert len(ids) == len(set(ids)) == 12


def test_command_line_options():
    args = parse_args(["--port", "0", "--register-client", "x", "--redirect-uri", "http://x/cb",
                       "--launch-url", "http://x/launch", "--fhir-user", "relative"])
    assert args.port == 0 and args.redirect_uri == ["http://x/cb"] and args.fhir_user == "relative"
    with pytest.raises(SystemExit):
        parse_args(["--register-client", "x"])


def test_backend_client_options_go_together():
    args = parse_args(["--register-backend-client", "b", "--jwks-url", "http://x/.well-known/jwks.json"])
    assert args.register_backend_client == "b" and args.backend_scope.startswith("system/")
    with pytest.raises(SystemExit):
        parse_args(["--register-backend-client", "b"])
