"""A launch that goes wrong must say so clearly: PKCE, codes, id_token forgery, expired and unrefreshable tokens."""

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from authlib.common.security import generate_token

import app.smart.launch as launch_module
from app.smart import load_registration
from app.smart.errors import TokenExchangeFailed
from app.smart.oauth import authorize_url, exchange_code, new_pkce_verifier
from sandbox.state import of
from tests.support.launch import PUBLIC_URL, SEPTIC, ehr_launch_url, follow_authorize


def _begin(app, ehr):
    client = app.test_client()
    url = urlsplit(ehr_launch_url(ehr, "nurse", SEPTIC))
    return client, client.get(f"{url.path}?{url.query}")


def test_authorize_without_pkce_is_refused_and_the_user_is_told(app, ehr, monkeypatch):
    def no_pkce(*args, **kwargs):
        url = authorize_url(*args, **kwargs)
        parts = urlsplit(url)
        query = "&".join(p for p in parts.query.split("&") if not p.startswith("code_challenge"))
        return parts._replace(query=query).geturl()

    monkeypatch.setattr(launch_module, "authorize_url", no_pkce)
    client, resp = _begin(app, ehr)
    page = follow_authorize(client, resp)
    assert page.status_code == 403
    assert "did not authorize Sepsis Sentinel" in page.get_data(as_text=True)


def test_wrong_pkce_verifier_fails_the_token_exchange(app, ehr, monkeypatch):
    real = launch_module.exchange_code
    monkeypatch.setattr(launch_module, "exchange_code",
                        lambda reg, te, ru, code, verifier, *a: real(reg, te, ru, code, new_pkce_verifier(), *a))
    client, resp = _begin(app, ehr)
    page = follow_authorize(client, resp)
    assert page.status_code == 502
    assert "refused to complete sign-in" in page.get_data(as_text=True)


def test_a_code_works_once(app, ehr):
    """Drive authorize by hand (as the app would), then try to spend the code twice."""
    reg = load_registration(app.extensions["sentinel"].settings.smart_launch_file)
    launch_id = parse_qs(urlsplit(ehr_launch_url(ehr, "nurse", SEPTIC)).query)["launch"][0]
    verifier, state = new_pkce_verifier(), generate_token(32)
    url = authorize_url(reg, f"{ehr.base_url}/auth/authorize", f"{PUBLIC_URL}/callback",
                        scope=reg.ehr_launch_scope, state=state, code_verifier=verifier,
                        aud=f"{ehr.base_url}/fhir", nonce=secrets.token_urlsafe(8), launch=launch_id)
    code = parse_qs(urlsplit(requests.get(url, allow_redirects=False, timeout=10).headers["Location"]).query)["code"][0]
    now = datetime.now(UTC)
    args = (reg, f"{ehr.base_url}/auth/token", f"{PUBLIC_URL}/callback", code, verifier, requests.Session(), (3, 10),
            now)
    assert exchange_code(*args).patient == SEPTIC
    with pytest.raises(TokenExchangeFailed, match="refused to complete sign-in"):
        exchange_code(*args)


@dataclass(frozen=True)
class WrongKey:
    """The EHR's key as the JWKS publishes it, but signing with another private key: a forged id_token."""

    real: object
    key: object

    def jwks(self):
        return self.real.jwks()

    def header(self):
        return self.real.header()


@pytest.mark.parametrize("forge", ["signature", "aud"])
def test_forged_id_token_is_refused_with_a_clear_page(app, ehr, monkeypatch, forge):
    if forge == "signature":
        from joserfc.jwk import RSAKey

        monkeypatch.setattr(of(ehr), "key", WrongKey(of(ehr).key, RSAKey.generate_key(2048, private=True)))
    else:  # an id_token minted for another app
        from sandbox.auth.server import SmartOpenIDCode

        real = SmartOpenIDCode.get_client_claims
        monkeypatch.setattr(SmartOpenIDCode, "get_client_claims",
                            lambda self, client: {**real(self, client), "aud": "some-other-app"})
    client, resp = _begin(app, ehr)
    page = follow_authorize(client, resp)
    assert page.status_code == 403
    assert "identity from the EHR could not be verified" in page.get_data(as_text=True)


def test_expired_access_token_is_refreshed_without_the_user_noticing(launch, ehr, faults):
    launched = launch("nurse")
    faults.set(ehr, "expire_tokens")
    again = launched.client.get(f"/patients/{SEPTIC}")
    assert again.status_code == 200
    assert "Margaret Holloway" in again.get_data(as_text=True)


def test_expired_token_that_cannot_be_refreshed_asks_to_launch_again(launch, ehr, faults):
    launched = launch("nurse")
    faults.set(ehr, "expire_tokens")
    faults.set(ehr, "status", target="token", status=503)
    page = launched.client.get(f"/patients/{SEPTIC}")
    assert page.status_code == 401
    assert "could not be renewed" in page.get_data(as_text=True)
