"""Faults during screening: the EHR down or slow mid-cycle, junk for one patient, a token the EHR refuses."""

from __future__ import annotations

import copy
import logging
from datetime import timedelta

import sqlalchemy as sa

from app.fhir import StaticToken
from app.screening import history, window
from tests.support.screening import SEPTIC, backend_for, newest, put

DEMO = 10


def outcomes(engine, cycle_id) -> dict[str, str]:
    t = history.risk_scores
    with engine.connect() as conn:
        return {r.patient_id: (r.outcome, r.error) for r in conn.execute(sa.select(t).where(t.c.cycle_id == cycle_id))}


def test_the_ehr_down_mid_cycle_records_who_was_not_read_and_the_next_cycle_catches_up(fresh_ehr, screening_of,
                                                                                     engine, clock, faults):
    screening = screening_of(fresh_ehr)
    screening.run(clock.now)
    heart = copy.deepcopy(newest(fresh_ehr, SEPTIC, "8867-4"))
    heart.update(id="while-down", effectiveDateTime=(clock.now + timedelta(minutes=5)).isoformat())
    put(fresh_ehr, heart)
    clock.now += timedelta(minutes=15)
    faults.set(fresh_ehr, "status", status=503, path="/fhir/Observation")  # the census reads, observations fail
    down = screening.run(clock.now)
    assert set(outcomes(engine, down).values()) == {("failed", "fhir_unavailable")}
    summary = history.cycle_summaries(engine)[0]
    assert (summary.census_size, summary.screened, summary.failed) == (DEMO, DEMO, DEMO)
    faults.clear(fresh_ehr)
    clock.now += timedelta(minutes=15)
    up = screening.run(clock.now)
    assert {o for o, _ in outcomes(engine, up).values()} <= {"scored", "abstained"}
    kept = window.load(engine, f"{fresh_ehr.base_url}/fhir", f"Encounter/{SEPTIC}-icu")
    assert "while-down" in kept.observations  # read at last, though written before the failed cycle


def test_a_failure_part_way_through_stops_only_the_patients_it_hits(fresh_ehr, screening_of, engine, clock, faults):
    screening = screening_of(fresh_ehr)
    faults.set(fresh_ehr, "status", status=503, path="/fhir/Observation", times=8)  # 4 attempts each: two patients
    cycle = screening.run(clock.now)
    seen = outcomes(engine, cycle)
    assert sum(o == "failed" for o, _ in seen.values()) == 2 and len(seen) == DEMO


def test_a_slow_ehr_fails_the_patient_it_keeps_waiting_and_no_other(fresh_ehr, screening_of, engine, clock, faults):
    screening = screening_of(fresh_ehr)  # read timeout 1 s
    faults.set(fresh_ehr, "delay", seconds=1.5, path="/fhir/Observation", times=1)
    cycle = screening.run(clock.now)
    seen = outcomes(engine, cycle)
    assert sorted(o for o, _ in seen.values()).count("failed") == 1 and len(seen) == DEMO


def test_junk_for_one_patient_does_not_stop_the_others(fresh_ehr, screening_of, engine, clock, faults):
    screening = screening_of(fresh_ehr)
    faults.set(fresh_ehr, "junk", body="html", path="/fhir/Observation", times=1)
    cycle = screening.run(clock.now)
    seen = outcomes(engine, cycle)
    assert [e for o, e in seen.values() if o == "failed"] == ["fhir_bad_response"]
    assert len(seen) == DEMO


def test_a_refused_token_is_a_clear_error_on_the_cycle_and_in_the_log_and_screening_goes_on(
        fresh_ehr, screening_of, engine, clock, caplog):
    caplog.set_level(logging.ERROR, logger="app.screening.cycle")
    screening_of(fresh_ehr, token_source=backend_for(fresh_ehr, registered=False)).run(clock.now)
    summary = history.cycle_summaries(engine)[0]
    assert (summary.error, summary.census_size, summary.screened) == ("backend_token_refused", None, 0)
    assert "refused the background screening's access request" in summary.error_text
    assert any("census not read: backend_token_refused" in r.getMessage() for r in caplog.records)
    clock.now += timedelta(minutes=15)
    screening_of(fresh_ehr).run(clock.now)  # the token is fixed: the next cycle screens everyone
    assert history.cycle_summaries(engine)[0].screened == DEMO


def test_a_token_the_fhir_server_rejects_is_recorded_as_unauthorized(fresh_ehr, screening_of, engine, clock):
    screening_of(fresh_ehr, token_source=StaticToken("not-a-token")).run(clock.now)
    assert history.cycle_summaries(engine)[0].error == "fhir_unauthorized"


def test_a_server_that_refuses_lastupdated_gets_the_whole_window_read(fresh_ehr, screening_of, engine, clock,
                                                                    monkeypatch):
    from app.fhir import FhirRequestRejected

    screening = screening_of(fresh_ehr)
    screening.run(clock.now)

    def refuse(*args, **kwargs):
        raise FhirRequestRejected(detail="HTTP 400 on Observation (error/not-supported)", http_status=400)

    monkeypatch.setattr(window, "updated_observations", refuse)
    clock.now += timedelta(minutes=15)
    cycle = screening.run(clock.now)
    t = history.risk_scores
    with engine.connect() as conn:
        reads = conn.execute(sa.select(t.c.read, t.c.outcome).where(t.c.cycle_id == cycle)).all()
    assert {r.read for r in reads} == {"full"} and "failed" not in {r.outcome for r in reads}


def test_a_discharge_takes_effect_at_the_next_cycle(fresh_ehr, screening_of, engine, clock):
    screening = screening_of(fresh_ehr)
    screening.run(clock.now)
    iss = f"{fresh_ehr.base_url}/fhir"
    store = fresh_ehr.extensions["sandbox"].store
    encounter = copy.deepcopy(store.get("Encounter", f"{SEPTIC}-icu"))
    encounter["status"] = "finished"
    put(fresh_ehr, encounter)
    clock.now += timedelta(minutes=15)
    cycle = screening.run(clock.now)
    assert SEPTIC not in outcomes(engine, cycle) and len(outcomes(engine, cycle)) == DEMO - 1
    assert window.load(engine, iss, f"Encounter/{SEPTIC}-icu") is None  # its stored window is gone
    assert window.load(engine, iss, "Encounter/demo-108952-icu") is not None
