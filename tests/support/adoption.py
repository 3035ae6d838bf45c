"""Alert rows for the adoption figures: seven alerts over three weeks of November 2026, as the store returns them."""

from __future__ import annotations

from datetime import UTC, datetime

from app.adoption import AlertRow

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)  # a Monday


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def alert(id_, unit, raised, first_action=None, decision=None, reason=None, pauses=0):
    return AlertRow(id=id_, care_unit=unit, raised_at=raised, first_action_at=first_action, decision=decision,
                    dismiss_reason=reason, pause_count=pauses)


#  id  unit  raised (Nov)   first action    minutes  outcome                     pauses   week of
#  1   MICU  10th 08:00     08:30           30       confirmed                   0        9th
#  2   MICU  11th 09:00     10:30           90       dismissed (chronic)         1        9th
#  3   SICU  17th 10:00     14:00           240      paused, never decided       2        16th
#  4   SICU  18th 10:00     -               -        never acted on              0        16th
#  5   MICU  19th 10:00     10:20           20       dismissed (other_expl.)     0        16th
#  6   MICU  23rd 11:30     -               -        awaiting (30 min old)       0        23rd
#  7   SICU  23rd 10:00     10:45           45       confirmed (2 h old)         0        23rd
ROWS = [
    alert(1, "MICU", at(10, 8), at(10, 8, 30), "confirmed"),
    alert(2, "MICU", at(11, 9), at(11, 10, 30), "dismissed", "chronic", pauses=1),
    alert(3, "SICU", at(17, 10), at(17, 14), None, pauses=2),
    alert(4, "SICU", at(18, 10)),
    alert(5, "MICU", at(19, 10), at(19, 10, 20), "dismissed", "other_explanation"),
    alert(6, "MICU", at(23, 11, 30)),
    alert(7, "SICU", at(23, 10), at(23, 10, 45), "confirmed"),
]

