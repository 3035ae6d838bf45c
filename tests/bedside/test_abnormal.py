"""Abnormal values, trends and the words for why a starred value matters; times in the site's zone."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from app.bedside import abnormal
from app.bedside.timewords import clock_text, date_text, duration_text, zone_text

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 23, 18, 0, tzinfo=BERLIN)


def series(*values, every_h=1.0):
    return [(NOW - timedelta(hours=every_h * (len(values) - 1 - i)), v) for i, v in enumerate(values)]


def test_a_starred_value_says_why_in_a_few_words():
    assert abnormal.reason("resp_rate", "Respiratory rate", series(22, 26, 30), NOW) == "RR 30, rising"
    assert abnormal.reason("lactate", "Lactate", series(4.1), NOW) == "Lactate 4.1, high"
    assert abnormal.reason("sbp", "Systolic BP", series(120, 100, 85), NOW) == "SBP 85, falling"
    assert abnormal.reason("heart_rate", "Heart rate", series(80, 80), NOW) == "HR 80, steady"


def test_abnormal_uses_the_bedside_limits_and_knows_nothing_else():
    assert abnormal.flag("map", 64) == "low" and abnormal.flag("wbc", 13) == "high"
    assert abnormal.flag("heart_rate", 80) is None and abnormal.flag("age", 99) is None


def test_a_trend_needs_two_values_in_the_last_6_hours():
    assert abnormal.trend(series(20, 30, every_h=7), NOW) is None


def test_times_read_in_the_sites_zone_with_the_date_when_not_today():
    utc = datetime(2026, 11, 23, 16, 5, tzinfo=UTC)
    assert clock_text(utc, NOW) == "17:05"
    assert clock_text(utc - timedelta(days=1), NOW) == "22 Nov 17:05"
    assert clock_text(utc - timedelta(days=365), NOW) == "23 Nov 2025 17:05"
    assert date_text(utc - timedelta(days=270), NOW) == "26 Feb"
    assert duration_text(timedelta(hours=2, minutes=59, seconds=30)) == "2 h 59 min"
    assert zone_text(NOW) == "Europe/Berlin (CET)"
