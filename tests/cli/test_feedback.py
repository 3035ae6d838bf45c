"""`sentinel feedback export | answer | resend`, through the real entry point, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from email import message_from_string

import pytest

from app import feedback
from app.audit import entries
from app.cli import main

EHR = "https://ehr.example.org/fhir"  # the FHIR server the users belong to

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.fixture
def env(monkeypatch, database_url, engine):
    monkeypatch.setenv("SENTINEL_DATABASE_URL", database_url)
    monkeypatch.setenv("SENTINEL_PUBLIC_URL", "https://sentinel.hospital.test")
    return monkeypatch


def ask(engine, text="Why did this alert?", kind="question", mail_enabled=False):
    return feedback.submit(engine, kind=kind, text=text, user_ref="Practitioner/nurse", iss=EHR, role="nurse",
                           context=feedback.Context(page="/patients/p1", patient_id="p1"), now=NOW,
                           mail_enabled=mail_enabled)


def test_export_csv_with_replies_and_a_status_filter(env, engine, capsys):
    a = ask(engine)
    ask(engine, text="=HYPERLINK(\"http://evil\")", kind="problem")
    feedback.reply(engine, a, text="Lactate.", user_ref="Practitioner/deployment", role="deployment", now=NOW)
    assert main(["feedback", "export"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(r["id"], r["status"], r["replies"], r["last_reply"]) for r in rows] == [
        (str(a), "answered", "1", "Lactate."), (str(a + 1), "new", "0", "")]
    assert rows[1]["text"].startswith("'=HYPERLINK")  # a spreadsheet shows it, never runs it
    assert rows[0]["patient_id"] == "p1" and rows[0]["created_at"] == NOW.isoformat()
    assert main(["feedback", "export", "--status", "new"]) == 0
    assert [r["id"] for r in csv.DictReader(io.StringIO(capsys.readouterr().out))] == [str(a + 1)]
    [audit, _] = entries(engine, action="feedback_export")
    assert audit["detail"] == {"count": 1, "status": "new", "format": "csv"}


def test_export_json_to_a_file(env, engine, tmp_path, capsys):
    a = ask(engine)
    out = tmp_path / "feedback.json"
    assert main(["feedback", "export", "--format", "json", "--out", str(out)]) == 0
    items = json.loads(out.read_text())
    assert items[0]["id"] == a and items[0]["text"] == "Why did this alert?" and items[0]["replies"] == []
    assert "wrote 1 item(s)" in capsys.readouterr().err


def test_answer_reaches_the_asker_and_can_close(env, engine, capsys):
    a = ask(engine)
    assert main(["feedback", "answer", str(a), "--text", "It was the lactate.", "--close", "--as", "jo"]) == 0
    assert "Answered" in capsys.readouterr().out
    item = feedback.get(engine, a)
    assert item.status == "closed" and item.replies[0].text == "It was the lactate."
    assert item.replies[0].by_user_ref == "jo"
    [answer] = feedback.unread_answers(engine, "Practitioner/nurse", EHR)
    assert answer.reply.text == "It was the lactate."
    assert [e["action"] for e in entries(engine) if e["user_ref"] == "jo"] == ["feedback_status", "feedback_reply"]


def test_answer_an_unknown_or_empty_item_fails_clearly(env, engine, capsys):
    assert main(["feedback", "answer", "99", "--text", "x"]) == 1
    assert "No feedback #99" in capsys.readouterr().err
    a = ask(engine)
    assert main(["feedback", "answer", str(a), "--text", "  "]) == 2
    assert feedback.get(engine, a).status == "new"


def test_an_answer_the_database_refuses_says_not_saved_without_a_traceback(env, engine, capsys):
    import sqlalchemy as sa

    from tests.support.smtp import refuse_writes_to

    a = ask(engine)
    restore = refuse_writes_to(sa.Engine, "feedback_replies")  # every engine: the command opens its own
    try:
        assert main(["feedback", "answer", str(a), "--text", "It was the lactate."]) == 3
    finally:
        restore()
    assert "Not saved" in capsys.readouterr().err
    assert feedback.get(engine, a).replies == ()


def test_resend_delivers_what_an_outage_held_back(env, engine, smtp_server, capsys):
    a, b = ask(engine, mail_enabled=True), ask(engine, mail_enabled=True, kind="problem")
    env.setenv("SENTINEL_SMTP_HOST", smtp_server.host)
    env.setenv("SENTINEL_SMTP_PORT", str(smtp_server.port))
    env.setenv("SENTINEL_DEPLOYMENT_TEAM_EMAIL", "deploy-team@hospital.test")
    assert main(["feedback", "resend"]) == 0
    assert "sent 2, failed 0; 0 notice(s) still waiting" in capsys.readouterr().out
    bodies = [message_from_string(m[2]).get_payload(decode=True).decode() for m in smtp_server.inbox.messages]
    assert f"https://sentinel.hospital.test/feedback/inbox/{a}" in bodies[0]
    assert f"https://sentinel.hospital.test/feedback/inbox/{b}" in bodies[1]
    assert [feedback.get(engine, i).mail_status for i in (a, b)] == ["sent", "sent"]


def test_resend_reports_failures_and_keeps_them_waiting(env, engine, closed_port, capsys):
    a = ask(engine, mail_enabled=True)
    env.setenv("SENTINEL_SMTP_HOST", "127.0.0.1")
    env.setenv("SENTINEL_SMTP_PORT", str(closed_port))
    env.setenv("SENTINEL_DEPLOYMENT_TEAM_EMAIL", "deploy-team@hospital.test")
    assert main(["feedback", "resend"]) == 1
    assert "sent 0, failed 1; 1 notice(s) still waiting" in capsys.readouterr().out
    assert feedback.get(engine, a).mail_status == "failed"


def test_resend_without_mail_configured_says_what_to_set(env, engine, capsys):
    assert main(["feedback", "resend"]) == 2
    assert "SENTINEL_SMTP_HOST" in capsys.readouterr().err
