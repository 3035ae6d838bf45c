"""Feedback store: stored with its audit row or not at all, inbox filters, replies, statuses, the asker's notices."""

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from app import feedback
from app.audit import entries
from tests.support.smtp import refuse_writes_to

EHR = "https://ehr.example.org/fhir"  # the FHIR server the users belong to

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
NURSE = "Practitioner/nurse"
TEAM = "Practitioner/deployment"
CONTEXT = feedback.Context(page="/patients/demo-102421", patient_id="demo-102421", alert_id="17",
                           model_version="2026.11.23+abc")


def ask(engine, text="Why did this patient alert?", kind="question", user=NURSE, role="nurse", at=NOW, context=CONTEXT):
    return feedback.submit(engine, kind=kind, text=text, user_ref=user, iss=EHR, role=role, context=context, now=at,
                           mail_enabled=True)


def test_submission_is_stored_with_its_context_and_audited(engine):
    fid = ask(engine)
    item = feedback.get(engine, fid)
    assert (item.kind, item.text, item.status, item.user_ref, item.role) == (
        "question", "Why did this patient alert?", "new", NURSE, "nurse")
    assert item.context == CONTEXT
    assert (item.mail_status, item.mail_attempts) == ("pending", 0)
    [audit] = entries(engine, action="feedback_submit")
    assert (audit["target"], audit["patient_id"], audit["detail"]) == (f"feedback/{fid}", "demo-102421",
                                                                        {"kind": "question"})


def test_without_mail_configured_the_delivery_is_off_not_pending(engine):
    fid = feedback.submit(engine, kind="problem", text="x", user_ref=NURSE, iss=EHR, role="nurse",
                          context=feedback.Context(), now=NOW, mail_enabled=False)
    assert feedback.get(engine, fid).mail_status == "off"


@pytest.mark.parametrize("kind, text, field", [("complaint", "x", "kind"), ("question", "   ", "text"),
                                               (None, None, "kind"), ("question", "x" * 4001, "text")])
def test_invalid_submissions_say_which_field_and_store_nothing(engine, kind, text, field):
    with pytest.raises(feedback.Invalid) as err:
        feedback.submit(engine, kind=kind, text=text, user_ref=NURSE, iss=EHR, role="nurse", context=CONTEXT, now=NOW,
                        mail_enabled=True)
    assert field in err.value.errors
    assert feedback.listing(engine) == []


def test_a_database_failure_stores_neither_feedback_nor_audit(engine):
    restore = refuse_writes_to(engine, "audit_log")  # the second write of the transaction fails
    with pytest.raises(feedback.SaveFailed):
        ask(engine)
    restore()
    assert feedback.listing(engine) == []
    assert entries(engine, action="feedback_submit") == []


def test_context_values_are_clipped_not_refused(engine):
    fid = ask(engine, context=feedback.Context(page="/x" * 400, patient_id="p" * 300, alert_id=" 5 "))
    ctx = feedback.get(engine, fid).context
    assert len(ctx.page) == 512 and len(ctx.patient_id) == 128 and ctx.alert_id == "5"


def test_inbox_filters_by_status_kind_and_role_newest_first(engine):
    a = ask(engine, kind="question")
    b = ask(engine, kind="problem", user="Practitioner/provider", role="provider")
    c = ask(engine, kind="suggestion")
    feedback.set_status(engine, c, "closed", user_ref=TEAM, role="deployment", now=NOW)
    assert [i.id for i in feedback.listing(engine)] == [c, b, a]
    assert [i.id for i in feedback.listing(engine, status="new")] == [b, a]
    assert [i.id for i in feedback.listing(engine, kind="problem")] == [b]
    assert [i.id for i in feedback.listing(engine, role="nurse")] == [c, a]
    assert [i.id for i in feedback.listing(engine, status="bogus")] == [c, b, a]


def test_a_reply_answers_the_item_and_reaches_only_the_asker(engine):
    fid = ask(engine)
    other = ask(engine, user="Practitioner/provider", role="provider")
    r = feedback.reply(engine, fid, text="The lactate of 4.1 drove it.", user_ref=TEAM, role="deployment",
                       now=NOW + timedelta(hours=1))
    item = feedback.get(engine, fid)
    assert item.status == "answered" and item.reply_count == 1 and item.replies[0].text == "The lactate of 4.1 drove it."
    assert feedback.get(engine, other).status == "new"
    [answer] = feedback.unread_answers(engine, NURSE, EHR)
    assert (answer.reply.id, answer.question, answer.kind) == (r.id, "Why did this patient alert?", "question")
    assert feedback.unread_answers(engine, "Practitioner/provider", EHR) == []
    [audit] = entries(engine, action="feedback_reply")
    assert audit["user_ref"] == TEAM and audit["target"] == f"feedback/{fid}"
    assert [i.reply_count for i in feedback.listing(engine)] == [0, 1]


def test_only_the_asker_can_dismiss_a_reply_and_only_once(engine):
    fid = ask(engine)
    r = feedback.reply(engine, fid, text="Answer", user_ref=TEAM, role="deployment", now=NOW)
    assert not feedback.mark_read(engine, r.id, iss=EHR, user_ref="Practitioner/provider", role="provider", now=NOW)
    assert feedback.unread_answers(engine, NURSE, EHR) != []
    assert feedback.mark_read(engine, r.id, iss=EHR, user_ref=NURSE, role="nurse", now=NOW)
    assert not feedback.mark_read(engine, r.id, iss=EHR, user_ref=NURSE, role="nurse", now=NOW)
    assert feedback.unread_answers(engine, NURSE, EHR) == []
    assert len(entries(engine, action="feedback_reply_read")) == 1


def test_status_changes_are_audited_old_to_new(engine):
    fid = ask(engine)
    assert feedback.set_status(engine, fid, "closed", user_ref=TEAM, role="deployment", now=NOW) == "new"
    assert feedback.get(engine, fid).status == "closed"
    [audit] = entries(engine, action="feedback_status")
    assert audit["detail"] == {"old": "new", "new": "closed"}
    with pytest.raises(feedback.Invalid):
        feedback.set_status(engine, fid, "deleted", user_ref=TEAM, role="deployment", now=NOW)


def test_replies_and_statuses_on_unknown_items_are_not_found(engine):
    with pytest.raises(feedback.NotFound):
        feedback.reply(engine, 999, text="x", user_ref=TEAM, role="deployment", now=NOW)
    with pytest.raises(feedback.NotFound):
        feedback.set_status(engine, 999, "closed", user_ref=TEAM, role="deployment", now=NOW)
    with pytest.raises(feedback.NotFound):
        feedback.get(engine, 999)
    with pytest.raises(feedback.Invalid):
        feedback.reply(engine, 999, text=" ", user_ref=TEAM, role="deployment", now=NOW)


def test_counts_by_status_and_kind_within_a_period(engine):
    ask(engine, kind="question", at=NOW)
    b = ask(engine, kind="problem", at=NOW + timedelta(days=1))
    ask(engine, kind="problem", at=NOW + timedelta(days=8))
    feedback.reply(engine, b, text="ok", user_ref=TEAM, role="deployment", now=NOW)
    everything = feedback.counts(engine)
    assert everything == {"total": 3, "status": {"new": 2, "answered": 1, "closed": 0},
                          "kind": {"question": 1, "problem": 2, "suggestion": 0}}
    week = feedback.counts(engine, since=NOW, until=NOW + timedelta(days=7))
    assert week["total"] == 2 and week["kind"]["problem"] == 1


def test_export_carries_items_and_their_replies(engine):
    fid = ask(engine)
    ask(engine, kind="suggestion")
    feedback.reply(engine, fid, text="Answer", user_ref=TEAM, role="deployment", now=NOW)
    rows = feedback.export(engine)
    assert [r["id"] for r in rows] == [fid, fid + 1]
    assert rows[0]["replies"][0]["text"] == "Answer" and rows[0]["created_at"] == NOW.isoformat()
    assert [r["id"] for r in feedback.export(engine, status="new")] == [fid + 1]


def test_deleting_an_item_deletes_its_replies(engine):
    fid = ask(engine)
    feedback.reply(engine, fid, text="Answer", user_ref=TEAM, role="deployment", now=NOW)
    with engine.begin() as conn:
        conn.execute(feedback.feedback.delete().where(feedback.feedback.c.id == fid))
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(feedback.feedback_replies)).scalar() == 0


def test_a_reply_is_marked_read_only_by_its_asker_on_the_asker_s_ehr(engine):
    fid = ask(engine)
    r = feedback.reply(engine, fid, text="Because of the lactate.", user_ref="Practitioner/team", role="deployment",
                       now=NOW)
    other_ehr = "https://test-ehr.example.org/fhir"  # the same Practitioner id on another EHR is someone else
    assert feedback.unread_answers(engine, NURSE, other_ehr) == []
    assert not feedback.mark_read(engine, r.id, iss=other_ehr, user_ref=NURSE, role="nurse", now=NOW)
    assert feedback.mark_read(engine, r.id, iss=EHR, user_ref=NURSE, role="nurse", now=NOW)
