"""What the web tests send and read: a clock that can move, htmx headers, the CSRF token and what a reader sees
in a page, the EHR's orders, the alert scope of a launched patient."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

from sandbox import state


class Clock:
    """The app's clock: real time (the sandbox's data is placed at real time) plus an offset tests can move. One
    clock can drive both sides of a stack: the app calls it (or `now`), the sandbox's CLOCK setting takes `epoch`."""

    def __init__(self):
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def now(self) -> datetime:
        return self()

    def epoch(self) -> float:
        return self().timestamp()

    def advance(self, **kw) -> None:
        self.offset += timedelta(**kw)


def csrf_of(text: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', text)
    assert match, "the page carries no CSRF token"
    return match.group(1)


def hx(token: str) -> dict:
    return {"HX-Request": "true", "X-CSRF-Token": token}


def alert_id_of(text: str) -> int:
    match = re.search(r'data-alert-id="(\d+)"', text)
    assert match, "no active alert on the page"
    return int(match.group(1))


def sid() -> str:
    return uuid.uuid4().hex


def text_of(html: str) -> str:
    """What a reader sees: tags stripped, whitespace collapsed."""
    import html as h

    html = re.sub(r"<svg.*?</svg>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", h.unescape(re.sub(r"<[^>]+>", " ", html))).strip()


def ehr_orders(ehr, patient_id: str, rtype: str) -> list[dict]:
    return state.of(ehr).store.in_compartment(patient_id, rtype)


def scope_of(app, patient_id: str, encounter_id: str | None = None):
    """The alert scope the app keys a launched patient's records by: its (only) allow-listed EHR, the patient and
    the encounter (the sandbox's demo encounters are "<patient>-icu")."""
    from app.alerts.workflow import Scope

    iss = app.extensions["sentinel"].settings.iss_allowlist[0].rstrip("/")
    return Scope(iss=iss, patient_id=patient_id,
                 encounter_id=f"{patient_id}-icu" if encounter_id is None else encounter_id or None)


def iss_of(app) -> str:
    return app.extensions["sentinel"].settings.iss_allowlist[0].rstrip("/")
