"""Times and durations as a clinician reads them, in the site's zone: "14:05", "22 Nov 14:05", "2 h 59 min"."""

from __future__ import annotations

from datetime import datetime, timedelta


def clock_text(t: datetime, now: datetime | None = None) -> str:
    """A time in the site's zone (the zone of `now`, from the app clock): "14:05" today, "22 Nov 14:05" on
    another day, "22 Nov 2025 14:05" in another year."""
    local = t.astimezone(now.tzinfo if now is not None else None)
    if now is not None and local.date() == now.date():
        return local.strftime("%H:%M")
    if now is not None and local.year != now.year:
        return local.strftime("%d %b %Y %H:%M").lstrip("0")
    return local.strftime("%d %b %H:%M").lstrip("0")


def date_text(t: datetime, now: datetime) -> str:
    """A day, for values whose hour does not matter (a body weight): "today", "3 Mar", "3 Mar 2025"."""
    local = t.astimezone(now.tzinfo)
    if local.date() == now.date():
        return "today"
    return local.strftime("%d %b %Y" if local.year != now.year else "%d %b").lstrip("0")


def duration_text(delta: timedelta) -> str:
    """ "2 h 59 min", "45 min" (the sign is dropped: the sentence says "left" or "overdue by")."""
    minutes = int(abs(delta.total_seconds()) // 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


def zone_text(now: datetime) -> str:
    """The site's zone as the footer names it: "Europe/Berlin (CET)"."""
    key = getattr(now.tzinfo, "key", None)
    abbreviation = now.tzname() or ""
    return f"{key} ({abbreviation})" if key and abbreviation and abbreviation != key else (key or abbreviation)
