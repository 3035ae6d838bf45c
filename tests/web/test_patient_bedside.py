"""The bedside page through the Flask test client and a real EHR launch, on SQLite and PostgreSQL: what a nurse,
a provider and the deployment team see (issue 5 item 3; issue 4 item 5), and the nurse screening form."""

from __future__ import annotations

import re

from app.alerts import store
from app.audit import entries
from tests.support import alert_pages
from tests.support.builders import stub_model
from tests.support.launch import SEPTIC, SPARSE
from tests.support.web import csrf_of, hx, scope_of, sid, text_of

NO_ORGAN_DYSFUNCTION = "demo-104673"

# The bedside tests' clock and app (with the stub model).
clock, app = alert_pages.clock, alert_pages.app


def test_nurse_sees_all_three_sections_with_risk_in_words_signs_stars_and_trends(launch, app):
    page = launch("nurse", SEPTIC).page
    html = page.get_data(as_text=True)
    text = text_of(html)
    assert page.status_code == 200
    assert 'id="nursing"' in html and 'id="alert-panel"' in html and 'id="bundle"' in html
    assert 'data-level="alert"' in html
    assert "Sepsis alert: risk above this site's alert threshold, with a sign of organ dysfunction" in text
    assert "Estimated risk 85%; the site alerts at 50% or more" in text
    assert re.search(r"Systolic BP 8\d mmHg at \d\d:\d\d \(Systolic BP < 90 mmHg\)", text)
    starred = re.findall(r'<tr class="starred[^"]*" data-concept="(\w+)"', html)
    assert set(starred) == {"sbp", "map", "dbp"}  # one blood pressure is one measurement; in both tables
    assert html.count('class="sparkline"') == 6 and "<polyline" in html
    assert "Sepsis Sentinel assists; the clinician decides." in text
    assert 'id="transparency-link"' in html


def test_the_page_has_no_inline_script_or_style_for_the_csp(launch):
    html = launch("provider", SEPTIC).page.get_data(as_text=True)
    assert " style=" not in html and "<style" not in html
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)


def test_nurse_sees_the_alert_but_cannot_decide_or_order(launch):
    html = launch("nurse", SEPTIC).page.get_data(as_text=True)
    assert 'id="active-alert"' in html
    assert re.search(r'<button type="submit" id="confirm-alert" disabled aria-describedby="decide-why"', html)
    assert ("Only a provider can confirm, dismiss or pause a sepsis alert; you are signed in as a nurse. Tell the "
            "provider if you are concerned.") in text_of(html)
    assert re.search(r'<button type="submit" id="save-screening">', html)  # nurses do screen


def test_provider_sees_enabled_actions(launch):
    html = launch("provider", SEPTIC).page.get_data(as_text=True)
    assert re.search(r'<button type="submit" id="confirm-alert" >', html)
    assert "decide-why" not in html


def test_high_risk_without_organ_dysfunction_is_watch_and_raises_no_alert(launch, app):
    app.extensions["sentinel"].model = stub_model(sbp_cut=500)  # everyone high risk
    launched = launch("provider", NO_ORGAN_DYSFUNCTION)
    html = launched.page.get_data(as_text=True)
    assert 'data-level="watch"' in html and "no sign of organ dysfunction yet: watch" in text_of(html)
    assert 'id="active-alert"' not in html and "None in the last 6 hours" in text_of(html)
    assert store.newest(app.extensions["sentinel"].engine, scope_of(app, NO_ORGAN_DYSFUNCTION)) is None


def test_an_abstaining_model_shows_no_number_and_says_what_is_missing_with_last_seen(launch, app, clock):
    launched = launch("nurse", SPARSE)
    clock.advance(hours=7)  # its one set of vital signs is now older than the model's 6 hours
    html = launched.client.get(f"/patients/{SPARSE}").get_data(as_text=True)
    text = text_of(html)
    assert 'data-level="abstain"' in html and 'id="risk-number"' not in html and "Estimated risk" not in text
    assert "No risk score is shown, because these measurements are missing or too old" in text
    assert re.search(r"Heart rate ?: last measured [\w ]*\d\d:\d\d, more than 6 hours ago", text)
    assert 'id="active-alert"' not in html


def test_without_a_model_the_page_says_so_and_never_alerts(launch, app, monkeypatch):
    from app.bedside import page as bedside
    from app.model import ModelArtifactError

    def missing():
        raise ModelArtifactError("no artifact")

    app.extensions["sentinel"].model = None
    monkeypatch.setattr(bedside, "load_model", missing)
    html = launch("provider", SEPTIC).page.get_data(as_text=True)
    assert 'data-level="unavailable"' in html and "risk model has not been installed" in text_of(html)
    assert 'id="active-alert"' not in html


def test_data_used_and_not_used_lists_with_reasons_and_round_trips(launch, app):
    launched = launch("nurse", SEPTIC)
    html = launched.page.get_data(as_text=True)
    text = text_of(html)
    assert 'id="data-used"' in html and re.search(r"Systolic BP \d+ ", text)
    assert "Data not used, and why" in text
    assert re.search(r"implausible value \(Calcium [\d.]+ mg/dL\)", text)
    trips = int(re.search(r'data-round-trips="(\d+)"', html).group(1))
    view = entries(app.extensions["sentinel"].engine, action="view_patient")[0]
    assert view["detail"]["round_trips"] == trips and view["role"] == "nurse" and view["patient_id"] == SEPTIC
    assert trips <= 5  # Patient + Observations (2 pages) + the Encounter and its Location when the alert is raised


def test_the_alert_records_the_care_unit_from_the_encounter(launch, app):
    launch("nurse", SEPTIC)
    alert = store.newest(app.extensions["sentinel"].engine, scope_of(app, SEPTIC))
    assert alert.care_unit == "Surgical ICU" and alert.model_version == "stub-1"  # the Location's name, read once
    assert alert.threshold == 0.5 and alert.threshold_version == 0
    assert {s["concept"] for s in alert.signs} >= {"sbp", "lactate"}
    assert any(m["concept"] == "lactate" for m in alert.measurements)


def test_reopening_the_chart_does_not_raise_a_second_alert(launch, app):
    first = launch("nurse", SEPTIC)
    launch("provider", SEPTIC)
    first.client.get(f"/patients/{SEPTIC}")
    engine = app.extensions["sentinel"].engine
    assert store.newest(engine, scope_of(app, SEPTIC)).seq == 1


# -- nurse screening -------------------------------------------------------------------------------------------

def test_screening_with_errors_is_422_with_a_message_per_field_and_the_input_kept(launch, app):
    launched = launch("nurse", SEPTIC)
    token = csrf_of(launched.page.get_data(as_text=True))
    resp = launched.client.post(f"/patients/{SEPTIC}/screening", headers=hx(token), data={
        "submission_id": sid(), "infection_source": "other", "infection_other": "", "provider_notified_at": "x"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422 and 'id="screening"' in html
    assert "Not saved" in html and "Describe the suspected source" in html
    assert "Say whether there is new confusion" in html and "Give the date and time" in html
    assert '<option value="other" selected>' in html  # input kept
    assert entries(app.extensions["sentinel"].engine, action="submit_screening")[0]["outcome"] == "invalid"


def test_screening_saved_once_refreshes_the_provider_panel(launch, app):
    launched = launch("nurse", SEPTIC)
    token = csrf_of(launched.page.get_data(as_text=True))
    form = {"submission_id": sid(), "infection_source": "lung", "new_confusion": "yes"}
    resp = launched.client.post(f"/patients/{SEPTIC}/screening", headers=hx(token), data=form)
    assert resp.status_code == 200 and resp.headers["HX-Trigger"] == "screening-saved"
    assert "Lungs (pneumonia)" in text_of(resp.get_data(as_text=True))
    again = launched.client.post(f"/patients/{SEPTIC}/screening", headers=hx(token), data=form)
    assert again.status_code == 200
    audit = entries(app.extensions["sentinel"].engine, action="submit_screening")
    assert [a["outcome"] for a in audit] == ["replayed", "ok"]
    panel = launched.client.get(f"/patients/{SEPTIC}/alert").get_data(as_text=True)
    assert "Nurse screening" in panel and "source Lungs (pneumonia); new confusion yes" in text_of(panel)


def test_screening_without_htmx_answers_303_to_the_page(launch):
    launched = launch("provider", SEPTIC)
    token = csrf_of(launched.page.get_data(as_text=True))
    resp = launched.client.post(f"/patients/{SEPTIC}/screening", data={
        "csrf_token": token, "submission_id": sid(), "infection_source": "none", "new_confusion": "no"})
    assert resp.status_code == 303 and resp.headers["Location"].endswith(f"/patients/{SEPTIC}?notice=screening")


def test_deployment_team_cannot_submit_a_screening_and_the_attempt_is_audited(launch, app):
    launched = launch("deployment", SEPTIC)
    html = launched.page.get_data(as_text=True)
    assert ("Only a provider or a nurse can submit the nurse sepsis screening; you are signed in as a member of "
            "the deployment team.") in text_of(html)
    resp = launched.client.post(f"/patients/{SEPTIC}/screening", headers=hx(csrf_of(html)), data={
        "submission_id": sid(), "infection_source": "none", "new_confusion": "no"})
    assert resp.status_code == 403
    forbidden = entries(app.extensions["sentinel"].engine, action="submit_the_nurse_screening")[0]
    assert forbidden["outcome"] == "forbidden" and forbidden["role"] == "deployment"


def test_fragments_have_their_own_urls(launch):
    launched = launch("nurse", SEPTIC)
    for path, root in (("assessment", 'id="assessment"'), ("screening", 'id="screening"'), ("alert", 'id="alert-panel"'),
                       ("bundle", 'id="bundle"')):
        resp = launched.client.get(f"/patients/{SEPTIC}/{path}")
        html = resp.get_data(as_text=True)
        assert resp.status_code == 200 and root in html and "<html" not in html, path


def test_organ_dysfunction_without_a_score_is_shown_as_an_alert_level_finding_not_merely_no_score(make_app, clock,
                                                                                                   launch_with):
    """Seven hours on, the septic patient's vital signs are too old for a score; with a 12 h sign window its
    SBP in the 80s and high lactate are still current signs: the page shows them at alert level and says what
    to chart."""
    app = make_app(clock=clock, session_idle_minutes=24 * 60, alert_policy={"sign_window_hours": 12})
    app.extensions["sentinel"].model = stub_model()
    launched = launch_with(app, "nurse", SEPTIC)
    clock.advance(hours=7)
    html = launched.client.get(f"/patients/{SEPTIC}").get_data(as_text=True)
    text = text_of(html)
    assert 'data-level="abstain"' in html and "Estimated risk" not in text
    assert 'id="unscored-finding"' in html and 'role="alert"' in html
    assert re.search(r"Signs of (shock|organ dysfunction) with no risk score: assess the patient now", text)
    assert "For a risk score, chart: Heart rate" in text
