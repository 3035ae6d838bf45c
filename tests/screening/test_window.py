"""Reading only what is new gives the same measurements, and so the same score, as re-reading the whole window."""

from __future__ import annotations

import copy
from collections import Counter
from datetime import timedelta

import sqlalchemy as sa

from app.fhir import Transport
from app.fhir.encounters import read_icu_admission
from app.model import score
from app.screening import history, window
from tests.support.screening import OTHER, SEPTIC, backend_for, newest, put


def test_incremental_reads_give_the_full_window_s_measurements_and_score(fresh_ehr, screening_of, engine, clock,
                                                                         http):
    screening = screening_of(fresh_ehr)
    screening.run(clock.now)
    start = clock.now
    clock.now += timedelta(hours=1)
    # What an EHR does in an hour: new values, a corrected lab, a value entered in error, another patient's data.
    heart = copy.deepcopy(newest(fresh_ehr, SEPTIC, "8867-4"))
    heart.update(id="new-hr-1", effectiveDateTime=(start + timedelta(minutes=30)).isoformat(),
                 valueQuantity={**heart["valueQuantity"], "value": 141.0})
    put(fresh_ehr, heart)
    lactate = copy.deepcopy(newest(fresh_ehr, SEPTIC, "2524-7"))
    lactate["valueQuantity"]["value"] = 9.4
    lactate["status"] = "corrected"
    put(fresh_ehr, lactate)
    pressure = copy.deepcopy(newest(fresh_ehr, SEPTIC, "85354-9"))
    pressure["status"] = "entered-in-error"
    put(fresh_ehr, pressure)
    other = copy.deepcopy(newest(fresh_ehr, OTHER, "8867-4"))
    other.update(id="new-hr-2", effectiveDateTime=(start + timedelta(minutes=40)).isoformat())
    put(fresh_ehr, other)

    cycle = screening.run(clock.now)
    t = history.risk_scores
    with engine.connect() as conn:
        scored = {r.patient_id: r for r in conn.execute(sa.select(t).where(t.c.cycle_id == cycle))}
    assert {r.read for r in scored.values()} == {"incremental"}
    iss = f"{fresh_ehr.base_url}/fhir"
    transport = Transport(iss, backend_for(fresh_ehr), session=http)
    lookback = timedelta(hours=72)
    for pid in (SEPTIC, OTHER, "demo-109721"):
        kept = window.load(engine, iss, f"Encounter/{pid}-icu").measurements(clock.now, lookback)
        full = window.full_read(transport, pid, clock.now, lookback=lookback, page_size=200, max_pages=20,
                                wall=clock.now).window.measurements(clock.now, lookback)
        assert Counter(kept) == Counter(full)
        fresh = score(list(full), clock.now, icu_admitted_at=read_icu_admission(transport, f"{pid}-icu", clock.now))
        assert scored[pid].probability == getattr(fresh, "probability", None)
    kept = window.load(engine, iss, f"Encounter/{SEPTIC}-icu")
    assert kept.observations["new-hr-1"][1][0][1] == 141.0
    assert kept.observations[lactate["id"]][1][0][1] == 9.4
    assert kept.observations.get(pressure["id"], [None, []])[1] == []


def test_values_that_leave_the_look_back_are_dropped_from_the_window(fresh_ehr, screening_of, engine, clock):
    screening = screening_of(fresh_ehr)
    screening.run(clock.now)
    iss = f"{fresh_ehr.base_url}/fhir"
    before = window.load(engine, iss, f"Encounter/{SEPTIC}-icu")
    clock.now += timedelta(hours=30)  # the record's first 30 hours are now more than 72 h old
    screening.run(clock.now)
    after = window.load(engine, iss, f"Encounter/{SEPTIC}-icu")
    oldest = min(e[0] for e in after.observations.values())
    assert len(after.observations) < len(before.observations)
    assert oldest >= (clock.now - timedelta(hours=72)).isoformat()
