"""The feedback button, form, inbox and replies through real EHR launches (test client), on SQLite and PostgreSQL."""

from __future__ import annotations

import html
import re
import uuid
from email import message_from_string

import pytest
import sqlalchemy as sa

from app import feedback
from app.alerts import store as alerts_store
from app.audit import entries
from sandbox.stack import free_port
from tests.support.launch import SEPTIC, launch_on
from tests.support.launch import feedback_form_token as token
from tests.support.sample_card import VERSION, use_model_dir, write_sample_card
from tests.support.smtp import refuse_writes_to, running_smtp_server
from tests.support.web import scope_of

OTHER_PATIENT = "demo-100402"
HX = {"HX-Request": "true"}


@pytest.fixture
def smtp():
    with running_smtp_server() as server:
        yield server


@pytest.fixture
def app(make_app, tmp_path, smtp, monkeypatch):
    write_sample_card(tmp_path / "model")
    app = make_app(smtp_host=smtp.host, smtp_port=smtp.port,
                   deployment_team_email="deploy-team@hospital.test", mail_from="sentinel@hospital.test")
    use_model_dir(app, tmp_path / "model")
    return app


def engine_of(app) -> sa.Engine:
    return app.extensions["sentinel"].engine


def text_of(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def send(launched, text="Why did this patient alert?", kind="question", page=None, headers=None, **extra):
    data = {"csrf_token": token(launched), "kind": kind, "text": text,
            "page": page or f"/patients/{launched.patient_id}", **extra}
    return launched.client.post("/feedback", data=data, headers=headers or {})


def only_item(app) -> feedback.Item:
    [listed] = feedback.listing(engine_of(app))
    return feedback.get(engine_of(app), listed.id)


def test_every_page_has_the_button_and_it_opens_a_form_with_the_context(launch):
    nurse = launch("nurse")
    page = text_of(nurse.page)
    button = re.search(r'<a id="feedback-button"[^>]*href="([^"]+)"[^>]*hx-get="([^"]+)"', page, re.S)
    assert button, "no feedback button on the patient page"
    assert f"page=/patients/{SEPTIC}" in button.group(1).replace("%2F", "/")
    form = nurse.client.get(button.group(1))
    assert form.status_code == 200
    body = text_of(form)
    assert '<form id="feedback-form"' in body and "<html" in body  # a whole page, without JavaScript
    assert f"patient id <code>{SEPTIC}</code>" in body and f"model version <code>{VERSION}</code>" in body
    fragment = nurse.client.get(button.group(2), headers=HX)
    assert fragment.status_code == 200 and text_of(fragment).lstrip().startswith("<form id=\"feedback-form\"")


def test_a_question_is_stored_with_its_context_before_sent_is_shown(app, launch):
    nurse = launch("nurse")
    shown = alerts_store.newest(engine_of(app), scope_of(app, SEPTIC))
    response = send(nurse, alert=str(shown.id) if shown else "")
    assert response.status_code == 303
    item = only_item(app)
    assert (item.kind, item.text, item.role, item.status) == ("question", "Why did this patient alert?", "nurse", "new")
    assert item.context == feedback.Context(page=f"/patients/{SEPTIC}", patient_id=SEPTIC,
                                            alert_id=str(shown.id) if shown else None, model_version=VERSION)
    sent = nurse.client.get(response.headers["Location"])
    assert sent.status_code == 200 and "Sent" in text_of(sent) and f"(#{item.id})" in text_of(sent)
    [audit] = entries(engine_of(app), action="feedback_submit")
    assert audit["patient_id"] == SEPTIC and audit["user_ref"] == item.user_ref


def test_with_htmx_the_form_is_replaced_by_the_sent_notice(app, launch):
    nurse = launch("nurse")
    response = send(nurse, headers=HX, kind="suggestion", text="Show the trend of lactate")
    assert response.status_code == 200
    assert text_of(response).lstrip().startswith('<section id="feedback-sent"')
    assert only_item(app).kind == "suggestion"


def test_a_patient_this_browser_was_not_launched_for_is_not_recorded(app, launch):
    nurse = launch("nurse")
    send(nurse, page=f"/patients/{OTHER_PATIENT}?x=1")
    ctx = only_item(app).context
    assert ctx.page == f"/patients/{OTHER_PATIENT}" and ctx.patient_id is None


def test_pages_off_the_app_are_not_recorded_as_the_page(app, launch):
    nurse = launch("nurse")
    send(nurse, page="https://evil.example/patients/x")
    assert only_item(app).context.page is None


@pytest.mark.parametrize("headers, whole_page", [({}, True), (HX, False)])
def test_a_missing_message_comes_back_422_with_a_field_message(app, launch, headers, whole_page):
    nurse = launch("nurse")
    response = send(nurse, text="   ", kind="question", headers=headers)
    assert response.status_code == 422
    body = text_of(response)
    assert 'id="text-error"' in body and ("<html" in body) == whole_page
    assert feedback.listing(engine_of(app)) == []


@pytest.mark.parametrize("headers, whole_page", [({}, True), (HX, False)])
def test_when_the_database_fails_the_form_keeps_the_text_and_says_not_saved(app, launch, headers, whole_page):
    nurse = launch("nurse")
    typed = 'The score said "high" but <b>lactate</b> was normal & BP fine'
    restore = refuse_writes_to(engine_of(app), "feedback")
    try:
        response = send(nurse, text=typed, kind="problem", headers=headers)
    finally:
        restore()
    assert response.status_code == 503
    body = response.get_data(as_text=True)
    assert "Not saved" in body and ("<html" in body) == whole_page
    textarea = re.search(r'<textarea id="feedback-text"[^>]*>(.*?)</textarea>', body, re.S).group(1)
    assert html.unescape(textarea) == typed  # kept, and escaped in the page
    assert re.search(r'value="problem"\s*checked', body)
    assert feedback.listing(engine_of(app)) == []


def test_a_form_sent_again_after_a_lost_answer_is_stored_and_mailed_once(app, launch, smtp):
    nurse = launch("nurse")
    form = nurse.client.get("/feedback/new").get_data(as_text=True)
    sid = re.search(r'name="submission_id" value="([0-9a-f]{32})"', form).group(1)
    first = send(nurse, headers=HX, submission_id=sid)
    again = send(nurse, headers=HX, submission_id=sid)  # the user pressed Send again: the answer never came
    assert first.status_code == again.status_code == 200
    item = only_item(app)
    assert f"(#{item.id})" in text_of(again) and len(smtp.inbox.messages) == 1
    other = send(nurse, headers=HX, text="A second question", submission_id=uuid.uuid4().hex)
    assert other.status_code == 200 and len(feedback.listing(engine_of(app))) == 2


def test_a_form_that_was_not_saved_comes_back_with_the_same_submission_id(app, launch):
    nurse = launch("nurse")
    sid = uuid.uuid4().hex
    restore = refuse_writes_to(engine_of(app), "feedback")
    try:
        response = send(nurse, headers=HX, submission_id=sid)
    finally:
        restore()
    assert response.status_code == 503 and f'name="submission_id" value="{sid}"' in response.get_data(as_text=True)


def test_the_deployment_team_is_mailed_type_id_and_link_only(app, launch, smtp):
    nurse = launch("nurse")
    send(nurse, text="Mrs Holloway's lactate looks wrong")
    item = only_item(app)
    assert item.mail_status == "sent"
    [(_sender, rcpts, raw)] = smtp.inbox.messages
    assert rcpts == ["deploy-team@hospital.test"]
    msg = message_from_string(raw)
    assert msg["Subject"] == f"Sepsis Sentinel feedback #{item.id}: question"
    assert f"http://sentinel.test/feedback/inbox/{item.id}" in raw
    assert SEPTIC not in raw and "Holloway" not in raw and "lactate" not in raw


def test_a_mail_outage_never_loses_feedback_and_the_next_send_catches_up(app, make_app, tmp_path, launch, smtp,
                                                                          ehr):
    # An app whose mail server is down (nothing listens on its port), on the same database as `app`.
    down = make_app(smtp_host="127.0.0.1", smtp_port=free_port(),
                    deployment_team_email="deploy-team@hospital.test")
    assert send(launch_on(down, ehr), text="first").status_code == 303
    [item] = feedback.listing(engine_of(down))
    assert (item.mail_status, item.mail_attempts, item.text) == ("failed", 1, "first")
    assert item.mail_error.startswith("ConnectionRefusedError")

    # The mail server answers again (`app` is configured with it): the next submission sends both notices.
    assert send(launch("nurse"), text="second").status_code == 303
    assert [i.mail_status for i in feedback.listing(engine_of(down))] == ["sent", "sent"]
    assert len(smtp.inbox.messages) == 2


def test_without_a_session_there_is_no_form(app):
    assert app.test_client().get("/feedback/new").status_code == 401


def test_a_post_without_the_csrf_token_saves_nothing(app, launch):
    nurse = launch("nurse")
    response = nurse.client.post("/feedback", data={"kind": "question", "text": "x"})
    assert response.status_code == 403
    assert feedback.listing(engine_of(app)) == []


def test_the_sent_page_of_someone_elses_feedback_is_not_found(app, launch):
    nurse = launch("nurse")
    location = send(nurse).headers["Location"]
    provider = launch("provider")
    assert provider.client.get(location).status_code == 404


@pytest.mark.parametrize("role", ["nurse", "provider"])
def test_only_the_deployment_team_reads_the_inbox(app, launch, role):
    user = launch(role)
    send(user)
    assert user.client.get("/feedback/inbox").status_code == 403
    item_id = only_item(app).id
    assert user.client.get(f"/feedback/inbox/{item_id}").status_code == 403
    reply = user.client.post(f"/feedback/inbox/{item_id}/replies", data={"csrf_token": token(user), "reply": "x"})
    assert reply.status_code == 403
    assert only_item(app).replies == ()
    assert {e["action"] for e in entries(engine_of(app)) if e["outcome"] == "forbidden"} == {
        "read_feedback", "reply_to_feedback"}


def test_inbox_lists_and_filters(app, launch):
    nurse, provider = launch("nurse"), launch("provider")
    send(nurse, kind="question", text="Q from nurse")
    send(provider, kind="problem", text="P from provider")
    team = launch("deployment")
    assert 'id="inbox-link"' in text_of(team.page)
    everything = text_of(team.client.get("/feedback/inbox"))
    assert "Q from nurse" in everything and "P from provider" in everything and "2 in all: 2 new" in everything
    problems = text_of(team.client.get("/feedback/inbox?kind=problem"))
    assert "P from provider" in problems and "Q from nurse" not in problems
    nurses = text_of(team.client.get("/feedback/inbox?role=nurse&status=new"))
    assert "Q from nurse" in nurses and "P from provider" not in nurses
    assert "matches these filters" in text_of(team.client.get("/feedback/inbox?status=closed"))


def test_the_team_replies_and_the_asker_sees_it_at_the_next_launch_until_marked_read(app, launch):
    nurse = launch("nurse")
    send(nurse, text="Why did this patient alert?")
    item_id = only_item(app).id
    team = launch("deployment")
    detail = text_of(team.client.get(f"/feedback/inbox/{item_id}"))
    assert "Why did this patient alert?" in detail and SEPTIC in detail and VERSION in detail
    reply = team.client.post(f"/feedback/inbox/{item_id}/replies",
                             data={"csrf_token": token(team), "reply": "The rising lactate and low BP."})
    assert reply.status_code == 303
    assert only_item(app).status == "answered"

    later = launch("nurse")  # a new launch by the same user
    page = text_of(later.page)
    assert "The deployment team answered your question" in page and "The rising lactate and low BP." in page
    reply_id = only_item(app).replies[0].id
    dismissed = later.client.post(f"/feedback/answers/{reply_id}/read",
                                  data={"csrf_token": token(later), "next": f"/patients/{SEPTIC}"})
    assert dismissed.status_code == 303 and dismissed.headers["Location"] == f"/patients/{SEPTIC}"
    assert "The rising lactate" not in text_of(later.client.get(f"/patients/{SEPTIC}"))
    assert "The rising lactate" not in text_of(launch("provider").page)  # never shown to someone else


def test_marking_read_with_htmx_returns_the_notice_without_that_answer(app, launch):
    nurse = launch("nurse")
    send(nurse)
    item_id = only_item(app).id
    team = launch("deployment")
    for text in ("first answer", "second answer"):
        team.client.post(f"/feedback/inbox/{item_id}/replies", data={"csrf_token": token(team), "reply": text})
    later = launch("nurse")
    first = only_item(app).replies[0].id
    response = later.client.post(f"/feedback/answers/{first}/read", data={"csrf_token": token(later)}, headers=HX)
    body = text_of(response)
    assert response.status_code == 200 and body.lstrip().startswith('<section id="feedback-answers"')
    assert "second answer" in body and "first answer" not in body


def test_replies_and_status_changes_with_htmx_and_their_errors(app, launch):
    nurse = launch("nurse")
    send(nurse)
    item_id = only_item(app).id
    team = launch("deployment")
    empty = team.client.post(f"/feedback/inbox/{item_id}/replies", data={"csrf_token": token(team), "reply": " "},
                             headers=HX)
    assert empty.status_code == 422 and 'id="reply-error"' in text_of(empty)
    ok = team.client.post(f"/feedback/inbox/{item_id}/replies", data={"csrf_token": token(team), "reply": "Done"},
                          headers=HX)
    assert ok.status_code == 200 and text_of(ok).lstrip().startswith('<section id="feedback-thread"')
    closed = team.client.post(f"/feedback/inbox/{item_id}/status", data={"csrf_token": token(team), "status": "closed"},
                              headers=HX)
    assert closed.status_code == 200 and 'id="thread-status">closed' in text_of(closed)
    bad = team.client.post(f"/feedback/inbox/{item_id}/status", data={"csrf_token": token(team), "status": "gone"})
    assert bad.status_code == 422 and 'id="status-error"' in text_of(bad)
    assert team.client.post("/feedback/inbox/999/status",
                            data={"csrf_token": token(team), "status": "closed"}).status_code == 404
    assert [e["detail"] for e in entries(engine_of(app), action="feedback_status")] == [{"old": "answered",
                                                                                        "new": "closed"}]


def test_a_reply_the_database_refuses_keeps_the_draft(app, launch):
    nurse = launch("nurse")
    send(nurse)
    item_id = only_item(app).id
    team = launch("deployment")
    restore = refuse_writes_to(engine_of(app), "feedback_replies")
    try:
        response = team.client.post(f"/feedback/inbox/{item_id}/replies",
                                    data={"csrf_token": token(team), "reply": "My careful answer"})
    finally:
        restore()
    assert response.status_code == 503
    assert "Not saved" in text_of(response) and ">My careful answer</textarea>" in text_of(response)
    assert only_item(app).status == "new"


def test_an_unexpected_mail_error_still_says_sent(app, launch, monkeypatch):
    from app.feedback import mail

    def broken(*args, **kwargs):
        raise ValueError("a bug in the mail code")

    monkeypatch.setattr(mail, "send", broken)
    nurse = launch("nurse")
    response = send(nurse, headers=HX)
    assert response.status_code == 200 and "Sent" in text_of(response)
    assert only_item(app).mail_status == "pending"  # left for the next delivery or `sentinel feedback resend`


def test_on_a_patient_with_an_alert_the_alert_shown_is_attached(app, launch):
    nurse = launch("nurse")  # the septic demo patient: opening the chart raises an alert
    [alert_row] = [a for a in [alerts_store.newest(engine_of(app), scope_of(app, SEPTIC))] if a]
    send(nurse)
    assert only_item(app).context.alert_id == str(alert_row.id)


def test_the_inbox_and_thread_show_names_resolved_at_launch_not_fhir_ids(app, launch):
    nurse = launch("nurse")
    send(nurse, text="Who reads this?")
    item = only_item(app)
    assert item.user_name == "Nora Lindqvist"  # stored with the record, from the launch's Practitioner read
    team = launch("deployment")
    inbox = text_of(team.client.get("/feedback/inbox"))
    assert re.search(r'Nora Lindqvist <span class="hint">\(nurse\)</span>', inbox) and "Practitioner/" not in inbox
    team.client.post(f"/feedback/inbox/{item.id}/replies", data={"csrf_token": token(team), "reply": "We do."})
    thread = text_of(team.client.get(f"/feedback/inbox/{item.id}"))
    assert "Priya Raman replied on" in thread and "Practitioner/" not in thread
