"""The deployment team's e-mail, against a real SMTP server on loopback: content without PHI, failures recorded,
the backlog sent once the server is back."""

from datetime import UTC, datetime
from email import message_from_string

from app import feedback
from app.audit import entries
from app.feedback import mail

EHR = "https://ehr.example.org/fhir"  # the FHIR server the users belong to

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
SECRET_TEXT = "Mrs Holloway in bed 4 had lactate 4.1"


def ask(engine, kind="question"):
    context = feedback.Context(page="/patients/demo-102421", patient_id="demo-102421", alert_id="17",
                               model_version="m1")
    return feedback.submit(engine, kind=kind, text=SECRET_TEXT, user_ref="Practitioner/nurse", iss=EHR, role="nurse",
                           context=context, now=NOW, mail_enabled=True)


def link(fid):
    return f"https://sentinel.hospital.test/feedback/inbox/{fid}"


def test_notification_names_type_id_and_link_and_nothing_about_the_patient(engine, smtp_server):
    fid = ask(engine)
    assert mail.deliver(engine, smtp_server.settings(), fid, link(fid), NOW) == "sent"
    [(sender, rcpts, raw)] = smtp_server.inbox.messages
    assert (sender, rcpts) == ("sentinel@hospital.test", ["deploy-team@hospital.test"])
    msg = message_from_string(raw)
    assert msg["Subject"] == f"Sepsis Sentinel feedback #{fid}: question"
    body = msg.get_payload(decode=True).decode()
    assert link(fid) in body
    for phi in ("demo-102421", "Holloway", "lactate", "/patients/", "17"):
        assert phi not in raw.replace(f"#{fid}", "#").replace(link(fid), "")
    item = feedback.get(engine, fid)
    assert (item.mail_status, item.mail_attempts, item.mail_error) == ("sent", 1, None)
    assert [e["outcome"] for e in entries(engine, action="feedback_mail")] == ["sent"]


def test_a_refused_connection_is_recorded_and_the_feedback_kept(engine, closed_port, smtp_server):
    fid = ask(engine)
    status = mail.deliver(engine, smtp_server.settings(port=closed_port), fid, link(fid), NOW)
    assert status == "failed"
    item = feedback.get(engine, fid)
    assert item.text == SECRET_TEXT and item.mail_status == "failed" and item.mail_attempts == 1
    assert item.mail_error.startswith("ConnectionRefusedError")
    assert mail.undelivered(engine) == [fid]


def test_a_server_that_rejects_the_message_is_a_failure_too(engine, smtp_server):
    smtp_server.inbox.refuse = True
    fid = ask(engine)
    assert mail.deliver(engine, smtp_server.settings(), fid, link(fid), NOW) == "failed"
    assert "SMTPDataError" in feedback.get(engine, fid).mail_error


def test_the_backlog_is_sent_when_the_server_answers_again(engine, smtp_server, closed_port):
    down = smtp_server.settings(port=closed_port)
    first, second = ask(engine), ask(engine, kind="problem")
    assert mail.deliver_backlog(engine, down, link, NOW) == {"sent": 0, "failed": 1}  # stops at the first failure
    assert feedback.get(engine, second).mail_attempts == 0
    assert mail.deliver_backlog(engine, smtp_server.settings(), link, NOW) == {"sent": 2, "failed": 0}
    assert mail.undelivered(engine) == []
    subjects = [message_from_string(m[2])["Subject"] for m in smtp_server.inbox.messages]
    assert subjects == [f"Sepsis Sentinel feedback #{first}: question", f"Sepsis Sentinel feedback #{second}: problem"]


def test_items_that_used_up_their_attempts_wait_for_an_explicit_resend(engine, closed_port, smtp_server):
    fid = ask(engine)
    down = smtp_server.settings(port=closed_port)
    for _ in range(mail.MAX_ATTEMPTS):
        mail.deliver(engine, down, fid, link(fid), NOW)
    assert mail.undelivered(engine) == []
    assert mail.undelivered(engine, max_attempts=None) == [fid]


def test_login_is_used_when_a_user_is_configured(engine, smtp_server):
    # aiosmtpd offers no AUTH without TLS, so smtplib refuses to log in: a recorded failure, never a crash.
    fid = ask(engine)
    assert mail.deliver(engine, smtp_server.settings(user="sentinel", password="pw"), fid, link(fid), NOW) == "failed"
    assert "SMTP" in feedback.get(engine, fid).mail_error


def test_mail_is_enabled_only_with_a_host_and_an_address(smtp_server):
    assert smtp_server.settings().enabled
    assert not smtp_server.settings(host="").enabled
    assert not smtp_server.settings(to="").enabled
