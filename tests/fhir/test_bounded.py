"""Every answer from the EHR or its authorization server is bounded: in size (read while it streams in), in
total time (while bytes trickle in), in nesting, and in entries per search page; and no read follows a redirect
to another address, so neither the bearer token nor the authorization code goes anywhere but where it was sent.

Against a real socket server on loopback (tests/support/misbehaving.py), with the caps scaled down."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest

from app.fhir.errors import FhirBadResponse, FhirUnavailable
from app.fhir.paging import search
from app.fhir.tokens import StaticToken
from app.fhir.transport import Transport, http_session
from app.smart.discovery import _CACHE, discover
from app.smart.errors import DiscoveryFailed, IdTokenInvalid, TokenExchangeFailed
from app.smart.idtoken import verify_id_token
from app.smart.launch import Launcher, LaunchOptions
from app.smart.oauth import exchange_code
from app.smart.registration import Registration
from tests.support.misbehaving import MisbehavingServer, json_body, redirect, trickle

PATIENT = {"resourceType": "Patient", "id": "p1"}
REG = Registration(client_id="c", client_secret=None, launch_path="/launch", redirect_path="/callback",
                   ehr_launch_scope="launch", standalone_launch_scope="launch/patient")


@pytest.fixture
def ehr():
    with MisbehavingServer() as server:
        yield server


@pytest.fixture
def elsewhere():
    """Another origin on the same host (another port): nothing may ever reach it."""
    with MisbehavingServer() as server:
        yield server


def bounded_http(max_bytes=256 * 1024, seconds=0.5):
    return http_session({}, max_bytes=max_bytes, seconds=seconds)


def transport(ehr, **kw) -> Transport:
    kw.setdefault("session", bounded_http())
    return Transport(f"{ehr.url}/fhir", StaticToken("secret-token"), read_timeout=2.0, max_attempts=1, **kw)


def test_a_patient_sent_a_byte_at_a_time_stops_at_the_time_budget(ehr):
    body = json.dumps({**PATIENT, "text": {"div": "x" * 300}}).encode()
    ehr.routes["/fhir/Patient/p1"] = trickle(body, every=0.02)  # about 7 s in all; each byte well inside 2 s
    started = time.monotonic()
    with pytest.raises(FhirUnavailable) as exc:
        transport(ehr, time_budget=0.4).get_json("Patient/p1", expect="Patient")
    assert time.monotonic() - started < 2.0  # before: the whole 7 s, then the page
    assert "did not finish answering in time" in exc.value.message and "budget 0.4 s" in exc.value.detail


@pytest.mark.parametrize("chunked", [True, False])
def test_an_answer_over_the_size_cap_is_refused_while_it_streams(ehr, chunked):
    big = json.dumps({**PATIENT, "text": {"div": "x" * (2 * 1024 * 1024)}}).encode()
    ehr.routes["/fhir/Patient/p1"] = json_body(big, chunked=chunked)
    with pytest.raises(FhirBadResponse) as exc:
        transport(ehr, max_bytes=256 * 1024).get_json("Patient/p1", expect="Patient")
    assert "over the 262144 byte limit" in exc.value.detail


def test_an_answer_under_the_cap_is_read_whole(ehr):
    ehr.routes["/fhir/Patient/p1"] = json_body(json.dumps(PATIENT).encode(), chunked=True)
    assert transport(ehr).get_json("Patient/p1", expect="Patient") == PATIENT


def test_deeply_nested_json_is_a_bad_response_not_a_crash(ehr):
    deep = b'{"resourceType": "Patient", "id": "p1", "extension": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    ehr.routes["/fhir/Patient/p1"] = json_body(deep)
    with pytest.raises(FhirBadResponse):  # before: RecursionError, a 500
        transport(ehr).get_json("Patient/p1", expect="Patient")
    nested_100 = {**PATIENT, "extension": json.loads("[" * 100 + "]" * 100)}
    ehr.routes["/fhir/Patient/p1"] = json_body(json.dumps(nested_100).encode())
    with pytest.raises(FhirBadResponse):  # parses, but deeper than any FHIR resource: refused before use
        transport(ehr).get_json("Patient/p1", expect="Patient")


def test_a_search_page_with_more_entries_than_the_cap_is_refused(ehr):
    page = {"resourceType": "Bundle", "type": "searchset",
            "entry": [{"resource": {"resourceType": "Observation", "id": str(i)}} for i in range(6)]}
    ehr.routes["/fhir/Observation"] = json_body(json.dumps(page).encode())
    with pytest.raises(FhirBadResponse) as exc:
        search(transport(ehr, max_entries=5), "Observation", {"patient": "p1"})
    assert "6 entries, over the 5 limit" in exc.value.detail
    assert len(search(transport(ehr, max_entries=6), "Observation", {"patient": "p1"}).resources) == 6


def test_a_fhir_read_redirected_to_another_port_is_not_followed(ehr, elsewhere):
    ehr.routes["/fhir/Patient/p1"] = redirect(f"{elsewhere.url}/fhir/Patient/p1")
    with pytest.raises(FhirBadResponse):
        transport(ehr).get_json("Patient/p1", expect="Patient")
    assert elsewhere.requests == []


def test_discovery_redirected_elsewhere_or_trickling_fails_and_nothing_follows(ehr, elsewhere):
    _CACHE.clear()
    ehr.routes["/fhir/.well-known/smart-configuration"] = redirect(f"{elsewhere.url}/smart", status=302)
    with pytest.raises(DiscoveryFailed):
        discover(f"{ehr.url}/fhir", bounded_http(), (1, 2), require_https=False)
    assert elsewhere.requests == []
    ehr.routes["/fhir/.well-known/smart-configuration"] = trickle(b'{"issuer": "x"}' + b" " * 200, every=0.02)
    started = time.monotonic()
    with pytest.raises(DiscoveryFailed):
        discover(f"{ehr.url}/fhir", bounded_http(seconds=0.3), (1, 2), require_https=False)
    assert time.monotonic() - started < 2.0


def test_the_token_request_is_not_resent_to_where_a_redirect_points(ehr, elsewhere):
    """A 307 would make requests send the code and the PKCE verifier again, in the body, to the other address."""
    ehr.routes["/token"] = redirect(f"{elsewhere.url}/token", status=307)
    with pytest.raises(TokenExchangeFailed):
        exchange_code(REG, f"{ehr.url}/token", "http://app/callback", "the-code", "the-verifier", bounded_http(),
                      (1, 2), datetime.now(UTC))
    assert elsewhere.requests == []


def test_a_jwks_redirect_is_not_followed(ehr, elsewhere):
    ehr.routes["/jwks"] = redirect(f"{elsewhere.url}/jwks", status=302)
    with pytest.raises(IdTokenInvalid):
        verify_id_token("a.b.c", jwks_uri=f"{ehr.url}/jwks", issuer=None, client_id="c", nonce="n",
                        http=bounded_http(), timeout=(1, 2), iss=f"{ehr.url}/fhir")
    assert elsewhere.requests == []


def test_the_launchs_practitioner_read_never_follows_a_redirect_with_the_bearer_token(ehr, elsewhere):
    ehr.routes["/fhir/Practitioner/7"] = redirect(f"{elsewhere.url}/fhir/Practitioner/7")
    options = LaunchOptions(iss_allowlist=(), require_https=False, roles={}, timeout=(1, 2))
    launcher = Launcher(REG, store=None, http=bounded_http(), options=options, clock=lambda: datetime.now(UTC))
    assert launcher._reader(f"{ehr.url}/fhir", "secret-token")("Practitioner/7", None) is None
    assert elsewhere.requests == []
