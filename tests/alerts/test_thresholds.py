from datetime import UTC, datetime

import pytest

from app.alerts import thresholds
from app.audit import entries

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
ISS = "https://ehr.example.org/fhir"


def change(engine, value, expected, reason="unit tuning"):
    return thresholds.set_threshold(engine, iss=ISS, value=value, default=0.3, expected_version=expected,
                                    model_version="m1",
                                    user_ref="Practitioner/deployment", role="deployment", reason=reason, now=NOW)


def test_default_is_the_model_cards_until_the_site_sets_one(engine):
    assert thresholds.current(engine, default=0.3, iss=ISS).value == 0.3
    assert thresholds.current(engine, default=0.3, iss=ISS).version == 0


def test_each_change_is_a_new_audited_version(engine):
    first = change(engine, 0.4, expected=0)
    second = change(engine, 0.5, expected=first.version)
    assert thresholds.current(engine, default=0.3, iss=ISS).value == 0.5
    assert [h["previous_value"] for h in thresholds.history(engine, iss=ISS)] == [0.4, 0.3]
    audit = entries(engine, action="set_threshold")
    assert [a["detail"] for a in audit] == [{"old": 0.4, "new": 0.5}, {"old": 0.3, "new": 0.4}]
    assert second.version > first.version


def test_a_stale_edit_does_not_overwrite_a_newer_one(engine):
    change(engine, 0.4, expected=0)
    with pytest.raises(thresholds.ThresholdError, match="changed by someone else"):
        change(engine, 0.6, expected=0)
    assert thresholds.current(engine, default=0.3, iss=ISS).value == 0.4


def test_of_two_changes_from_one_version_at_the_same_moment_one_lands(engine):
    """The other user's change commits between this one's read and its write: this one is refused, not lost
    silently over theirs (and not the other way round)."""
    import sqlalchemy as sa

    raced = []

    def other_user_changes_it(conn, cursor, statement, *args):
        if not raced and statement.lstrip().upper().startswith("SELECT") and "site_thresholds" in statement:
            raced.append(True)
            change(engine, 0.5, expected=0, reason="the other user")

    sa.event.listen(engine, "after_cursor_execute", other_user_changes_it)
    try:
        with pytest.raises(thresholds.ThresholdError, match="changed by someone else"):
            change(engine, 0.6, expected=0)
    finally:
        sa.event.remove(engine, "after_cursor_execute", other_user_changes_it)
    assert raced and thresholds.current(engine, default=0.3, iss=ISS).value == 0.5
    assert [h["value"] for h in thresholds.history(engine, iss=ISS)] == [0.5]


@pytest.mark.parametrize("value, reason", [(0.0, "x"), (1.2, "x"), (0.4, "  ")])
def test_bad_values_and_missing_reasons_are_refused(engine, value, reason):
    with pytest.raises(thresholds.ThresholdError):
        change(engine, value, expected=0, reason=reason)
