"""The feedback button's form, the asker's answer notices, and the deployment team's inbox.

The context (page, patient id, alert id, model version) is captured here, on the server: the page path is
matched against the app's own routes, and a patient id is kept only if this browser was launched for that
patient. The user types only the kind and the text.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field

from flask import Blueprint, abort, current_app, g, redirect, render_template, request, url_for
from werkzeug.exceptions import HTTPException

from app import feedback, roles
from app.alerts import store as alerts_store
from app.alerts.errors import AlertNotFound
from app.alerts.workflow import Scope
from app.feedback import mail

from .forms import submission_id
from .guards import any_session, cookie_session_ids, is_htmx, require_role, services
from .model_card import model_version

log = logging.getLogger(__name__)

bp = Blueprint("feedback", __name__, url_prefix="/feedback")

KIND_WORDS = {"question": "Question", "problem": "Problem", "suggestion": "Suggestion"}
BACKLOG_PER_SUBMIT = 5  # older undelivered notices sent after a successful delivery


@dataclass
class FeedbackForm:
    """What `_form.html` shows: the user's input, the captured context, and any messages."""

    context: feedback.Context
    page: str | None = None
    alert: str | None = None
    kind: str = "question"
    text: str = ""
    errors: dict[str, str] = field(default_factory=dict)
    failed: bool = False
    submission_id: str = field(default_factory=lambda: uuid.uuid4().hex)  # sent again as is: stored once


def local_path(value: str | None) -> str | None:
    """A path on this app (for `page` and `next`), never another origin; the query string is dropped.

    Any control character or space refuses the path: browsers delete tabs and newlines inside a URL (WHATWG URL
    standard, "basic URL parser"), so "/<TAB>/evil.example" would become the other origin "//evil.example".
    """
    value = (value or "").split("?", 1)[0].split("#", 1)[0].strip()
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in value):
        return None
    if not value.startswith("/") or value.startswith("//") or "\\" in value or len(value) > 512:
        return None
    return value


def capture_context(page: str | None, alert: str | None) -> feedback.Context:
    """Page path, the patient and alert it is about, and the model version, from the server's point of view."""
    svc = services()
    path = local_path(page)
    args: dict = {}
    if path:
        try:
            _endpoint, args = current_app.url_map.bind("sentinel.internal").match(path, method="GET")
        except HTTPException:
            args = {}
    patient_id = args.get("patient_id")
    sessions = svc.store.live(cookie_session_ids(), svc.clock(), patient_id=patient_id) if patient_id else []
    if not sessions:
        patient_id = None  # never record a patient this browser was not launched for
    alert_id = None
    if patient_id:
        scope = Scope(iss=sessions[0].iss, patient_id=patient_id, encounter_id=sessions[0].encounter_id)
        # An alert id from the page's path or the form counts only if it is an alert of this patient (on this
        # EHR); otherwise the feedback would point the deployment team at another patient's alert.
        for candidate in (args.get("alert_id"), (alert or "").strip()[:12]):
            if alert_id is None and str(candidate or "").isdigit():
                try:
                    alert_id = alerts_store.for_patient(svc.engine, int(candidate), scope).id
                except AlertNotFound:
                    log.info("feedback: alert field is not an alert of the page's patient; not recorded")
        if alert_id is None:
            # The patient page shows the newest alert of the launch's scope (encounter, else patient): that one.
            shown = alerts_store.newest(svc.engine, scope)
            alert_id = shown.id if shown else None
    return feedback.Context(page=path, patient_id=patient_id, alert_id=str(alert_id) if alert_id else None,
                            model_version=model_version())


def _form_from_request() -> FeedbackForm:
    source = request.form if request.method == "POST" else request.args
    page, alert = source.get("page"), source.get("alert")
    form = FeedbackForm(context=capture_context(page, alert), page=local_path(page), alert=alert,
                        kind=source.get("kind", "question"), text=source.get("text", ""))
    if request.method == "POST" and (sid := submission_id()):
        form.submission_id = sid  # a form that comes back (error, not saved) keeps its id
    return form


@bp.get("/new")
@any_session
def new():
    """The form as a page: what the button opens without JavaScript."""
    return render_template("feedback/new.html", form=_form_from_request())


@bp.get("/form")
@any_session
def form():
    """The form as a fragment, for the button's htmx request (shown in the footer's panel)."""
    return render_template("feedback/_form.html", form=_form_from_request())


def inbox_link(feedback_id: int) -> str:
    path = url_for("feedback.item", feedback_id=feedback_id)
    base = services().settings.public_url or request.url_root
    return base.rstrip("/") + path


def notify(feedback_id: int) -> None:
    """E-mail the deployment team (after the commit); on success, also send what an earlier outage held back.

    Never raises: the feedback is already saved, so the user must see "sent" whatever the mail does. What went
    wrong is recorded on the item (mail.deliver) or, for the unforeseen, logged; `sentinel feedback resend` retries.
    """
    svc = services()
    settings = mail.MailSettings.from_settings(svc.settings)
    if not settings.enabled:
        return
    try:
        if mail.deliver(svc.engine, settings, feedback_id, inbox_link(feedback_id), svc.clock()) == "sent":
            mail.deliver_backlog(svc.engine, settings, inbox_link, svc.clock(), limit=BACKLOG_PER_SUBMIT,
                                 skip=(feedback_id,))
    except Exception:
        log.exception("feedback mail: unexpected failure for feedback/%s (the feedback is saved)", feedback_id)


@bp.post("")
@any_session
def submit():
    """Stored (and audited) in one transaction before the user is told "sent"; otherwise the form comes back with
    its text and says what went wrong: 422 for a field, 503 when the database did not take it."""
    svc, s = services(), g.session
    form = _form_from_request()
    htmx = is_htmx()
    try:
        feedback_id = feedback.submit(svc.engine, kind=form.kind, text=form.text, user_ref=s.user_ref, iss=s.iss,
                                      user_name=s.user_name, role=s.role,
                                      context=form.context, now=svc.clock(), submission_id=submission_id(),
                                      mail_enabled=mail.MailSettings.from_settings(svc.settings).enabled)
    except feedback.Invalid as exc:
        form.errors = exc.errors
        return render_template("feedback/_form.html" if htmx else "feedback/new.html", form=form), 422
    except feedback.SaveFailed as exc:
        log.error("feedback not saved: %s", exc)
        form.failed = True
        return render_template("feedback/_form.html" if htmx else "feedback/new.html", form=form), 503
    sent = feedback.get(svc.engine, feedback_id)
    if sent.mail_status == "pending":  # not when a resent form found it already mailed
        notify(feedback_id)
        sent = feedback.get(svc.engine, feedback_id)
    if htmx:
        return render_template("feedback/_sent.html", sent=sent)
    return redirect(url_for("feedback.sent_page", feedback_id=feedback_id), code=303)


def _own(feedback_id: int) -> feedback.Item:
    """An item the current user sent (others see 404: its existence is not theirs to learn)."""
    try:
        item = feedback.get(services().engine, feedback_id)
    except feedback.NotFound:
        abort(404)
    if item.user_ref != g.session.user_ref or item.iss != g.session.iss:
        abort(404)
    return item


@bp.get("/<int:feedback_id>/sent")
@any_session
def sent_page(feedback_id: int):
    return render_template("feedback/sent.html", sent=_own(feedback_id))


# ---------------------------------------------------------------------------------------- the asker's answers


@bp.app_template_filter("utc")
def utc(value) -> str:
    """A stored timestamp as people read it: minutes, and the zone said out loud (the database holds UTC)."""
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else ""


@bp.app_context_processor
def answer_notices():
    """`feedback_answers()` for base.html: replies to this user's feedback not yet dismissed (never raises)."""

    def feedback_answers() -> list[feedback.Answer]:
        session = g.get("session")
        if session is None:
            return []
        try:
            return feedback.unread_answers(services().engine, session.user_ref, session.iss)
        except Exception:  # a page (even an error page) must render when the database is unwell
            log.exception("answers for the notice could not be read")
            return []

    return {"feedback_answers": feedback_answers}


@bp.post("/answers/<int:reply_id>/read")
@any_session
def mark_read(reply_id: int):
    """The asker dismisses an answer. htmx: the notice again (fewer answers); otherwise back to their page."""
    svc, s = services(), g.session
    feedback.mark_read(svc.engine, reply_id, user_ref=s.user_ref, iss=s.iss, role=s.role, now=svc.clock())
    if is_htmx():
        return render_template("feedback/_answers.html", answers=feedback.unread_answers(svc.engine, s.user_ref,
                                                                                          s.iss))
    back = local_path(request.form.get("next")) or url_for("patient.page", patient_id=s.patient_id)
    return redirect(back, code=303)


# ---------------------------------------------------------------------------------------- the inbox


@dataclass(frozen=True)
class InboxFilter:
    status: str | None
    kind: str | None
    role: str | None

    @classmethod
    def from_args(cls, args) -> InboxFilter:
        status, kind, role = args.get("status"), args.get("kind"), args.get("role")
        return cls(status=status if status in feedback.STATUSES else None,
                   kind=kind if kind in feedback.KINDS else None,
                   role=role if role in roles.ROLES else None)


@bp.get("/inbox")
@any_session
@require_role("read_feedback")
def inbox():
    svc = services()
    chosen = InboxFilter.from_args(request.args)
    items = feedback.listing(svc.engine, status=chosen.status, kind=chosen.kind, role=chosen.role)
    return render_template("feedback/inbox.html", items=items, chosen=chosen, counts=feedback.counts(svc.engine),
                           kinds=feedback.KINDS, statuses=feedback.STATUSES)


def _item_or_404(feedback_id: int) -> feedback.Item:
    try:
        return feedback.get(services().engine, feedback_id)
    except feedback.NotFound:
        abort(404)


@bp.get("/inbox/<int:feedback_id>")
@any_session
@require_role("read_feedback")
def item(feedback_id: int):
    return render_template("feedback/item.html", thread=Thread(_item_or_404(feedback_id)))


@dataclass
class Thread:
    """What `_thread.html` shows: one item, its replies, the reply and status forms and their messages."""

    item: feedback.Item
    draft: str = ""
    errors: dict[str, str] = field(default_factory=dict)
    failed: bool = False
    submission_id: str = field(default_factory=lambda: uuid.uuid4().hex)  # sent again as is: stored once
    saved: str | None = None


def _thread_response(thread: Thread, status: int = 200):
    if is_htmx():
        return render_template("feedback/_thread.html", thread=thread), status
    return render_template("feedback/item.html", thread=thread), status


@bp.post("/inbox/<int:feedback_id>/replies")
@any_session
@require_role("reply_to_feedback")
def add_reply(feedback_id: int):
    svc, s = services(), g.session
    text = request.form.get("reply", "")
    try:
        feedback.reply(svc.engine, feedback_id, text=text, user_ref=s.user_ref, user_name=s.user_name, role=s.role,
                       now=svc.clock())
    except feedback.NotFound:
        abort(404)
    except feedback.Invalid as exc:
        return _thread_response(Thread(_item_or_404(feedback_id), draft=text, errors=exc.errors), 422)
    except feedback.SaveFailed as exc:
        log.error("feedback reply not saved: %s", exc)
        return _thread_response(Thread(_item_or_404(feedback_id), draft=text, failed=True), 503)
    if is_htmx():
        return _thread_response(Thread(_item_or_404(feedback_id), saved="Reply sent. The asker sees it the next "
                                                                         "time they open Sepsis Sentinel."))
    return redirect(url_for("feedback.item", feedback_id=feedback_id), code=303)


@bp.post("/inbox/<int:feedback_id>/status")
@any_session
@require_role("change_feedback_status")
def change_status(feedback_id: int):
    svc, s = services(), g.session
    try:
        feedback.set_status(svc.engine, feedback_id, request.form.get("status", ""), user_ref=s.user_ref,
                            role=s.role, now=svc.clock())
    except feedback.NotFound:
        abort(404)
    except feedback.Invalid as exc:
        return _thread_response(Thread(_item_or_404(feedback_id), errors=exc.errors), 422)
    except feedback.SaveFailed as exc:
        log.error("feedback status not saved: %s", exc)
        return _thread_response(Thread(_item_or_404(feedback_id), failed=True), 503)
    if is_htmx():
        return _thread_response(Thread(_item_or_404(feedback_id), saved="Status saved."))
    return redirect(url_for("feedback.item", feedback_id=feedback_id), code=303)
