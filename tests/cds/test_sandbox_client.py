"""The sandbox EHR as a CDS Hooks client, end to end on the live demo stack: opening a chart calls the hook with a
JWT signed by the EHR's own key (published as a JWKS the app fetches), the card shows above the chart, its SMART
link launches the app with appContext (in the token response) and lands on that alert; a decided alert shows no
card; setting a card aside sends feedback that changes nothing about the alert."""

from __future__ import annotations

import html
import json
import re
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import sqlalchemy as sa

from app.alerts import store as alerts
from app.alerts.workflow import ACTIVE, Actor, Decision
from app.cds import store as cds_store
from app.smart import discovery
from sandbox import stack as demo

SEPTIC, QUIET = "demo-102421", "demo-108289"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cds")
    original = demo.DEMO_BACKEND_KEY
    demo.DEMO_BACKEND_KEY = folder / "backend_key.pem"
    try:
        stack = demo.start_stack(app_overrides={"database_url": f"sqlite:///{folder / 'app.db'}"},
                                 sandbox_settings={"LOAD_SAMPLE_PATIENTS": False,
                                                   "CDS_TIMEOUT": 30})  # a busy CI machine
    finally:
        demo.DEMO_BACKEND_KEY = original
    yield stack
    stack.shutdown()
    discovery._CACHE.clear()


def chart(stack, patient: str, **extra) -> str:
    resp = requests.get(f"{stack.ehr_url}/ehr/chart", params={"user": "provider", "patient": patient, **extra},
                        timeout=20)
    resp.raise_for_status()
    return resp.text


def cards_of(page: str) -> list[str]:
    return re.findall(r'<article class="cds-card[^"]*" data-indicator="(\w+)"', page)


def card_link(page: str) -> str:
    return html.unescape(re.search(r'<a class="cds-link" href="([^"]+)"', page).group(1))


def test_a_chart_open_shows_the_card_and_its_link_opens_that_alert(stack):
    page = chart(stack, SEPTIC)
    assert cards_of(page) == ["critical"]
    assert "Sepsis risk" in page and 'id="cds-problem"' not in page
    link = urlsplit(card_link(page))
    app_context = parse_qs(link.query)["appContext"][0]
    alert_id = json.loads(app_context)["alert"]
    engine = stack.app.extensions["sentinel"].engine
    assert alerts.get(engine, alert_id).patient_id == SEPTIC

    # following the link: the EHR says the card was accepted, and launches the app with the link's appContext
    launched = requests.get(f"{stack.ehr_url}{link.path}?{link.query}", timeout=20)
    src = html.unescape(re.search(r'<iframe id="app"[^>]*src="([^"]+)"', launched.text).group(1))
    assert cds_store.card_counts(engine).accepted == 1
    browser = requests.Session()
    to_ehr = browser.get(src, allow_redirects=False, timeout=20)
    back = browser.get(to_ehr.headers["Location"], allow_redirects=False, timeout=20)
    callback = browser.get(back.headers["Location"], allow_redirects=False, timeout=20)
    assert callback.status_code == 303
    landing = urlsplit(callback.headers["Location"])
    assert landing.path == f"/patients/{SEPTIC}" and parse_qs(landing.query)["alert"] == [str(alert_id)]
    assert landing.fragment == "assessment"
    assert browser.get(f"{stack.app_url}{landing.path}", timeout=20).status_code == 200
    from app.db import sessions

    with engine.connect() as conn:
        kept = conn.execute(sa.select(sessions.c.app_context, sessions.c.fhir_context).where(
            sessions.c.app_context.is_not(None))).all()
    assert [(json.loads(a), f) for a, f in kept] == [({"alert": alert_id}, [f"Encounter/{SEPTIC}-icu"])]


def test_a_decided_alert_shows_no_card_and_an_override_changes_nothing(stack):
    page = chart(stack, SEPTIC)
    engine = stack.app.extensions["sentinel"].engine
    card = re.search(r'name="card" value="([^"]+)"', page).group(1)
    alert_id = json.loads(parse_qs(urlsplit(card_link(page)).query)["appContext"][0])["alert"]
    resp = requests.post(f"{stack.ehr_url}/ehr/cds-override", data={
        "card": card, "user": "provider", "patient": SEPTIC,
        "reason": "urn:sepsis-sentinel:cds-override-reason|treating",
        "display-urn:sepsis-sentinel:cds-override-reason|treating": "Already being treated"}, timeout=20)
    assert resp.status_code == 200  # redirected back to the chart
    assert cds_store.card_counts(engine).reasons == {"Already being treated": 1}
    assert alerts.get(engine, alert_id).state == ACTIVE
    alerts.decide(engine, alert_id, Decision("confirm"), Actor("Practitioner/provider", "Dr", "provider"),
                  str(uuid.uuid4()), stack.app.extensions["sentinel"].clinical_now())
    assert cards_of(chart(stack, SEPTIC)) == []


def test_a_quiet_patient_has_no_card_and_a_refused_call_says_so(stack):
    assert cards_of(chart(stack, QUIET)) == []
    services = stack.app.extensions["sentinel"]
    clients = services.settings.cds_clients
    object.__setattr__(services.settings, "cds_clients", {})  # the app no longer knows this EHR
    try:
        page = chart(stack, QUIET)
    finally:
        object.__setattr__(services.settings, "cds_clients", clients)
    assert "refused the call (HTTP 403)" in page and 'id="app"' in page
