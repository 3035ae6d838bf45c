"""FHIR date and dateTime strings to Python values, saying why a value cannot be used as a measurement time."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

# FHIR R4 datatypes, "dateTime": YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm:ss(.sss)(Z|+hh:mm);
# "If hours and minutes are specified, a time zone SHALL be populated". Seconds are required by the spec;
# we also accept hh:mm, which some servers send, since it is unambiguous.
_DATETIME = re.compile(
    r"(?P<year>\d{4})(-(?P<month>\d{2})(-(?P<day>\d{2})"
    r"(T(?P<time>\d{2}:\d{2}(:\d{2}(\.\d+)?)?)(?P<tz>Z|[+-]\d{2}:\d{2})?)?)?)?"
)


@dataclass(frozen=True)
class ParsedTime:
    """Either `time` (timezone-aware) or `problem` (a short clinician-readable reason)."""

    time: datetime | None
    problem: str | None = None


def fhir_instant(t: datetime) -> str:
    """An aware time as a FHIR instant in UTC to the second, for search parameters ("ge2026-11-23T14:00:00Z")."""
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_datetime(value: object) -> ParsedTime:
    """A FHIR dateTime/instant as an aware datetime; date-only or zone-less values are a problem, not a guess."""
    if not isinstance(value, str):
        return ParsedTime(None, "no time recorded")
    m = _DATETIME.fullmatch(value.strip())
    if not m:
        return ParsedTime(None, "time not readable")
    if not m.group("time"):
        return ParsedTime(None, "date only, no time of day")
    if not m.group("tz"):
        return ParsedTime(None, "time has no time zone")
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return ParsedTime(None, "time not readable")
    if parsed.tzinfo is None:  # pragma: no cover - the regex guarantees a zone
        return ParsedTime(None, "time has no time zone")
    return ParsedTime(parsed)


@dataclass(frozen=True)
class BirthDate:
    """A birthDate at its recorded precision ("year", "month" or "day")."""

    first_day: date
    precision: str

    def age_years(self, at: datetime) -> float:
        """Age in years at `at`; a partial date counts from the middle of its year or month."""
        born = self.first_day
        if self.precision == "year":
            born = date(born.year, 7, 2)
        elif self.precision == "month":
            born = born + timedelta(days=14)
        return (at.date() - born).days / 365.25

    @property
    def text(self) -> str:
        """As a FHIR `date` at its precision ("1954", "1954-03", "1954-03-18"): what parse_birth_date reads."""
        return self.first_day.isoformat()[:{"year": 4, "month": 7}.get(self.precision, 10)]


def parse_birth_date(value: object) -> BirthDate | None:
    """FHIR `date` (YYYY, YYYY-MM or YYYY-MM-DD); None when absent or unreadable."""
    if not isinstance(value, str):
        return None
    m = re.fullmatch(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?", value.strip())
    if not m:
        return None
    try:
        first = date(int(m.group(1)), int(m.group(2) or 1), int(m.group(3) or 1))
    except ValueError:
        return None
    return BirthDate(first, "day" if m.group(3) else "month" if m.group(2) else "year")
