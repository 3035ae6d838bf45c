"""The bedside page as a nurse and a provider work: their task first, a headline that says where the alert
stands, a fluid order reviewed before it goes to the EHR, and a mistaken confirmation withdrawn."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from app.alerts import store
from app.audit import entries
from tests.support import alert_pages as workflow_tests
from tests.support.alert_pages import SEPTIC, confirmed, decide, opened, order
from tests.support.web import ehr_orders, hx, text_of

# The bedside tests' clock, app (with the stub model) and engine, shared with the alerts workflow tests.
clock, app, engine = workflow_tests.clock, workflow_tests.app, workflow_tests.engine


def headline_of(html: str) -> str:
    return text_of(re.search(r'<p class="headline-title" id="headline-title">.*?</p>', html, re.S).group(0))


def sections_of(html: str) -> list[str]:
    return re.search(r'id="sections" data-order="([^"]+)"', html).group(1).split()


def test_each_role_finds_its_task_first_and_every_section_is_there(launch):
    nurse = launch("nurse").page.get_data(as_text=True)
    assert sections_of(nurse) == ["nursing", "provider", "bundle"] and "screening-first" in nurse
    assert nurse.index('id="screening"') < nurse.index('id="assessment"')
    provider = launch("provider").page.get_data(as_text=True)
    assert sections_of(provider) == ["provider", "bundle", "nursing"]
    assert provider.index('id="confirm-alert"') < provider.index('id="save-screening"')
    assert "screening-first" not in provider


def test_the_headline_says_where_the_alert_stands_after_each_decision(launch, engine, clock):
    provider, token, alert_id = opened(launch, "provider")
    assert headline_of(provider.page.get_data(as_text=True)).startswith(
        "Sepsis alert: risk above this site's alert threshold")
    decide(provider, token, alert_id, "confirm")
    head = provider.client.get(f"/patients/{SEPTIC}/headline").get_data(as_text=True)
    title = headline_of(head)
    assert 'data-state="confirmed"' in head and "Sepsis confirmed" in title and "by Dr. Samuel Okafor" in title
    assert "3-h bundle: 2 h 59 min left" in title or "3-h bundle: 3 h 00 min left" in title, title
    clock.advance(hours=1)
    title = headline_of(provider.client.get(f"/patients/{SEPTIC}/headline").get_data(as_text=True))
    assert re.search(r"3-h bundle: 1 h 5\d min left", title), title


def test_a_dismissed_alert_headline_names_the_reason(launch):
    provider, token, alert_id = opened(launch, "provider")
    decide(provider, token, alert_id, "dismiss", reason="chronic")
    title = headline_of(provider.client.get(f"/patients/{SEPTIC}/headline").get_data(as_text=True))
    assert title.startswith("Alert dismissed") and title.endswith("Chronic organ dysfunction (the patient's baseline)")


def test_a_paused_alert_headline_says_until_when(launch, clock):
    provider, token, alert_id = opened(launch, "provider")
    decide(provider, token, alert_id, "pause", duration="4")
    until = (clock() + timedelta(hours=4)).astimezone(clock().tzinfo).strftime("%H:%M")
    title = headline_of(provider.client.get(f"/patients/{SEPTIC}/headline").get_data(as_text=True))
    assert re.match(rf"Alert paused until ({until}|\d\d:\d\d)", title), title
    assert "by Dr. Samuel Okafor" in title


def test_a_provider_withdraws_a_mistaken_confirmation_with_a_reason_and_the_history_keeps_both(launch, engine):
    provider, token, alert_id = confirmed(launch)
    missing = decide(provider, token, alert_id, "withdraw")
    assert missing.status_code == 422 and "Choose why the confirmation is withdrawn" in text_of(missing.get_data(
        as_text=True))
    resp = decide(provider, token, alert_id, "withdraw", reason="wrong_patient")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and resp.headers["HX-Trigger"] == "alert-changed"
    assert "Confirmation withdrawn at" in text_of(html) and 'id="active-alert"' in html
    assert "confirmed on the wrong patient's chart" in text_of(html)
    alert = store.get(engine, alert_id)
    assert (alert.state, alert.decision, alert.time_zero, alert.withdraw_reason) == ("active", None, None,
                                                                                      "wrong_patient")
    assert [e["kind"] for e in store.events(engine, alert_id)] == ["raised", "confirmed", "withdrawn"]
    assert entries(engine, action="withdraw_alert")[0]["outcome"] == "ok"
    title = headline_of(provider.client.get(f"/patients/{SEPTIC}/headline").get_data(as_text=True))
    assert "the confirmation was withdrawn" in title and "confirmed on the wrong patient's chart" in title
    again = decide(provider, token, alert_id, "withdraw", reason="mistake")
    assert again.status_code == 409 and "no confirmation to withdraw" in again.get_data(as_text=True)
    assert decide(provider, token, alert_id, "dismiss", reason="other_explanation").status_code == 200


def test_a_nurse_cannot_withdraw_a_confirmation(launch, engine):
    _, _, alert_id = confirmed(launch)
    nurse, token, _ = opened(launch, "nurse")
    html = nurse.page.get_data(as_text=True)
    assert "Only a provider can withdraw a sepsis confirmation; you are signed in as a nurse." in text_of(html)
    resp = decide(nurse, token, alert_id, "withdraw", reason="mistake")
    assert resp.status_code == 403
    assert "Only a provider can withdraw a sepsis confirmation; you are signed in as a nurse. Nothing was changed." \
        in text_of(resp.get_data(as_text=True))
    assert store.get(engine, alert_id).state == "confirmed"


def test_the_fluid_order_is_reviewed_volume_and_weight_before_it_goes_to_the_ehr(launch, engine, ehr):
    provider, token, alert_id = confirmed(launch)
    page = provider.client.get(f"/patients/{SEPTIC}").get_data(as_text=True)
    review = re.search(r'<details class="fluid-review".*?</details>', page, re.S)
    if review is None:
        pytest.skip("fluids are not indicated for this patient with the stub model's data")
    text = review.group(0)
    assert 'name="weight_kg"' in text and 'value="76.8"' in text and 'value="2304"' in text
    assert "Weight recorded" in text_of(text)
    before = len(ehr_orders(ehr, SEPTIC, "MedicationRequest"))
    bad = order(provider, token, alert_id, "fluids", weight_kg="76.8", volume_ml="23040")
    assert bad.status_code == 422 and "between 100 and 6000 mL" in text_of(bad.get_data(as_text=True))
    assert 'value="23040"' in bad.get_data(as_text=True)  # what was typed is kept
    assert len(ehr_orders(ehr, SEPTIC, "MedicationRequest")) == before  # nothing reached the EHR
    resp = order(provider, token, alert_id, "fluids", weight_kg="70", volume_ml="2100")
    assert resp.status_code in (200, 409)
    if resp.status_code == 200:
        mr = ehr_orders(ehr, SEPTIC, "MedicationRequest")[before]
        assert mr["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]["value"] == 2100
        assert "30 mL/kg for 70 kg" in mr["dosageInstruction"][0]["text"]


def test_order_names_are_clinical_words_and_the_code_keeps_its_display(launch, ehr):
    provider, token, alert_id = confirmed(launch)
    before = len(ehr_orders(ehr, SEPTIC, "ServiceRequest"))
    resp = order(provider, token, alert_id, "blood_cultures")
    if resp.status_code != 200:
        pytest.skip("the blood cultures element is not orderable for this patient")
    assert "Proposed Blood cultures x2" in text_of(resp.get_data(as_text=True))
    sr = ehr_orders(ehr, SEPTIC, "ServiceRequest")[before]
    assert sr["code"]["text"] == "Blood cultures x2"
    assert sr["code"]["coding"][0]["display"] == "Bacteria identified in Blood by Culture"


def test_a_nurse_page_never_reads_the_sex_input_as_a_number(launch):
    html = launch("nurse").page.get_data(as_text=True)
    text = text_of(html)
    assert "Male sex" not in text and not re.search(r"\bSex\b \d", text)


def test_the_headline_fragment_is_database_only(launch, ehr, faults):
    provider, _token, _alert_id = opened(launch, "provider")
    faults.set(ehr, "status", target="fhir", status=503)  # the EHR is down: the headline still answers
    resp = provider.client.get(f"/patients/{SEPTIC}/headline", headers=hx("x"))
    faults.clear(ehr)
    assert resp.status_code == 200 and resp.get_data(as_text=True).lstrip().startswith('<div id="headline"')
    assert 'data-state="alert"' in resp.get_data(as_text=True)


def test_an_abstaining_model_lists_no_measurements_as_used_and_stars_nothing(launch, clock):
    from tests.support.launch import SPARSE

    launched = launch("nurse", SPARSE)
    clock.advance(hours=7)  # its one set of vital signs is now older than the model's 6 hours
    html = launched.client.get(f"/patients/{SPARSE}").get_data(as_text=True)
    assert 'data-level="abstain"' in html
    assert "Measurements the model used" not in html and "Raised the risk most" not in html
    assert "Latest measurements" in html and 'data-concept="age"' not in html and 'data-concept="sex_male"' not in html
    assert 'id="demographics"' not in html


def test_a_starred_value_says_why_in_words_and_the_table_starts_collapsed(launch):
    html = launch("nurse").page.get_data(as_text=True)
    reasons = text_of(re.search(r'<p class="star-reasons".*?</p>', html, re.S).group(0))
    assert re.search(r"Raised this risk the most: .*SBP \d+", reasons), reasons
    assert '<details class="all-measurements" id="all-measurements">' in html  # the full table, one click away
    first = re.search(r'<table class="measurements" id="measurements">.*?</table>', html, re.S).group(0)
    assert all("starred" in row or "abnormal" in row for row in re.findall(r"<tr class=\"[^\"]*\"", first))
    assert "Also given to the model, from the patient record: age" in text_of(html)


def test_demographics_and_an_older_weight_are_not_data_of_the_time_window(launch):
    html = launch("nurse").page.get_data(as_text=True)
    used = text_of(re.search(r'<table id="data-used">.*?</table>', html, re.S).group(0))
    assert "Age" not in used and "sex" not in used.lower() and "Body weight" not in used
    also = " ".join(text_of(m) for m in re.findall(r'<p class="hint data-also">.*?</p>', html, re.S))
    assert "From the patient record: age" in also and "sex female" in also
    assert re.search(r"Body weight 76\.8 kg, recorded [\w ]+: used for fluid volumes only", also), also


def test_the_favicon_skip_link_and_zone_are_on_every_page(launch):
    launched = launch("nurse")
    html = launched.page.get_data(as_text=True)
    assert '<a class="skip-link" href="#main">' in html and 'id="main" tabindex="-1"' in html
    assert "Times are in the site's time zone," in text_of(html)
    with launched.client.get("/favicon.ico") as icon:
        assert icon.status_code == 200 and icon.data[:4] == b"\x00\x00\x01\x00"  # an ICO file


def test_without_htmx_a_withdrawal_answers_303_to_the_page_with_its_notice(launch, engine):
    provider, token, alert_id = confirmed(launch)
    resp = decide(provider, token, alert_id, "withdraw", htmx=False, reason="mistake")
    assert resp.status_code == 303 and resp.headers["Location"].endswith("notice=withdrawn")
    page = text_of(provider.client.get(resp.headers["Location"]).get_data(as_text=True))
    assert "Confirmation withdrawn. The alert is active again" in page
    again = decide(provider, token, alert_id, "withdraw", reason="")  # active now: nothing to withdraw, whatever the form
    assert again.status_code == 409 and "no confirmation to withdraw" in text_of(again.get_data(as_text=True))
