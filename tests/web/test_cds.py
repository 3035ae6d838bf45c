"""CDS Hooks over HTTP: discovery, the hook's status codes for each refused call, a card for a screened alert,
and feedback; no session or CSRF token is needed (the EHR calls server to server with its JWT)."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
import responses

from app import create_app
from app.alerts.workflow import Scope
from app.assessment import assess_and_sync
from app.cds import store as cds_store
from tests.support.builders import NOW, m, stub_model
from tests.support.cds_client import CLIENT, JWKS_URL, SERVICE_URL, Client
from tests.support.fhir import BASE, PATIENT

HOOK_PATH = "/cds-services/sepsis-sentinel"
SEPTIC = [m("sbp", 82, 1), m("heart_rate", 118, 1), m("resp_rate", 26, 1), m("spo2", 93, 1)]


@pytest.fixture
def ehr():
    client = Client()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get(JWKS_URL, json=client.key.jwks())
        yield client


@pytest.fixture
def app(database_url):
    app = create_app({"database_url": database_url, "testing": True, "public_url": "http://sentinel.test",
                      "iss_allowlist": (BASE,), "cds_clients": {CLIENT: JWKS_URL},
                      "clinical_clock": lambda: NOW + timedelta(minutes=5)})
    app.extensions["sentinel"].model = stub_model()
    yield app
    app.extensions["sentinel"].engine.dispose()


def body():
    return {"hook": "patient-view", "hookInstance": str(uuid.uuid4()), "fhirServer": BASE,
            "context": {"userId": "Practitioner/dr", "patientId": PATIENT, "encounterId": "enc-1"}}


def test_discovery_lists_the_patient_view_service_with_its_prefetch(app):
    doc = app.test_client().get("/cds-services").get_json()
    [svc] = doc["services"]
    assert (svc["hook"], svc["id"]) == ("patient-view", "sepsis-sentinel")
    assert svc["prefetch"]["patient"] == "Patient/{{context.patientId}}"
    assert svc["prefetch"]["observations"].startswith("Observation?patient={{context.patientId}}")
    assert svc["description"]


@pytest.mark.parametrize("make, status", [
    (lambda ehr: None, 401),
    (lambda ehr: ehr.bearer(key=Client().key, header=ehr.key.header()), 401),  # wrong signature
    (lambda ehr: ehr.bearer(aud="http://sentinel.test/cds-services/other"), 401),
    (lambda ehr: ehr.bearer(exp_in=-600), 401),  # expired
    (lambda ehr: Client("https://unknown.example").bearer(), 403),
])
def test_refused_calls(app, ehr, make, status):
    header = make(ehr)
    resp = app.test_client().post(HOOK_PATH, json=body(), headers={"Authorization": header} if header else {})
    assert resp.status_code == status
    assert resp.get_json()["error"]
    if status == 401:
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_replayed_call_is_401(app, ehr):
    header = {"Authorization": ehr.bearer()}
    client = app.test_client()
    assert client.post(HOOK_PATH, json=body(), headers=header).status_code == 200
    resp = client.post(HOOK_PATH, json=body(), headers=header)
    assert (resp.status_code, resp.get_json()["error"]) == (401, "jwt_replayed")


def test_a_screened_alert_is_a_card_and_its_feedback_is_recorded(app, ehr):
    engine = app.extensions["sentinel"].engine
    alert = assess_and_sync(engine, Scope(iss=BASE, patient_id=PATIENT, encounter_id="enc-1"), SEPTIC, NOW,
                            source="screening",
                            model=stub_model(), care_unit=lambda: "MICU").alert
    client = app.test_client()
    resp = client.post(HOOK_PATH, json=body(), headers={"Authorization": ehr.bearer()})
    assert resp.status_code == 200, resp.get_json()
    [card] = resp.get_json()["cards"]
    assert json.loads(card["links"][0]["appContext"]) == {"alert": alert.id}
    assert card["links"][0]["url"] == "http://sentinel.test/launch"
    assert card["source"]["url"] == "http://sentinel.test/transparency"

    feedback = {"feedback": [{"card": card["uuid"], "outcome": "overridden", "outcomeTimestamp": NOW.isoformat(),
                              "overrideReason": {"reason": {"code": "treating"}}}]}
    wrong_aud = client.post(f"{HOOK_PATH}/feedback", json=feedback, headers={"Authorization": ehr.bearer()})
    assert wrong_aud.status_code == 401  # the feedback endpoint is its own audience
    resp = client.post(f"{HOOK_PATH}/feedback", json=feedback,
                       headers={"Authorization": ehr.bearer(aud=f"{SERVICE_URL}/feedback")})
    assert resp.status_code == 200 and resp.get_json() == {"recorded": 1}
    assert cds_store.card_counts(engine).reasons == {"treating": 1}


def test_a_malformed_call_is_400_and_another_service_404(app, ehr):
    client = app.test_client()
    resp = client.post(HOOK_PATH, json={"hook": "patient-view"}, headers={"Authorization": ehr.bearer()})
    assert resp.status_code == 400 and "hookInstance" in resp.get_json()["message"]
    resp = client.post("/cds-services/other", json=body(), headers={"Authorization": ehr.bearer()})
    assert resp.status_code == 404


def test_calls_are_counted_for_operations(app, ehr):
    from app.ops.metrics import CDS_CALLS

    def count(outcome, path=""):
        return CDS_CALLS.labels(outcome, path)._value.get()

    before = (count("no_card", "stored"), count("unknown_client"))
    client = app.test_client()
    client.post(HOOK_PATH, json=body(), headers={"Authorization": ehr.bearer()})
    client.post(HOOK_PATH, json=body(), headers={"Authorization": Client("https://x.example").bearer()})
    assert (count("no_card", "stored"), count("unknown_client")) == (before[0] + 1, before[1] + 1)
