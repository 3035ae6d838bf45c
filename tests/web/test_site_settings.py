"""Settings a site changes: its time zone (every time shown or typed) and its organ-dysfunction signs."""

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app import create_app
from app.alerts.workflow import parse_local_time
from app.bedside import clock_text
from app.config import ConfigError
from tests.support.builders import stub_model

SEPTIC = "demo-102421"


def test_times_are_shown_and_read_in_the_site_zone():
    now = datetime(2026, 11, 23, 22, 30, tzinfo=ZoneInfo("America/New_York"))  # 03:30 UTC the next day
    measured = datetime(2026, 11, 24, 2, 5, tzinfo=UTC)
    assert clock_text(measured, now) == "21:05"
    assert clock_text(measured - timedelta(days=1), now) == "22 Nov 21:05"
    assert parse_local_time("2026-11-23T23:00", now) == datetime(2026, 11, 24, 4, 0, tzinfo=UTC)


def test_the_page_shows_measurement_times_in_the_site_zone(make_app, launch_with):
    tokyo = make_app(site_timezone="Asia/Tokyo")
    tokyo.extensions["sentinel"].model = stub_model()
    text = launch_with(tokyo, "nurse").page.get_data(as_text=True)
    shown = re.search(r"Systolic BP 8\d mmHg</strong> at (\d\d):\d\d", text) or re.search(
        r"Systolic BP 8\d mmHg at (\d\d):\d\d", re.sub(r"<[^>]+>", "", text))
    assert shown, "no SBP time on the page"
    tokyo_hour = datetime.now(ZoneInfo("Asia/Tokyo")).hour
    assert int(shown.group(1)) in {tokyo_hour, (tokyo_hour - 1) % 24}  # the newest SBP is from the last hour


def test_a_site_policy_without_the_patients_signs_shows_watch_not_alert(make_app, launch_with):
    strict = make_app(alert_policy={"sign_window_hours": 6,
                                    "signs": [{"concept": "sbp", "comparison": "<", "limit": 50}]})
    strict.extensions["sentinel"].model = stub_model()  # high risk (SBP < 100)
    html = launch_with(strict, "provider").page.get_data(as_text=True)
    assert 'data-level="watch"' in html


@pytest.mark.parametrize("overrides, message", [
    ({"site_timezone": "Mars/Olympus"}, "IANA time zone"),
    ({"alert_policy": {"signs": [{"concept": "sbp", "comparison": "<<", "limit": 90}]}}, "SENTINEL_ALERT_POLICY"),
])
def test_bad_site_settings_stop_the_app_with_a_clear_message(tmp_path, overrides, message):
    with pytest.raises(ConfigError, match=message):
        create_app({"database_url": f"sqlite:///{tmp_path}/x.db", **overrides})
