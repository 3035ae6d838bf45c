"""The SMART EHR launch as a hospital would try it, and every way it must refuse, asserting what the user sees."""

from urllib.parse import parse_qs, urlsplit

import requests

from tests.support.launch import PUBLIC_URL, SEPTIC, ehr_launch_url, follow_authorize


def test_nurse_and_provider_land_on_the_patient_page_with_banner_and_role(launch):
    for role in ("nurse", "provider"):
        launched = launch(role, app_banner="1")  # the EHR asks the app for its banner: need_patient_banner true
        text = launched.page.get_data(as_text=True)
        assert launched.page.status_code == 200
        assert 'id="patient-banner"' in text and "Margaret Holloway" in text
        assert f'id="role">{role}<' in text


def test_need_patient_banner_false_hides_the_apps_banner_but_the_page_still_names_the_patient(launch):
    text = launch("nurse").page.get_data(as_text=True)  # the sandbox chart shows its own banner: false
    assert 'id="patient-banner"' not in text
    assert '<h1 class="visually-hidden" id="page-title">Sepsis Sentinel for Margaret Holloway</h1>' in text


def test_authorize_request_carries_pkce_s256_state_aud_and_launch(app, ehr):
    client = app.test_client()
    url = urlsplit(ehr_launch_url(ehr, "nurse", SEPTIC))
    resp = client.get(f"{url.path}?{url.query}")
    params = parse_qs(urlsplit(resp.headers["Location"]).query)
    assert params["code_challenge_method"] == ["S256"] and len(params["code_challenge"][0]) == 43
    assert params["aud"] == [f"{ehr.base_url}/fhir"]
    assert "launch" in params and len(params["state"][0]) >= 32
    assert params["redirect_uri"] == [f"{PUBLIC_URL}/callback"]


def _to_callback(app, ehr):
    client = app.test_client()
    url = urlsplit(ehr_launch_url(ehr, "nurse", SEPTIC))
    launch_resp = client.get(f"{url.path}?{url.query}")
    reply = requests.get(launch_resp.headers["Location"], allow_redirects=False, timeout=10)
    return client, urlsplit(reply.headers["Location"])


def test_replayed_state_is_refused_with_a_relaunch_message(app, ehr):
    client, cb = _to_callback(app, ehr)
    assert client.get(f"{cb.path}?{cb.query}").status_code == 303
    again = client.get(f"{cb.path}?{cb.query}")
    assert again.status_code == 400
    assert "already used, has expired" in again.get_data(as_text=True)


def test_tampered_state_is_refused(app, ehr):
    client, cb = _to_callback(app, ehr)
    q = parse_qs(cb.query)
    resp = client.get(cb.path, query_string={"code": q["code"][0], "state": q["state"][0][:-2] + "xx"})
    assert resp.status_code == 400
    assert "open Sepsis Sentinel again" in resp.get_data(as_text=True)


def test_state_from_another_browser_is_refused(app, ehr):
    _, cb = _to_callback(app, ehr)
    stranger = app.test_client()  # has no launch cookie: a login-CSRF attempt
    resp = stranger.get(f"{cb.path}?{cb.query}")
    assert resp.status_code == 400


def test_iss_not_on_the_allow_list_is_refused_before_any_request(app):
    resp = app.test_client().get("/launch", query_string={"iss": "https://attacker.example/fhir", "launch": "x"})
    assert resp.status_code == 403
    assert "not registered with Sepsis Sentinel" in resp.get_data(as_text=True)
    assert "Location" not in resp.headers


def test_another_patients_url_with_my_session_is_403(launch):
    launched = launch("nurse")
    resp = launched.client.get("/patients/demo-108952")
    assert resp.status_code == 403
    assert "other than the one you opened" in resp.get_data(as_text=True)


def test_no_session_is_401_with_instructions(app):
    resp = app.test_client().get(f"/patients/{SEPTIC}")
    assert resp.status_code == 401
    assert "from the patient's chart" in resp.get_data(as_text=True)


def test_two_charts_open_in_one_browser_each_keep_their_patient(launch):
    first = launch("nurse", SEPTIC)
    launch("nurse", "demo-108952", client=first.client)
    assert first.client.get(f"/patients/{SEPTIC}").status_code == 200
    assert first.client.get("/patients/demo-108952").status_code == 200


def test_callback_with_error_from_ehr_explains(app, ehr):
    client, cb = _to_callback(app, ehr)
    q = parse_qs(cb.query)
    resp = client.get(cb.path, query_string={"error": "access_denied", "state": q["state"][0]})
    assert resp.status_code == 403
    assert "did not authorize" in resp.get_data(as_text=True)


def test_security_headers_on_the_patient_page(launch):
    page = launch("nurse").page
    assert "frame-ancestors" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert "no-store" in page.headers["Cache-Control"]


def test_launch_is_audited(launch, app):
    from app.audit import entries

    launch("provider")
    actions = {e["action"] for e in entries(app.extensions["sentinel"].engine)}
    assert {"launch", "view_patient"} <= actions
    _ = follow_authorize  # the helper is shared with other launch tests
