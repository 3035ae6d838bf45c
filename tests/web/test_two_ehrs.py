"""A hospital's production and test EHRs are both allow-listed and both have the same patient ids: each EHR's
patient gets its own alert and its own nurse screening, and an alert id of one never answers for the other."""

from __future__ import annotations

import pytest

from app.alerts import store
from app.alerts.workflow import Scope
from app.audit import entries
from app.nursing import form as screening
from app.smart import load_registration
from sandbox import register_client
from tests.support.builders import stub_model
from tests.support.ehr import served_sandbox
from tests.support.launch import PUBLIC_URL, SEPTIC, run_launch
from tests.support.web import alert_id_of, csrf_of, sid


@pytest.fixture
def second_ehr():
    """Another sandbox EHR on its own port: the same demo patients, another FHIR base."""
    with served_sandbox(sample_patients=True) as ehr:
        yield ehr


@pytest.fixture
def two_ehr_app(make_app, ehr, second_ehr):
    app = make_app(iss_allowlist=(f"{ehr.base_url}/fhir", f"{second_ehr.base_url}/fhir"))
    reg = load_registration(app.extensions["sentinel"].settings.smart_launch_file)
    register_client(second_ehr, reg.client_id, [reg.redirect_uri(PUBLIC_URL)], reg.launch_uri(PUBLIC_URL),
                    client_secret=None, scope=f"{reg.ehr_launch_scope} {reg.standalone_launch_scope}")
    app.extensions["sentinel"].model = stub_model()
    return app


def test_the_same_patient_on_two_ehrs_has_two_alerts_and_two_screenings(two_ehr_app, ehr, second_ehr):
    app, engine = two_ehr_app, two_ehr_app.extensions["sentinel"].engine
    on_prod = run_launch(app, ehr, "nurse", SEPTIC)
    on_test = run_launch(app, second_ehr, "nurse", SEPTIC)
    prod_alert, test_alert = (alert_id_of(x.page.get_data(as_text=True)) for x in (on_prod, on_test))
    assert prod_alert != test_alert  # before, both EHRs' Patient/demo-102421 shared one alert
    saved = on_prod.client.post(f"/patients/{SEPTIC}/screening", data={
        "csrf_token": csrf_of(on_prod.page.get_data(as_text=True)), "submission_id": sid(),
        "infection_source": "lung", "new_confusion": "no"})
    assert saved.status_code == 303
    prod_scope = Scope(iss=f"{ehr.base_url}/fhir", patient_id=SEPTIC, encounter_id=f"{SEPTIC}-icu")
    test_scope = Scope(iss=f"{second_ehr.base_url}/fhir", patient_id=SEPTIC, encounter_id=f"{SEPTIC}-icu")
    assert screening.latest(engine, prod_scope).infection_source == "lung"
    assert screening.latest(engine, test_scope) is None  # the test EHR's nurse sees no screening of the other
    assert (store.get(engine, prod_alert).iss, store.get(engine, test_alert).iss) == (prod_scope.iss, test_scope.iss)
    launches = entries(engine, action="launch")  # the audit says which EHR each Patient/demo-102421 was on
    assert sorted(e["iss"] for e in launches) == sorted([prod_scope.iss, test_scope.iss])


def test_an_alert_of_one_ehr_cannot_be_decided_from_the_other(two_ehr_app, ehr, second_ehr):
    app, engine = two_ehr_app, two_ehr_app.extensions["sentinel"].engine
    prod_alert = alert_id_of(run_launch(app, ehr, "provider", SEPTIC).page.get_data(as_text=True))
    on_test = run_launch(app, second_ehr, "provider", SEPTIC)
    resp = on_test.client.post(f"/patients/{SEPTIC}/alerts/{prod_alert}/confirm",
                               data={"csrf_token": csrf_of(on_test.page.get_data(as_text=True)),
                                     "submission_id": sid()})
    assert resp.status_code == 404
    assert store.get(engine, prod_alert).state == "active"
