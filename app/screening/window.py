"""Each screened patient's window of measurements, kept between cycles so a cycle reads only what is new.

The first cycle for an encounter reads the whole window exactly as the bedside page does (`fetch_patient_record`:
Patient beside the Observation search, paged). Later cycles ask only for Observations created or changed since the
last read (`_lastUpdated=gt`, one search, one page when little is new) and merge them by id: a new version replaces
the old one, an Observation now entered-in-error maps to nothing and so drops out. Values older than the look-back
are dropped at each read. The watermark is the server's own clock (the search Bundle's meta.lastUpdated), less an
overlap, so neither clock skew nor a write committed during our read is missed; what the overlap brings back twice
merges to the same window.

What is stored per Observation is what the mapping made of it before the two checks against the clock (future,
window start): those are applied at each scoring with that scoring's `now`, as the page applies them, so the
measurements handed to the model are the ones a full re-read would give (tests/screening/test_window.py).

Table (declared here; migration 0008) `screening_windows`: iss, scope_key (UNIQUE together), patient_id,
encounter_id, watermark (a FHIR instant on the server's clock), read_at, full_read_at, birth_date (a FHIR date at
its precision) and sex (administrative gender, as app.fhir read them), observations (JSON: {observation id: [effective time, [[concept, value, time], ...]]}).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from app.db import TS, metadata
from app.fhir import Mapped, Transport, fetch_patient_record
from app.fhir.dates import fhir_instant, parse_birth_date, parse_datetime
from app.fhir.mapping import CLOCK_SKEW, demographic_measurements, map_unclocked
from app.fhir.searches import Demographics, updated_observations
from app.model import Measurement

log = logging.getLogger(__name__)

# Read a little before the watermark: writes committed while the last read ran, second-precision instants; and,
# when the server gives no time of its own and ours is used, clock skew (mapping.CLOCK_SKEW).
OVERLAP = timedelta(seconds=30)
FULL_READ_EVERY = timedelta(hours=24)  # re-read the whole window daily: a deletion leaves no _lastUpdated trace

screening_windows = sa.Table(
    "screening_windows", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("iss", sa.Text, nullable=False),
    sa.Column("scope_key", sa.String(200), nullable=False),
    sa.Column("patient_id", sa.String(128), nullable=False),
    sa.Column("encounter_id", sa.String(128)),
    sa.Column("watermark", sa.String(40), nullable=False),
    sa.Column("read_at", TS, nullable=False),
    sa.Column("full_read_at", TS, nullable=False),
    sa.Column("birth_date", sa.String(10)),
    sa.Column("sex", sa.String(16)),
    sa.Column("observations", sa.JSON, nullable=False),
    sa.UniqueConstraint("iss", "scope_key", name="uq_screening_windows_iss"),
)

Entries = dict[str, list]  # observation id -> [effective time ISO or None, [[concept, value, time ISO], ...]]


@dataclass(frozen=True)
class Window:
    patient_id: str
    birth_date: str | None
    sex: str | None
    observations: Entries
    watermark: str
    read_at: datetime
    full_read_at: datetime

    def measurements(self, now: datetime, lookback: timedelta) -> tuple[Measurement, ...]:
        """What the model is given at `now`: demographics, then each value inside [now - lookback, now + skew],
        one per (concept, time, value) as the page's mapping keeps them."""
        demo = Demographics(self.patient_id, None, parse_birth_date(self.birth_date), self.sex)
        out = [m.measurement for m in demographic_measurements(demo, now) if isinstance(m, Mapped)]
        start, end = now - lookback, now + CLOCK_SKEW
        seen = set()
        for oid in sorted(self.observations):
            when, values = self.observations[oid]
            if when is None or not start <= datetime.fromisoformat(when) <= end:
                continue
            for concept, value, at in values:
                key = (concept, at, round(value, 4))
                if key in seen:
                    continue
                seen.add(key)
                out.append(Measurement(concept, value, datetime.fromisoformat(at)))
        return tuple(out)


@dataclass(frozen=True)
class Read:
    """One read of a patient: the window afterwards, how it was read, and how many FHIR requests it cost."""

    window: Window
    kind: str  # full | incremental
    fhir_requests: int
    complete: bool
    changed: bool = True  # the observations differ from the stored ones (else only the watermark moves)


def _entries(observations, patient_id: str, base: str) -> Entries:
    out: Entries = {}
    for n, obs in enumerate(observations):
        when, results = map_unclocked(obs, patient_id=patient_id, base=base)
        oid = obs.get("id") if isinstance(obs, dict) and isinstance(obs.get("id"), str) else f"_{n}"
        used = [[m.measurement.concept, m.measurement.value, m.measurement.time.astimezone(UTC).isoformat()]
                for m in results if isinstance(m, Mapped)]
        out[oid] = [when.astimezone(UTC).isoformat() if when else None, used]
    return out


def _prune(entries: Entries, oldest: datetime) -> Entries:
    """Drop what has left the look-back (and what holds no usable value: nothing to keep it for)."""
    return {oid: e for oid, e in entries.items() if e[1] and e[0] is not None
            and datetime.fromisoformat(e[0]) >= oldest}


def _watermark(server_time: str | None, started: datetime) -> str:
    """The next read's `_lastUpdated=gt` value: the server's time of this read, else ours at its start, less the
    overlap."""
    parsed = parse_datetime(server_time).time if server_time else None
    return fhir_instant(parsed - OVERLAP if parsed else started - OVERLAP - CLOCK_SKEW)


def full_read(transport: Transport, patient_id: str, now: datetime, *, lookback: timedelta, page_size: int,
              max_pages: int, wall: datetime) -> Read:
    """The whole window, as the bedside page reads it."""
    before = transport.round_trips
    record = fetch_patient_record(transport, patient_id, now=now, lookback=lookback, page_size=page_size,
                                  max_pages=max_pages)
    patient = record.patient
    entries = _prune(_entries(record.observations, patient_id, transport.base), now - lookback)
    window = Window(patient_id, patient.birth_date.text if patient.birth_date else None, patient.sex, entries,
                    _watermark(record.server_time, wall), now, now)
    return Read(window, "full", transport.round_trips - before, record.complete)


def incremental_read(transport: Transport, window: Window, now: datetime, *, lookback: timedelta, page_size: int,
                     max_pages: int, wall: datetime) -> Read:
    """What changed since the window's watermark, merged into it (one search while little is new)."""
    before = transport.round_trips
    result = updated_observations(transport, window.patient_id, window.watermark, page_size=page_size,
                                  max_pages=max_pages)
    merged = _prune({**window.observations, **_entries(result.resources, window.patient_id, transport.base)},
                    now - lookback)
    new = replace(window, observations=merged, read_at=now,
                  watermark=_watermark(result.server_time, wall) if result.complete else window.watermark)
    return Read(new, "incremental", transport.round_trips - before, result.complete,
                changed=merged != window.observations)


def load(engine: sa.Engine, iss: str, scope_key: str) -> Window | None:
    t = screening_windows
    with engine.connect() as conn:
        row = conn.execute(sa.select(t).where(t.c.iss == iss, t.c.scope_key == scope_key)).mappings().first()
    if row is None:
        return None
    return Window(row["patient_id"], row["birth_date"], row["sex"], dict(row["observations"]), row["watermark"],
                  row["read_at"], row["full_read_at"])


def save(engine_or_conn, iss: str, scope_key: str, encounter_id: str | None, window: Window, *,
         changed: bool = True) -> None:
    """Insert or replace the scope's window (one worker per patient at a time: the task's lock sees to that).
    `changed=False`: only the watermark and read time are written (the window's values are as stored)."""
    t = screening_windows
    values = dict(patient_id=window.patient_id, encounter_id=encounter_id, watermark=window.watermark,
                  read_at=window.read_at, full_read_at=window.full_read_at, birth_date=window.birth_date,
                  sex=window.sex)
    if changed:
        values["observations"] = window.observations
    conn_ctx = engine_or_conn.begin() if isinstance(engine_or_conn, sa.Engine) else _Nested(engine_or_conn)
    with conn_ctx as conn:
        moved = conn.execute(t.update().where(t.c.iss == iss, t.c.scope_key == scope_key).values(**values)).rowcount
        if not moved:
            conn.execute(t.insert().values(iss=iss, scope_key=scope_key, **{**values,
                                                                            "observations": window.observations}))


def drop_others(engine: sa.Engine, iss: str, keep: set[str]) -> int:
    """Forget the windows of encounters no longer on the census (discharged or moved off the screened units)."""
    t = screening_windows
    with engine.begin() as conn:
        rows = conn.execute(sa.select(t.c.id, t.c.scope_key).where(t.c.iss == iss)).all()
        gone = [r.id for r in rows if r.scope_key not in keep]
        if gone:
            conn.execute(t.delete().where(t.c.id.in_(gone)))
    return len(gone)


class _Nested:
    """A caller's connection used as is (its transaction is the caller's)."""

    def __init__(self, conn):
        self.conn = conn

    def __enter__(self):
        return self.conn

    def __exit__(self, *exc):
        return False
