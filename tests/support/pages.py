"""What a test reads out of the app's HTML, as a clinician would see it: the risk, the error card, the alert."""

from __future__ import annotations

import html
import re


def risk_text(page: str) -> str | None:
    """The risk number as the page shows it ("Estimated risk 85%"), or None when it shows none."""
    m = re.search(r'id="risk-number">\s*(Estimated risk [0-9]+%)', page)
    return m.group(1) if m else None


def error_of(page: str) -> tuple[str, str] | None:
    """(title, message) of the app's error card, or None."""
    m = re.search(r'id="error-message" role="alert"[^>]*>\s*<h1>(.*?)</h1>\s*<p>(.*?)</p>', page, re.S)
    return (html.unescape(m.group(1)).strip(), html.unescape(m.group(2)).strip()) if m else None


def alert_id_of(page: str) -> int | None:
    m = re.search(r'data-alert-id="(\d+)"', page)
    return int(m.group(1)) if m else None


def alert_panel_state(page: str) -> tuple[int | None, str | None]:
    """(alert id, state) as the provider panel shows them; the id only while the alert is active."""
    state = re.search(r'id="alert-state" data-state="(\w+)"', page)
    return alert_id_of(page), "active" if 'id="active-alert"' in page else (state.group(1) if state else None)
