"""Who may see and do what: the session bound to the URL's patient, the user's role, and the cookies behind them."""

from __future__ import annotations

import functools

from flask import current_app, g, request

from app import roles
from app.services import Services

SESSION_COOKIE = "sentinel_sessions"  # up to MAX_SESSIONS opaque ids, so several charts can be open at once
LAUNCH_COOKIE = "sentinel_launch"  # binds a pending launch to this browser
MAX_SESSIONS = 8


class NotLaunched(Exception):
    """No live session in this browser: the user must open the app from the chart."""


class WrongPatient(Exception):
    """A live session exists, but not for the patient in the URL."""


class RoleForbidden(Exception):
    def __init__(self, action: str, role: str):
        super().__init__(action)
        self.action, self.role = action, role


class CsrfRejected(Exception):
    pass


def services() -> Services:
    return current_app.extensions["sentinel"]


def cookie_session_ids() -> list[str]:
    return [i for i in request.cookies.get(SESSION_COOKIE, "").split(".") if i][:MAX_SESSIONS]


def cookie_kwargs(max_age: int | None) -> dict:
    """Inside a cross-site EHR iframe, cookies need SameSite=None; Secure; Partitioned (CHIPS) under HTTPS."""
    secure = services().settings.cookie_secure
    return dict(max_age=max_age, httponly=True, secure=secure, samesite="None" if secure else "Lax",
                partitioned=secure, path="/")


def add_session_cookie(response, session_id: str, others: list[str] | None = None) -> None:
    """The cookie after a launch: the new session first, then `others` (the same user's other open charts;
    by default every id the cookie held)."""
    others = cookie_session_ids() if others is None else others
    ids = [session_id] + [i for i in others if i != session_id]
    response.set_cookie(SESSION_COOKIE, ".".join(ids[:MAX_SESSIONS]),
                        **cookie_kwargs(services().settings.session_max_hours * 3600))


def delete_cookie(response, name: str) -> None:
    kwargs = cookie_kwargs(None)  # deleted with the attributes it was set with (Partitioned included)
    del kwargs["max_age"]
    response.delete_cookie(name, **kwargs)


def is_htmx() -> bool:
    """An htmx request (it answers with a fragment); a plain form POST or page load gets the whole page."""
    return request.headers.get("HX-Request") == "true"


def csrf_token_from_request() -> str | None:
    return request.form.get("csrf_token") or request.headers.get("X-CSRF-Token")


def launched(view):
    """The view runs with `g.session` bound to the URL's `patient_id`, else NotLaunched / WrongPatient.

    Any POST must also carry that session's CSRF token: the binding to patient and user is checked on the server
    for every action, not implied by the page that rendered the form.
    """

    @functools.wraps(view)
    def wrapper(*args, patient_id: str, **kwargs):
        svc = services()
        ids = cookie_session_ids()
        session = svc.store.find(ids, svc.clock(), patient_id=patient_id)
        if session is None:
            raise WrongPatient() if svc.store.find(ids, svc.clock()) else NotLaunched()
        if request.method == "POST" and not session.csrf_ok(csrf_token_from_request()):
            raise CsrfRejected()
        g.session = session
        return view(*args, patient_id=patient_id, **kwargs)

    return wrapper


def any_session(view):
    """For pages that are not about one patient (inbox, metrics): the browser's newest live session."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        svc = services()
        session = svc.store.find(cookie_session_ids(), svc.clock())
        if session is None:
            raise NotLaunched()
        if request.method == "POST" and not session.csrf_ok(csrf_token_from_request()):
            raise CsrfRejected()
        g.session = session
        return view(*args, **kwargs)

    return wrapper


def require_role(action: str):
    """Refuse (403) users whose role may not take `action` (app.roles); the page disables the control, this
    enforces it."""
    allowed = roles.allowed(action)  # at import: an undeclared action fails loudly, never opens a door

    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            if g.session.role not in allowed:
                raise RoleForbidden(action, g.session.role)
            return view(*args, **kwargs)

        return wrapper

    return decorate
