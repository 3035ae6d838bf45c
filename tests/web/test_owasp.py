"""OWASP Top 10 (2021), the items that apply to an app embedded in an EHR, each with the test that covers it.

| item | what it means here | tests |
|---|---|---|
| A01 Broken access control | patient binding, roles, ids of other patients' records, one clinician per browser, records of another EHR | test_launch.py (another patient's URL: 403), test_alerts_workflow.py (nurse forged POST: 403), test_shared_workstation.py + e2e/test_shared_workstation.py (the next user's launch ends the previous user's sessions; Sign out), test_two_ehrs.py + alerts/test_store.py (the same patient id on two EHRs), smart/test_context.py (role only from the user's own active, current PractitionerRole), below: IDOR (alerts, bundle cells, feedback alert ids, feedback of the same user id on another EHR) |
| A02 Cryptographic failures | tokens at rest, cookies, HTTPS, one key for every worker | smart/test_sessions.py (encrypted), test_security.py (Secure cookies), test_startup.py (one 0600 key file for all workers, refused in production), test_config.py (hand-made secrets, http iss refused in production), below: production needs HTTPS |
| A03 Injection | SQL, HTML, FHIR search parameters | below: hostile ids and text, escaped output |
| A04 Insecure design (resource bounds) | answers the app must read | fhir/test_bounded.py (size cap while streaming, total deadline while bytes trickle in, nesting, entries per page), test_small_holes.py (deep JSON gives the "no score" page; a /launch flood is bounded), test_startup.py (workers migrating at once) |
| A05 Security misconfiguration | headers, debug, error pages, mistyped modes | test_security.py (CSP, nosniff, no-store), test_config.py (SENTINEL_ENV only production/development/test; frame-ancestors * refused in production), below: no traceback, no debug |
| A06 Vulnerable components | pinned front-end code | test_architecture.py (htmx sha256) |
| A07 Identification and authentication | state, PKCE, id_token, expiry, fixation, short tokens | test_launch*.py, test_security.py, smart/test_idtoken.py (iss must be the launch's without a discovery issuer; JWKS refetched at most once a minute on a bad signature), smart/test_tokens.py (a 60 s token gives a page), below: a made-up session id is refused |
| A08 Software and data integrity | the model file is pickle | model/test_artifact*.py (sha256 checked before loading) |
| A09 Logging and monitoring | audit, no PHI in logs, no forged lines | test_alerts_workflow.py (forbidden attempts audited), test_shared_workstation.py (ended sessions audited), test_small_holes.py (a newline in ?error= forges no log line), e2e/test_zz_logs.py |
| A10 Server-side request forgery | iss, next links, fhirUser, redirects | test_launch.py (iss allow-list), fhir/test_paging.py (foreign next link), smart/test_context.py, fhir/test_bounded.py (no redirect followed on FHIR, discovery, token, JWKS or the launch's reads), test_small_holes.py (a tab in a back link) |
"""

import pytest

from app import create_app
from app.alerts import store
from app.config import ConfigError
from app.web.guards import SESSION_COOKIE
from tests.support.builders import stub_model
from tests.support.web import alert_id_of, csrf_of, sid

A, B = "demo-102421", "demo-108952"


@pytest.fixture
def app(make_app):
    app = make_app()
    app.extensions["sentinel"].model = stub_model()  # both septic demo patients alert
    return app


def test_a01_an_alert_of_another_patient_cannot_be_decided_through_my_patient(app, launch):
    mine = launch("provider", A)
    theirs = launch("provider", B)
    their_alert = alert_id_of(theirs.page.get_data(as_text=True))
    token = csrf_of(mine.page.get_data(as_text=True))
    resp = mine.client.post(f"/patients/{A}/alerts/{their_alert}/confirm",
                            data={"csrf_token": token, "submission_id": sid()})
    assert resp.status_code in (403, 404)
    assert store.get(app.extensions["sentinel"].engine, their_alert).state == "active"


def _a_placed_order_on_a(launch):
    """Provider on patient A confirms A's alert and orders lactate; returns A's alert id."""
    mine = launch("provider", A)
    alert_id = alert_id_of(mine.page.get_data(as_text=True))
    token = csrf_of(mine.page.get_data(as_text=True))
    assert mine.client.post(f"/patients/{A}/alerts/{alert_id}/confirm",
                            data={"csrf_token": token, "submission_id": sid()}).status_code == 303
    placed = mine.client.post(f"/patients/{A}/alerts/{alert_id}/orders/lactate",
                              data={"csrf_token": token, "submission_id": sid()}, headers={"HX-Request": "true"})
    assert placed.status_code == 200 and "ServiceRequest/" in placed.get_data(as_text=True)
    return alert_id


@pytest.mark.parametrize("form", [
    {},  # the expired-form path: no submission id, the cell is rendered from the URL's alert id
    {"submission_id": "0" * 32, "choice": "not-a-medicine"},  # the invalid-order path (antibiotics below)
    {"submission_id": "1" * 32},  # a valid order form: place_order's own check
])
def test_a01_a_bundle_cell_never_shows_another_patients_orders(app, launch, form):
    a_alert = _a_placed_order_on_a(launch)
    on_b = launch("provider", B)
    element = "antibiotics" if "choice" in form else "blood_cultures"
    resp = on_b.client.post(f"/patients/{B}/alerts/{a_alert}/orders/{element}",
                            data={"csrf_token": csrf_of(on_b.page.get_data(as_text=True)), **form},
                            headers={"HX-Request": "true"})
    assert resp.status_code == 404
    assert "ServiceRequest/" not in resp.get_data(as_text=True) and "Lactate" not in resp.get_data(as_text=True)


def test_a01_feedback_about_another_patients_alert_does_not_name_that_alert(app, launch):
    theirs = alert_id_of(launch("provider", B).page.get_data(as_text=True))
    mine = launch("nurse", A)
    token = csrf_of(mine.page.get_data(as_text=True))
    assert mine.client.post("/feedback", data={"csrf_token": token, "kind": "question", "text": "why?",
                                               "page": f"/patients/{A}", "alert": str(theirs)}).status_code == 303
    from app import feedback

    [item] = feedback.listing(app.extensions["sentinel"].engine)
    assert item.context.patient_id == A and item.context.alert_id != str(theirs)


def test_a01_feedback_sent_by_the_same_user_id_on_another_ehr_is_not_theirs(app, launch):
    from app import feedback

    nurse = launch("nurse", A)
    engine, clock = app.extensions["sentinel"].engine, app.extensions["sentinel"].clock
    other_ehr = feedback.submit(engine, kind="question", text="x", user_ref="Practitioner/nurse",
                                iss="https://test-ehr.example.org/fhir", role="nurse", context=feedback.Context(),
                                now=clock(), mail_enabled=False)
    assert nurse.client.get(f"/feedback/{other_ehr}/sent").status_code == 404


def test_a02_production_refuses_to_start_without_https_and_a_real_secret(tmp_path):
    base = {"database_url": f"sqlite:///{tmp_path}/p.db", "env": "production", "iss_allowlist": ("https://e/fhir",)}
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app(base)
    with pytest.raises(ConfigError, match="COOKIE_SECURE"):
        create_app({**base, "secret_key": "x" * 40})
    with pytest.raises(ConfigError, match="PUBLIC_URL"):
        create_app({**base, "secret_key": "x" * 40, "cookie_secure": True, "public_url": "http://app"})


@pytest.mark.parametrize("path", ["/patients/1'%20OR%20'1'='1", "/patients/..%2F..%2Fetc", "/patients/%3Cscript%3E"])
def test_a03_hostile_patient_ids_are_refused_not_run(launch, path):
    resp = launch("nurse", A).client.get(path)
    assert resp.status_code in (403, 404)
    assert "<script>" not in resp.get_data(as_text=True)


def test_a03_text_is_escaped_wherever_it_is_shown(app, launch):
    nurse = launch("nurse", A)
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    token = csrf_of(nurse.page.get_data(as_text=True))
    assert nurse.client.post("/feedback", data={"csrf_token": token, "kind": "question", "text": evil,
                                                "page": f"/patients/{A}"}).status_code in (200, 303)
    team = launch("deployment", A)
    inbox = team.client.get("/feedback/inbox").get_data(as_text=True)
    item = next(line for line in inbox.split('href="') if line.startswith("/feedback/inbox/"))
    shown = team.client.get(item.split('"')[0]).get_data(as_text=True)
    assert "&lt;script&gt;" in shown and evil not in shown


def test_a05_an_unexpected_error_shows_no_traceback(app, launch, monkeypatch):
    import app.web.snapshot as patient_views

    def boom(*args, **kwargs):
        raise RuntimeError("internal detail /srv/secret.py line 42")

    monkeypatch.setattr(patient_views, "take_snapshot", boom)
    resp = launch("nurse", A).client.get(f"/patients/{A}")
    text = resp.get_data(as_text=True)
    assert resp.status_code == 500
    assert "Traceback" not in text and "secret.py" not in text and "unexpected error" in text
    assert not app.debug


def test_a07_a_session_id_the_server_never_issued_is_refused(app):
    client = app.test_client()
    client.set_cookie(SESSION_COOKIE, "attacker-chosen-id", domain="localhost")
    assert client.get(f"/patients/{A}").status_code == 401
