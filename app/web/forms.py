"""What every action form shares: the submission id that makes a resubmission a replay, and the answer without
htmx (303 back to the bedside page, with a notice)."""

from __future__ import annotations

import re

from flask import redirect, request, url_for

SUBMISSION_ID = re.compile(r"[0-9a-f]{32}")


def submission_id() -> str | None:
    value = (request.form.get("submission_id") or "").strip()
    return value if SUBMISSION_ID.fullmatch(value) else None


def back_to_page(patient_id: str, notice: str):
    """Without htmx, an action answers 303 to the page (design.md, htmx conventions)."""
    return redirect(url_for("patient.page", patient_id=patient_id, notice=notice), code=303)
