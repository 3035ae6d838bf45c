"""A screening cycle against the sandbox EHR: census, scores, alerts nobody asked for, incremental reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from app import audit
from app.alerts import store
from app.fhir import Transport, fetch_patient_record, map_record
from app.fhir.encounters import entry_of, read_census, read_icu_admission
from app.model import score
from app.screening import history
from app.screening.cycle import SYSTEM_ACTOR
from sandbox.users import SICU_ID
from tests.support.screening import LOCATIONS

SEPTIC = ("demo-102421", "demo-108952", "demo-100946", "demo-109721")  # sandbox/sandbox/demo_patients/README.md
DEMO = 10


def rows(engine, cycle_id=None):
    t = history.risk_scores
    query = sa.select(t).order_by(t.c.id)
    if cycle_id is not None:
        query = query.where(t.c.cycle_id == cycle_id)
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


def alerts_of(engine):
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(store.alerts).order_by(store.alerts.c.id)).mappings()]


def test_the_census_is_every_encounter_in_progress_at_the_screened_locations(ehr, tokens, http):
    transport = Transport(f"{ehr.base_url}/fhir", tokens, session=http)
    everyone = read_census(transport, LOCATIONS, now=datetime.now(UTC), page_size=3)  # several pages
    assert everyone.complete and everyone.pages >= 4
    assert len(everyone.entries) == DEMO and {e.encounter_id for e in everyone.entries} == {
        f"{e.patient_id}-icu" for e in everyone.entries}
    sicu = read_census(transport, (f"Location/{SICU_ID}",), now=datetime.now(UTC))
    assert 0 < len(sicu.entries) < DEMO and {e.location for e in sicu.entries} == {f"Location/{SICU_ID}"}


def test_an_encounter_a_server_returned_without_honouring_the_criteria_is_not_screened():
    wanted = frozenset({"Location/a"})
    enc = {"resourceType": "Encounter", "id": "e1", "status": "in-progress", "subject": {"reference": "Patient/p1"},
           "location": [{"location": {"reference": "Location/a"}, "status": "completed"},
                        {"location": {"reference": "Location/b"}, "status": "active"}]}
    assert entry_of(enc, wanted) is False  # moved on from a to b
    assert entry_of({**enc, "location": [{"location": {"reference": "Location/a"}}]}, wanted).patient_id == "p1"
    assert entry_of({**enc, "status": "finished", "location": [{"location": {"reference": "Location/a"}}]},
                    wanted) is False
    assert entry_of({**enc, "subject": {"reference": "Group/x"}}, wanted) is None


def test_a_cycle_scores_everyone_and_raises_the_septic_patients_alerts_as_the_system(engine, make_screening, clock):
    screening = make_screening()
    cycle_id = screening.run(clock.now)
    recorded = rows(engine, cycle_id)
    assert len(recorded) == DEMO and {r["read"] for r in recorded} == {"full"}
    assert all(r["source"] == "screening" and r["outcome"] in ("scored", "abstained") for r in recorded)
    raised = alerts_of(engine)
    assert {a["patient_id"] for a in raised} >= {"demo-102421"}
    assert {a["patient_id"] for a in raised} <= set(SEPTIC)
    assert all(a["encounter_id"] == f"{a['patient_id']}-icu" and a["care_unit"].startswith("Location/")
               for a in raised)
    entries = audit.entries(engine, action="raise_alert")
    assert {e["patient_id"] for e in entries} == {a["patient_id"] for a in raised}
    assert {(e["user_ref"], e["role"]) for e in entries} == {(SYSTEM_ACTOR, "system")}
    (summary,) = history.cycle_summaries(engine)
    assert (summary.census_size, summary.screened, summary.failed) == (DEMO, DEMO, 0)
    assert summary.scored + summary.abstained == DEMO and summary.fhir_requests >= 2 * DEMO


def test_the_screening_scores_a_patient_exactly_as_a_full_read_of_the_chart_does(engine, make_screening, clock,
                                                                                ehr, tokens, http):
    screening = make_screening()
    cycle_id = screening.run(clock.now)
    by_patient = {r["patient_id"]: r for r in rows(engine, cycle_id)}
    transport = Transport(f"{ehr.base_url}/fhir", tokens, session=http)
    for pid in SEPTIC[:2]:
        record = fetch_patient_record(transport, pid, now=clock.now, lookback=timedelta(hours=72))
        admitted = read_icu_admission(transport, f"{pid}-icu", clock.now)  # as the page reads it
        chart = score(list(map_record(record, clock.now, base=transport.base).measurements), clock.now,
                      icu_admitted_at=admitted)
        assert by_patient[pid]["probability"] == chart.probability


def test_the_next_cycle_reads_only_what_is_new_with_one_search_and_raises_nothing_twice(engine, make_screening,
                                                                                      clock):
    screening = make_screening()
    screening.run(clock.now)
    first_alerts = alerts_of(engine)
    clock.now += timedelta(minutes=15)
    second = screening.run(clock.now)
    recorded = rows(engine, second)
    assert len(recorded) == DEMO and {r["read"] for r in recorded} == {"incremental"}
    assert {r["fhir_requests"] for r in recorded} == {1}  # one Observation search, one page
    assert [a["id"] for a in alerts_of(engine)] == [a["id"] for a in first_alerts]
    assert len(audit.entries(engine, action="raise_alert")) == len(first_alerts)
    summaries = history.cycle_summaries(engine)
    assert summaries[0].requests_per_patient < 1.2 < summaries[1].requests_per_patient


def test_a_decided_alert_never_fires_again_from_the_screening(engine, make_screening, clock):
    from app.alerts.workflow import Actor, Decision, Scope

    screening = make_screening()
    screening.run(clock.now)
    alert = alerts_of(engine)[0]
    store.decide(engine, alert["id"], Decision("dismiss", reason="chronic"),
                 Actor("Practitioner/provider", "Dr. Test", "provider"), "a" * 32, clock.now)
    clock.now += timedelta(minutes=15)
    screening.run(clock.now)
    scope = Scope(iss=alert["iss"], patient_id=alert["patient_id"], encounter_id=alert["encounter_id"])
    assert store.newest(engine, scope).state == "dismissed"
    assert sum(a["scope_key"] == alert["scope_key"] for a in alerts_of(engine)) == 1


def test_the_trend_reads_the_recorded_scores_oldest_first(engine, make_screening, clock, ehr):
    screening = make_screening()
    screening.run(clock.now)
    clock.now += timedelta(minutes=15)
    screening.run(clock.now)
    points = history.trend(engine, f"{ehr.base_url}/fhir", "Encounter/demo-102421-icu",
                           since=clock.now - timedelta(hours=1))
    assert [p.at for p in points] == [clock.now - timedelta(minutes=15), clock.now]
    assert all(p.source == "screening" and p.probability is not None for p in points)
    assert history.trend(engine, "https://other.example/fhir", "Encounter/demo-102421-icu",
                         since=datetime(2000, 1, 1, tzinfo=UTC)) == []


def test_the_census_asks_the_server_to_refuse_what_it_cannot_honour(ehr, tokens, http):
    transport = Transport(f"{ehr.base_url}/fhir", tokens, session=http)
    from app.fhir import FhirRequestRejected
    from app.fhir.paging import search

    # The sandbox, as a real server, honours status and location; with the same header an unknown one is a 400.
    assert read_census(transport, LOCATIONS, now=datetime.now(UTC)).complete
    try:
        search(transport, "Encounter", {"status": "in-progress", "ward": "4"}, headers={"Prefer": "handling=strict"})
    except FhirRequestRejected as exc:
        assert exc.http_status == 400
    else:
        raise AssertionError("an unknown parameter was not refused under Prefer: handling=strict")


def test_the_census_search_is_sent_with_prefer_handling_strict():
    import responses

    from app.fhir import StaticToken

    with responses.RequestsMock() as mock:
        mock.get("https://ehr.example/fhir/Encounter", json={"resourceType": "Bundle", "type": "searchset"},
                 match=[responses.matchers.header_matcher({"Prefer": "handling=strict"})])
        census = read_census(Transport("https://ehr.example/fhir", StaticToken("t")), ("Location/a",),
                             now=datetime.now(UTC))
    assert census.entries == () and census.complete
