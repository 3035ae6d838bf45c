"""Confirm, dismiss, pause and bundle orders through the Flask client and a real EHR launch, on SQLite and
PostgreSQL: role and patient binding (403), decisions recorded once, 409 with who decided, pause and return,
orders as draft proposals in the EHR, no FHIR read for a decision, everything audited."""

from __future__ import annotations

import re
from datetime import timedelta

from app.alerts import store
from app.audit import entries
from tests.support import alert_pages
from tests.support.alert_pages import confirmed, decide, opened, order
from tests.support.builders import stub_model
from tests.support.web import alert_id_of, ehr_orders, hx, scope_of, sid, text_of

SEPTIC = "demo-102421"
OTHER = "demo-108952"
SCOPE = f"Encounter/{SEPTIC}-icu"

# The bedside tests' clock, app (with the stub model) and engine.
clock, app, engine = alert_pages.clock, alert_pages.app, alert_pages.engine


def test_a_forged_nurse_confirm_is_403_audited_and_changes_nothing(launch, engine):
    nurse, token, alert_id = opened(launch, "nurse")
    resp = decide(nurse, token, alert_id, "confirm")
    assert resp.status_code == 403 and "Not allowed for your role" in resp.get_data(as_text=True)
    assert store.get(engine, alert_id).state == "active"
    row = entries(engine, action="decide_on_alerts")[0]
    assert (row["outcome"], row["role"], row["patient_id"]) == ("forbidden", "nurse", SEPTIC)


def test_provider_confirms_the_bundle_starts_and_a_decision_reads_no_fhir(launch, engine, ehr, faults):
    provider, token, alert_id = opened(launch, "provider")
    faults.set(ehr, "status", target="fhir", status=503)  # the EHR is down: a decision must not need it
    resp = decide(provider, token, alert_id, "confirm")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and resp.headers["HX-Trigger"] == "alert-changed"
    assert 'data-state="confirmed"' in html and "It will not fire again during this encounter" in text_of(html)
    alert = store.get(engine, alert_id)
    assert alert.time_zero == alert.decided_at and alert.decided_by.endswith("Practitioner/provider")
    assert alert.decided_role == "provider" and alert.first_action_at == alert.decided_at
    event = store.events(engine, alert_id)[-1]
    assert event["kind"] == "confirmed" and event["basis"]["probability"] == 0.85
    faults.clear(ehr)
    bundle = provider.client.get(f"/patients/{SEPTIC}/bundle").get_data(as_text=True)
    text = text_of(bundle)
    assert re.search(r"Time zero: \d\d:\d\d ?, when [\w. ]+ confirmed the alert", text)
    assert re.search(r"The 3-hour clock ends [\w ]*\d\d:\d\d \((2 h 59|3 h 00) min left\)", text)
    assert 'id="element-lactate" class="element status-done"' in bundle
    # The demo patient has two lactates before time zero: the later one is the repeat (and the newest is shown).
    assert 'id="element-repeat_lactate" class="element status-done"' in bundle and "Repeat lactate" in text
    assert "30 mL/kg x" in text and "Indicated (hypotension)" in text
    audit = entries(engine, action="confirm_alert")[0]
    assert audit["outcome"] == "ok" and audit["target"] == f"alert/{alert_id}" and audit["detail"] == {
        "state": "confirmed"}


def test_without_htmx_a_decision_answers_303_to_the_page(launch, engine):
    provider, token, alert_id = opened(launch, "provider")
    resp = decide(provider, token, alert_id, "confirm", htmx=False)
    assert resp.status_code == 303 and resp.headers["Location"].endswith(f"/patients/{SEPTIC}?notice=confirmed")
    page = provider.client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Alert confirmed. The treatment bundle's clocks have started." in text_of(page)
    assert 'id="time-zero"' in page


def test_a_resubmitted_decision_is_recorded_once_with_the_stored_outcome(launch, engine):
    provider, token, alert_id = opened(launch, "provider")
    form = {"submission_id": sid(), "reason": "chronic"}
    first = provider.client.post(f"/patients/{SEPTIC}/alerts/{alert_id}/dismiss", headers=hx(token), data=form)
    again = provider.client.post(f"/patients/{SEPTIC}/alerts/{alert_id}/dismiss", headers=hx(token), data=form)
    assert first.status_code == again.status_code == 200
    assert "Already recorded: Dismissed at" in text_of(again.get_data(as_text=True))
    assert [e["kind"] for e in store.events(engine, alert_id)] == ["raised", "dismissed"]
    assert [a["outcome"] for a in entries(engine, action="dismiss_alert")] == ["replayed", "ok"]


def test_two_providers_at_once_the_second_sees_the_first_decision(launch, engine):
    first, token_a, alert_id = opened(launch, "provider")
    second, token_b, same = opened(launch, "provider")
    assert same == alert_id
    assert decide(first, token_a, alert_id, "confirm").status_code == 200
    resp = decide(second, token_b, alert_id, "dismiss", reason="chronic")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 409
    assert re.search(r"Not applied: this alert was already confirmed by [\w. ]+ at \d\d:\d\d\.", text_of(html))
    assert 'data-state="confirmed"' in html
    assert entries(engine, action="dismiss_alert")[0]["outcome"] == "conflict"
    assert store.get(engine, alert_id).state == "confirmed"
    plain = decide(second, token_b, alert_id, "pause", htmx=False, duration="1")
    assert plain.status_code == 303 and plain.headers["Location"].endswith("notice=conflict")


def test_dismiss_needs_a_reason_422_keeps_the_note_then_the_alert_never_returns(launch, engine, app):
    provider, token, alert_id = opened(launch, "provider")
    bad = decide(provider, token, alert_id, "dismiss", note="ICU team aware")
    html = bad.get_data(as_text=True)
    assert bad.status_code == 422 and "Choose a reason for dismissing the alert" in html
    assert ">ICU team aware</textarea>" in html and store.get(engine, alert_id).state == "active"
    ok = decide(provider, token, alert_id, "dismiss", reason="other", note="ICU team aware")
    assert ok.status_code == 200 and store.get(engine, alert_id).dismiss_note == "ICU team aware"
    reopened = launch("provider", SEPTIC).page.get_data(as_text=True)
    assert 'id="active-alert"' not in reopened and 'data-state="dismissed"' in reopened
    assert "Other (say why below) (\"ICU team aware\")" in text_of(reopened)
    assert store.newest(engine, scope_of(app, SEPTIC)).id == alert_id


def test_pause_hides_the_alert_until_the_pause_ends_then_it_returns_while_criteria_hold(launch, engine, clock):
    provider, token, alert_id = opened(launch, "provider")
    assert decide(provider, token, alert_id, "pause", duration="1").status_code == 200
    during = provider.client.get(f"/patients/{SEPTIC}").get_data(as_text=True)
    assert 'id="active-alert"' not in during and 'data-state="paused"' in during
    clock.advance(minutes=61)
    after = provider.client.get(f"/patients/{SEPTIC}").get_data(as_text=True)
    assert alert_id_of(after) == alert_id
    assert [e["kind"] for e in store.events(engine, alert_id)] == ["raised", "paused", "resumed"]


def test_a_pause_that_ends_without_the_criteria_closes_the_alert(launch, app, engine, clock):
    provider, token, alert_id = opened(launch, "provider")
    decide(provider, token, alert_id, "pause", duration="until",
           until=(clock() + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"))
    app.extensions["sentinel"].model = stub_model(high=0.1)  # the risk has fallen
    clock.advance(hours=2, minutes=1)
    html = provider.client.get(f"/patients/{SEPTIC}").get_data(as_text=True)
    assert 'data-state="lapsed"' in html and "criteria no longer held" in text_of(html)
    assert store.get(engine, alert_id).state == "lapsed"


def test_pause_until_a_past_time_is_422(launch, engine, clock):
    provider, token, alert_id = opened(launch, "provider")
    past = clock().replace(hour=0, minute=0).strftime("%Y-%m-%dT%H:%M")
    resp = decide(provider, token, alert_id, "pause", duration="until", until=past)
    assert resp.status_code == 422 and "The pause must end in the future" in resp.get_data(as_text=True)


def test_an_alert_of_another_patient_cannot_be_decided_through_this_chart(launch, engine):
    _, _, alert_id = opened(launch, "provider", SEPTIC)
    other, token, _ = opened(launch, "provider", OTHER)
    resp = decide(other, token, alert_id, "confirm", patient=OTHER)
    assert resp.status_code == 404 and store.get(engine, alert_id).state == "active"
    refused = entries(engine, action="alerts_decide")[0]
    assert (refused["outcome"], refused["patient_id"], refused["target"]) == ("not_found", OTHER, f"alert/{alert_id}")
    resp = decide(other, token, alert_id, "confirm", patient=SEPTIC)  # not launched for this patient here
    assert resp.status_code in (401, 403)


def test_an_expired_form_is_refused_without_saving(launch, engine):
    provider, token, alert_id = opened(launch, "provider")
    resp = provider.client.post(f"/patients/{SEPTIC}/alerts/{alert_id}/confirm", headers=hx(token), data={})
    assert resp.status_code == 422 and "This form has expired" in resp.get_data(as_text=True)
    assert store.get(engine, alert_id).state == "active"


# -- orders ------------------------------------------------------------------------------------------------------


def test_provider_orders_a_repeat_lactate_as_a_draft_proposal_in_the_ehr_once(launch, engine, ehr):
    provider, token, alert_id = confirmed(launch)
    before = len(ehr_orders(ehr, SEPTIC, "ServiceRequest"))
    submission = sid()
    resp = order(provider, token, alert_id, "repeat_lactate", submission)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "Proposed Repeat lactate" in text_of(html) and "ServiceRequest/" in html
    again = order(provider, token, alert_id, "repeat_lactate", submission)
    assert again.status_code == 200
    created = ehr_orders(ehr, SEPTIC, "ServiceRequest")[before:]
    assert len(created) == 1
    sr = created[0]
    assert (sr["status"], sr["intent"]) == ("draft", "proposal")
    assert sr["subject"]["reference"] == f"Patient/{SEPTIC}" and sr["encounter"]["reference"] == f"Encounter/{SEPTIC}-icu"
    assert sr["requester"]["reference"] == "Practitioner/provider" and sr["authoredOn"].endswith("Z")
    assert sr["code"]["coding"][0]["code"] == "2524-7"
    assert [a["outcome"] for a in entries(engine, action="place_order")] == ["replayed", "ok"]
    other = order(provider, token, alert_id, "repeat_lactate")  # a second provider's fresh form
    assert other.status_code == 409 and "already ordered this" in other.get_data(as_text=True)


def test_fluids_order_carries_30_ml_per_kg_of_the_latest_weight(launch, engine, ehr):
    provider, token, alert_id = confirmed(launch)
    before = len(ehr_orders(ehr, SEPTIC, "MedicationRequest"))
    resp = order(provider, token, alert_id, "fluids", weight_kg="76.8", volume_ml=str(round(30 * 76.8)))  # reviewed
    assert resp.status_code in (200, 409)  # the shared sandbox may hold this patient's earlier proposal
    if resp.status_code == 200:
        mr = ehr_orders(ehr, SEPTIC, "MedicationRequest")[before]
        dose = mr["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]
        assert dose["unit"] == "mL" and dose["value"] == round(30 * 76.8)
        assert mr["medicationCodeableConcept"]["coding"][0]["code"] == "9863"


def test_nurse_sees_orders_but_cannot_place_them(launch, engine, ehr):
    _, _, alert_id = confirmed(launch)
    nurse, token, _ = opened(launch, "nurse")
    html = nurse.page.get_data(as_text=True)
    assert "Only a provider can propose bundle orders to the EHR; you are signed in as a nurse" in text_of(html)
    assert re.search(r'id="order-button-antibiotics"\s+disabled', html)  # the repeat lactate is done
    resp = order(nurse, token, alert_id, "repeat_lactate")
    assert resp.status_code == 403
    assert entries(engine, action="place_orders")[0]["outcome"] == "forbidden"


def test_an_order_the_ehr_refuses_is_not_saved_and_can_be_retried_safely(launch, engine, ehr, faults):
    provider, token, alert_id = confirmed(launch)
    faults.set(ehr, "status", target="fhir", status=503)
    submission = sid()
    failed = order(provider, token, alert_id, "repeat_lactate", submission)
    assert failed.status_code in (502, 503) and "Not saved" in failed.get_data(as_text=True)
    assert entries(engine, action="place_order")[0]["outcome"] == "failed"
    faults.clear(ehr)
    retried = order(provider, token, alert_id, "repeat_lactate")
    assert retried.status_code == 200 and "ServiceRequest/" in retried.get_data(as_text=True)


def test_orders_need_a_confirmed_alert(launch, engine):
    provider, token, alert_id = opened(launch, "provider")
    resp = order(provider, token, alert_id, "lactate")
    assert resp.status_code == 409 and "not confirmed" in resp.get_data(as_text=True)
    assert entries(engine, action="place_order")[0]["outcome"] == "not_confirmed"


def test_without_htmx_a_form_with_errors_comes_back_in_the_whole_page(launch, engine):
    provider, token, alert_id = opened(launch, "provider")
    resp = decide(provider, token, alert_id, "dismiss", htmx=False, note="seen by ICU")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422 and 'id="headline"' in html and 'id="bundle"' in html
    assert "Choose a reason for dismissing the alert" in html and ">seen by ICU</textarea>" in html


def test_a_pause_that_has_ended_offers_no_buttons_until_the_page_re_checks(launch, engine, clock):
    provider, token, alert_id = opened(launch, "provider")
    decide(provider, token, alert_id, "pause", duration="1")
    clock.advance(minutes=61)
    panel = provider.client.get(f"/patients/{SEPTIC}/alert").get_data(as_text=True)  # a fragment: no re-check
    assert 'id="active-alert"' not in panel and "Reload the page: the alert comes back" in text_of(panel)
