"""The unit board page over a real launch: rows from the screening's records, links only to patients this browser
holds a session for, the htmx fragment, an unscreened unit refused, and the view audited."""

from __future__ import annotations

import html

import sqlalchemy as sa

from app.alerts.workflow import Scope
from app.assessment import assess_and_sync
from app.audit import audit_log
from app.screening import history
from tests.support.builders import m, stub_model
from tests.support.launch import SEPTIC

UNIT = "Location/sandbox-micu"


def vitals(sbp):
    return [m("sbp", sbp, 0), m("heart_rate", 118, 0), m("resp_rate", 24, 0), m("spo2", 94, 0)]


def test_the_board_lists_the_units_patients_and_links_those_this_browser_may_open(make_app, launch_with, ehr):
    app = make_app(screen_locations=(UNIT,))
    nurse = launch_with(app, "nurse", SEPTIC)
    svc = app.extensions["sentinel"]
    now = svc.clinical_now()
    for pid, sbp in ((SEPTIC, 84), ("demo-108289", 125)):
        scope = Scope(iss=f"{ehr.base_url}/fhir", patient_id=pid, encounter_id=f"{pid}-icu")
        assess_and_sync(svc.engine, scope, [x.__class__(x.concept, x.value, now) for x in vitals(sbp)],
                        now, source=history.SCREENING, model=stub_model(),
                        care_unit=lambda: "MICU", location=UNIT, location_display="MICU")
    page = html.unescape(nurse.client.get(f"/board?unit={UNIT}").get_data(as_text=True))
    assert 'id="board-table"' in page and f"Unit board: {UNIT}" in page
    assert f'href="/patients/{SEPTIC}"' in page
    assert "demo-108289 <span class=\"hint\">(open the chart in the EHR)</span>" in page
    assert page.index(f'id="board-row-{SEPTIC}"') < page.index('id="board-row-demo-108289"')  # the alert first
    fragment = nurse.client.get(f"/board/rows?unit={UNIT}").get_data(as_text=True)
    assert fragment.lstrip().startswith('<div id="board-rows"') and 'hx-trigger="every 30s"' in fragment
    assert nurse.client.get("/board?unit=Location/elsewhere").status_code == 404
    with svc.engine.connect() as conn:
        views = conn.execute(sa.select(audit_log.c.detail).where(audit_log.c.action == "view_board")).scalars().all()
    assert views[0] == {"unit": UNIT, "rows": 2}


def test_the_board_needs_a_session(app):
    assert app.test_client().get("/board").status_code in (401, 403)


def test_a_user_level_launch_with_a_unit_opens_the_board_with_a_session_bound_to_no_patient(make_app, ehr):
    import re
    from urllib.parse import urlsplit

    import requests

    from tests.support.launch import follow_authorize

    app = make_app(screen_locations=("Location/sandbox-sicu", UNIT))
    page = requests.get(f"{ehr.base_url}/ehr/board", params={"user": "nurse", "unit": UNIT}, timeout=10).text
    src = urlsplit(html.unescape(re.search(r'<iframe id="app"[^>]*src="([^"]+)"', page).group(1)))
    client = app.test_client()
    callback = follow_authorize(client, client.get(f"{src.path}?{src.query}"))
    assert callback.status_code == 303 and callback.headers["Location"] == f"/board?unit={UNIT}"
    assert client.get(callback.headers["Location"]).status_code == 200
    # the session keeps the launch's unit (fhirContext): the board without ?unit= is that unit's, not the first's
    assert f"Unit board: {UNIT}" in client.get("/board").get_data(as_text=True)
    assert client.get(f"/patients/{SEPTIC}").status_code in (401, 403)  # bound to no patient: no bedside page


def test_a_launch_with_neither_patient_nor_unit_is_still_refused(make_app, ehr):
    from sandbox.auth.models import EndUser
    from sandbox.state import of
    from tests.support.launch import follow_authorize

    app = make_app(screen_locations=(UNIT,))
    client_id = next(c for c in of(ehr).auth.clients.values() if c.launch_url).client_id
    launch = of(ehr).auth.new_launch(client_id, EndUser("nurse"))
    client = app.test_client()
    callback = follow_authorize(client, client.get(f"/launch?iss={ehr.base_url}/fhir&launch={launch.launch_id}"))
    assert callback.status_code >= 400
