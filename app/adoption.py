"""Adoption metrics for the deployment team: what happened to the alerts, overall, by care unit and by week.

Pure functions over alert rows (`AlertRow`), plus one query that loads them from `app.alerts.store.alerts`.
Definitions (the page and the CSV say the same):
- fired: alerts raised in the period;
- evaluated: alerts a provider acted on (confirm, dismiss or pause; the alert's `first_action_at`), of fired;
- time to evaluation: first action minus raised, over evaluated alerts (median, minutes);
- evaluated within 1 h / 3 h: of the alerts raised at least 1 h / 3 h before now (younger ones cannot be judged
  yet), those whose first action came within 1 h / 3 h;
- confirmed: alerts confirmed, of evaluated (TREWS reports 38% of evaluated alerts confirmed);
- pauses: pause actions (an alert may be paused more than once), and alerts paused at least once;
- dismissal reasons: dismissed alerts by the reason the provider chose.
Weeks start on Monday, 00:00, in UTC unless a zone is given (the adoption page passes the site's).
"""

from __future__ import annotations

import csv
import io
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo

import sqlalchemy as sa

from app.alerts.store import alerts

# Adams R, Henry KE, Sridharan A, et al. Prospective, multi-site study of patient outcomes after implementation
# of the TREWS machine learning-based early warning system for sepsis. Nat Med 2022;28:1455-1460.
TREWS = {"evaluated": 0.89, "confirmed": 0.38,
         "source": "TREWS (Adams et al., Nat Med 2022): 89% of alerts evaluated, 38% of evaluated alerts confirmed"}


@dataclass(frozen=True)
class AlertRow:
    """The columns of one alert that adoption needs."""

    id: int
    care_unit: str
    raised_at: datetime
    first_action_at: datetime | None
    decision: str | None  # confirmed | dismissed | None
    dismiss_reason: str | None
    pause_count: int


@dataclass(frozen=True)
class Rate:
    n: int
    of: int

    @property
    def fraction(self) -> float | None:
        return self.n / self.of if self.of else None


@dataclass(frozen=True)
class Summary:
    fired: int
    evaluated: Rate
    median_minutes_to_evaluation: float | None
    within_1h: Rate
    within_3h: Rate
    confirmed: Rate
    dismissed: int
    pauses: int
    paused_alerts: int
    awaiting: int  # not acted on yet
    dismissal_reasons: dict[str, int] = field(default_factory=dict)


def _minutes(row: AlertRow) -> float | None:
    if row.first_action_at is None:
        return None
    return (row.first_action_at - row.raised_at).total_seconds() / 60


def _within(rows: Sequence[AlertRow], limit: timedelta, now: datetime) -> Rate:
    eligible = [r for r in rows if r.raised_at <= now - limit]
    n = sum(1 for r in eligible if r.first_action_at is not None and r.first_action_at - r.raised_at <= limit)
    return Rate(n, len(eligible))


def summarize(rows: Sequence[AlertRow], now: datetime) -> Summary:
    """Every adoption figure for one group of alerts (see the module docstring for the definitions)."""
    evaluated = [r for r in rows if r.first_action_at is not None]
    minutes = [_minutes(r) for r in evaluated]
    reasons = Counter(r.dismiss_reason or "not given" for r in rows if r.decision == "dismissed")
    return Summary(
        fired=len(rows),
        evaluated=Rate(len(evaluated), len(rows)),
        median_minutes_to_evaluation=statistics.median(minutes) if minutes else None,
        within_1h=_within(rows, timedelta(hours=1), now),
        within_3h=_within(rows, timedelta(hours=3), now),
        confirmed=Rate(sum(1 for r in evaluated if r.decision == "confirmed"), len(evaluated)),
        dismissed=sum(1 for r in rows if r.decision == "dismissed"),
        pauses=sum(r.pause_count for r in rows),
        paused_alerts=sum(1 for r in rows if r.pause_count > 0),
        awaiting=len(rows) - len(evaluated),
        dismissal_reasons=dict(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))),
    )


def by_unit(rows: Sequence[AlertRow], now: datetime) -> list[tuple[str, Summary]]:
    """One summary per care unit, most alerts first."""
    units: dict[str, list[AlertRow]] = {}
    for r in rows:
        units.setdefault(r.care_unit or "unknown", []).append(r)
    return sorted(((u, summarize(rs, now)) for u, rs in units.items()), key=lambda us: (-us[1].fired, us[0]))


def week_of(at: datetime, zone: tzinfo = UTC) -> date:
    """The Monday of the week `at` falls in, in `zone` (UTC by default)."""
    day = at.astimezone(zone).date()
    return day - timedelta(days=day.weekday())


def by_week(rows: Sequence[AlertRow], now: datetime, zone: tzinfo = UTC) -> list[tuple[date, Summary]]:
    """One summary per week from the first alert's week to the last one's, empty weeks included (for the plot)."""
    if not rows:
        return []
    weeks: dict[date, list[AlertRow]] = {}
    for r in rows:
        weeks.setdefault(week_of(r.raised_at, zone), []).append(r)
    first, last = min(weeks), max(weeks)
    out, week = [], first
    while week <= last:
        out.append((week, summarize(weeks.get(week, []), now)))
        week += timedelta(days=7)
    return out


def load(engine: sa.Engine, since: datetime | None = None, until: datetime | None = None) -> list[AlertRow]:
    """Alerts raised in [since, until), oldest first."""
    query = sa.select(alerts.c.id, alerts.c.care_unit, alerts.c.raised_at, alerts.c.first_action_at,
                      alerts.c.decision, alerts.c.dismiss_reason, alerts.c.pause_count).order_by(alerts.c.raised_at)
    if since is not None:
        query = query.where(alerts.c.raised_at >= since)
    if until is not None:
        query = query.where(alerts.c.raised_at < until)
    with engine.connect() as conn:
        return [AlertRow(**row) for row in conn.execute(query).mappings()]


# ------------------------------------------------------------------------------------------------- CSV

CSV_COLUMNS = ("group", "key", "fired", "evaluated", "evaluated_pct", "median_minutes_to_evaluation",
               "evaluated_within_1h", "eligible_1h", "evaluated_within_1h_pct", "evaluated_within_3h", "eligible_3h",
               "evaluated_within_3h_pct", "confirmed", "confirmed_pct_of_evaluated", "dismissed", "pauses",
               "paused_alerts", "awaiting", "dismissal_reasons", "feedback")


def _pct(rate: Rate) -> str:
    return "" if rate.fraction is None else f"{rate.fraction * 100:.1f}"


def csv_row(group: str, key: str, s: Summary, feedback: int | None = None) -> dict:
    return {
        "group": group, "key": key, "fired": s.fired, "evaluated": s.evaluated.n, "evaluated_pct": _pct(s.evaluated),
        "median_minutes_to_evaluation": "" if s.median_minutes_to_evaluation is None
        else f"{s.median_minutes_to_evaluation:.1f}",
        "evaluated_within_1h": s.within_1h.n, "eligible_1h": s.within_1h.of, "evaluated_within_1h_pct": _pct(s.within_1h),
        "evaluated_within_3h": s.within_3h.n, "eligible_3h": s.within_3h.of, "evaluated_within_3h_pct": _pct(s.within_3h),
        "confirmed": s.confirmed.n, "confirmed_pct_of_evaluated": _pct(s.confirmed), "dismissed": s.dismissed,
        "pauses": s.pauses, "paused_alerts": s.paused_alerts, "awaiting": s.awaiting,
        "dismissal_reasons": "; ".join(f"{k}={v}" for k, v in s.dismissal_reasons.items()),
        "feedback": "" if feedback is None else feedback,
    }


def spreadsheet_safe(value) -> str:
    """A CSV cell a spreadsheet shows but never runs as a formula (OWASP: CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_text(columns: Sequence[str], rows: Iterable[dict]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([spreadsheet_safe(row.get(c)) for c in columns])
    return out.getvalue()
