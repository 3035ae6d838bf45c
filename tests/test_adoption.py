"""Adoption metrics, each checked against numbers worked out by hand from seven alerts (the table below)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app import adoption as metrics
from app.adoption import Rate
from tests.support.adoption import NOW, ROWS, alert, at


def test_overall():
    s = metrics.summarize(ROWS, NOW)
    assert s.fired == 7
    assert s.evaluated == Rate(5, 7)  # 1, 2, 3, 5, 7 were acted on (a pause counts)
    assert s.median_minutes_to_evaluation == 45  # 20, 30, 45, 90, 240
    assert s.within_1h == Rate(3, 6)  # eligible: raised by 11:00 today (not 6); within 1 h: 1, 5, 7
    assert s.within_3h == Rate(3, 5)  # eligible: raised by 09:00 today (not 6, 7); within 3 h: 1, 2, 5
    assert s.confirmed == Rate(2, 5)  # 1 and 7, of the 5 evaluated
    assert s.dismissed == 2
    assert (s.pauses, s.paused_alerts) == (3, 2)
    assert s.awaiting == 2  # 4 and 6
    assert s.dismissal_reasons == {"chronic": 1, "other_explanation": 1}


def test_fractions():
    s = metrics.summarize(ROWS, NOW)
    assert s.evaluated.fraction == pytest.approx(0.7143, abs=1e-4)
    assert s.within_1h.fraction == 0.5 and s.within_3h.fraction == 0.6 and s.confirmed.fraction == 0.4
    assert Rate(0, 0).fraction is None


def test_by_unit():
    units = dict(metrics.by_unit(ROWS, NOW))
    assert list(units) == ["MICU", "SICU"]  # most alerts first
    micu, sicu = units["MICU"], units["SICU"]
    assert (micu.fired, micu.evaluated, micu.median_minutes_to_evaluation) == (4, Rate(3, 4), 30)  # 20, 30, 90
    assert (micu.within_1h, micu.within_3h, micu.confirmed) == (Rate(2, 3), Rate(3, 3), Rate(1, 3))
    assert (micu.dismissed, micu.pauses, micu.paused_alerts, micu.awaiting) == (2, 1, 1, 1)
    assert (sicu.fired, sicu.evaluated, sicu.median_minutes_to_evaluation) == (3, Rate(2, 3), 142.5)  # 45, 240
    assert (sicu.within_1h, sicu.within_3h, sicu.confirmed) == (Rate(1, 3), Rate(0, 2), Rate(1, 2))
    assert (sicu.dismissed, sicu.pauses, sicu.paused_alerts, sicu.awaiting) == (0, 2, 1, 1)
    assert sicu.dismissal_reasons == {}


def test_by_week():
    weeks = metrics.by_week(ROWS, NOW)
    assert [w for w, _ in weeks] == [date(2026, 11, 9), date(2026, 11, 16), date(2026, 11, 23)]
    first, second, third = (s for _, s in weeks)
    assert (first.fired, first.evaluated, first.median_minutes_to_evaluation, first.confirmed) == (
        2, Rate(2, 2), 60, Rate(1, 2))  # 30 and 90
    assert (second.fired, second.evaluated, second.median_minutes_to_evaluation, second.confirmed) == (
        3, Rate(2, 3), 130, Rate(0, 2))  # 20 and 240
    assert (third.fired, third.evaluated, third.within_1h, third.within_3h) == (2, Rate(1, 2), Rate(1, 1), Rate(0, 0))
    assert third.within_3h.fraction is None  # nothing old enough to judge yet


def test_empty_weeks_are_kept_for_the_plot():
    rows = [alert(1, "MICU", at(2, 9)), alert(2, "MICU", at(16, 9))]
    weeks = metrics.by_week(rows, NOW)
    assert [(w, s.fired) for w, s in weeks] == [(date(2026, 11, 2), 1), (date(2026, 11, 9), 0), (date(2026, 11, 16), 1)]
    assert weeks[1][1].median_minutes_to_evaluation is None


def test_weeks_start_on_monday_utc():
    assert metrics.week_of(datetime(2026, 11, 22, 23, 59, tzinfo=UTC)) == date(2026, 11, 16)  # Sunday night
    assert metrics.week_of(datetime(2026, 11, 23, 0, 0, tzinfo=UTC)) == date(2026, 11, 23)
    berlin = ZoneInfo("Europe/Berlin")  # Monday 00:30 in Berlin is still Sunday in UTC: the UTC week
    assert metrics.week_of(datetime(2026, 11, 23, 0, 30, tzinfo=berlin)) == date(2026, 11, 16)


def test_weeks_in_the_sites_zone_when_asked():
    berlin = ZoneInfo("Europe/Berlin")  # the adoption page's weeks: Monday 00:30 in Berlin is that Monday's week
    assert metrics.week_of(datetime(2026, 11, 23, 0, 30, tzinfo=berlin), berlin) == date(2026, 11, 23)


def test_nothing_yet():
    s = metrics.summarize([], NOW)
    assert (s.fired, s.evaluated.fraction, s.median_minutes_to_evaluation, s.confirmed.fraction) == (0, None, None, None)
    assert metrics.by_unit([], NOW) == [] and metrics.by_week([], NOW) == []


def test_exactly_one_hour_counts_as_within_one_hour():
    rows = [alert(1, "MICU", at(23, 9), at(23, 10))]
    assert metrics.summarize(rows, NOW).within_1h == Rate(1, 1)
    assert metrics.summarize(rows, at(23, 9) + timedelta(minutes=59)).within_1h == Rate(0, 0)


def test_dismissals_without_a_reason_are_counted_as_such():
    rows = [alert(1, "MICU", at(20, 9), at(20, 9, 5), "dismissed"), alert(2, "MICU", at(20, 9), at(20, 9, 5),
                                                                         "dismissed", "chronic")]
    assert metrics.summarize(rows, NOW).dismissal_reasons == {"chronic": 1, "not given": 1}


def test_csv_rows_and_spreadsheet_safety():
    s = metrics.summarize(ROWS, NOW)
    text = metrics.csv_text(metrics.CSV_COLUMNS, [metrics.csv_row("all", "all", s, feedback=4),
                                                  metrics.csv_row("unit", "=cmd()", s)])
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows[0]["fired"] == "7" and rows[0]["evaluated_pct"] == "71.4" and rows[0]["median_minutes_to_evaluation"] == "45.0"
    assert rows[0]["evaluated_within_1h_pct"] == "50.0" and rows[0]["eligible_3h"] == "5"
    assert rows[0]["confirmed_pct_of_evaluated"] == "40.0" and rows[0]["feedback"] == "4"
    assert rows[0]["dismissal_reasons"] == "chronic=1; other_explanation=1"
    assert rows[1]["key"] == "'=cmd()" and rows[1]["feedback"] == ""
