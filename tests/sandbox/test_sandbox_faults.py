"""Fault switches: the ways real EHRs misbehave, on demand (Python API and HTTP endpoint)."""

from __future__ import annotations

import json

import pytest

from sandbox import create_sandbox, faults
from sandbox.faults import FaultError
from tests.support.sandbox_launch import SEPTIC, bearer, ehr_launch


@pytest.fixture
def token(client):
    return ehr_launch(client)


def get_patient(client, token):
    return client.get(f"/fhir/Patient/{SEPTIC}", headers=bearer(token))


def test_5xx_for_the_next_n_requests(sandbox_app, client, token):
    faults.set(sandbox_app, "status", status=503, times=2)
    first, second, third = (get_patient(client, token) for _ in range(3))
    assert first.status_code == second.status_code == 503
    assert first.json["resourceType"] == "OperationOutcome"
    assert third.status_code == 200
    assert faults.active(sandbox_app) == []


def test_throttle_is_429_with_retry_after(sandbox_app, client, token):
    faults.set(sandbox_app, "throttle", retry_after=7, times=1)
    resp = get_patient(client, token)
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "7"
    assert resp.json["issue"][0]["code"] == "throttled"


def test_delay_sleeps_through_the_injected_sleep(sandbox_app, client, token, sleeps):
    faults.set(sandbox_app, "delay", seconds=2.5, times=1)
    assert get_patient(client, token).status_code == 200
    assert sleeps.calls == [2.5]


@pytest.mark.parametrize("body, mimetype", [("html", "text/html"), ("text", "application/fhir+json"),
                                            ("truncated", "application/fhir+json")])
def test_junk_bodies(sandbox_app, client, token, body, mimetype):
    faults.set(sandbox_app, "junk", body=body, times=1)
    resp = get_patient(client, token)
    assert resp.status_code == 200 and resp.mimetype == mimetype
    with pytest.raises(ValueError):
        json.loads(resp.data)


def test_expired_tokens_make_the_app_refresh(sandbox_app, client, token):
    faults.set(sandbox_app, "expire_tokens")
    assert get_patient(client, token).status_code == 401
    new = client.post("/auth/token", data={"grant_type": "refresh_token", "client_id": "test-app",
                                           "refresh_token": token["refresh_token"]}).json
    assert get_patient(client, new).status_code == 200


def test_reject_comma_or_in_category(sandbox_app, client, token):
    faults.set(sandbox_app, "reject_category_or")
    both = client.get(f"/fhir/Observation?patient={SEPTIC}&category=vital-signs,laboratory", headers=bearer(token))
    assert both.status_code == 400 and both.json["issue"][0]["code"] == "not-supported"
    one = client.get(f"/fhir/Observation?patient={SEPTIC}&category=laboratory", headers=bearer(token))
    assert one.status_code == 200


def test_faults_hit_only_their_target_and_path(sandbox_app, client, token):
    faults.set(sandbox_app, "status", status=500, target="token")
    assert get_patient(client, token).status_code == 200
    resp = client.post("/auth/token", data={"grant_type": "refresh_token", "client_id": "test-app",
                                            "refresh_token": token["refresh_token"]})
    assert resp.status_code == 500 and resp.json["error"] == "temporarily_unavailable"
    faults.clear(sandbox_app)
    faults.set(sandbox_app, "status", status=502, path="/fhir/Observation")
    assert get_patient(client, token).status_code == 200
    assert client.get(f"/fhir/Observation?patient={SEPTIC}", headers=bearer(token)).status_code == 502


def test_probability_faults_are_repeatable_by_seed(sandbox_app, client, token):
    faults.set(sandbox_app, "status", status=503, probability=0.5)
    statuses = [get_patient(client, token).status_code for _ in range(40)]
    assert 5 < statuses.count(503) < 35 and statuses.count(200) == 40 - statuses.count(503)


@pytest.mark.parametrize("kind, options", [("bogus", {}), ("status", {"status": 404}), ("delay", {"seconds": 0}),
                                           ("junk", {"body": "xml"}), ("status", {"target": "ehr"}),
                                           ("status", {"times": 0})])
def test_malformed_faults_are_refused(sandbox_app, kind, options):
    with pytest.raises(FaultError):
        faults.set(sandbox_app, kind, **options)


def test_http_endpoint_adds_lists_and_clears(client, token):
    resp = client.post("/_sandbox/faults", json={"kind": "status", "status": 503, "times": 1})
    assert resp.status_code == 201 and resp.json["status"] == 503
    assert [f["kind"] for f in client.get("/_sandbox/faults").json["faults"]] == ["status"]
    assert client.post("/_sandbox/faults", json={"kind": "nope"}).status_code == 400
    client.post("/_sandbox/faults", json={"kind": "throttle"})
    assert client.delete("/_sandbox/faults").json == {"faults": []}
    assert get_patient(client, token).status_code == 200
    client.post("/_sandbox/faults", json={"kind": "expire_tokens"})
    assert get_patient(client, token).status_code == 401


def test_http_endpoint_can_be_switched_off():
    app = create_sandbox({"LOAD_SAMPLE_PATIENTS": False, "FAULTS_HTTP": False})
    assert app.test_client().post("/_sandbox/faults", json={"kind": "status"}).status_code == 404
