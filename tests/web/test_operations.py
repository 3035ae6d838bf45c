"""The deployment team's screening view, and the risk over time on the bedside page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.screening import history
from tests.support.launch import SEPTIC


def test_the_screening_view_lists_each_cycle_with_its_counts_and_names_a_refused_token(launch, app, ehr):
    engine = app.extensions["sentinel"].engine
    iss = f"{ehr.base_url}/fhir"
    due = datetime.now(UTC) - timedelta(minutes=20)
    ok = history.open_cycle(engine, iss=iss, runner="in-process", due_at=due)
    history.census_read(engine, ok, size=3, complete=True, fhir_requests=1, queued=3)
    for pid in ("p1", "p2"):  # two of three read so far, both failed
        history.record_score(engine, iss=iss, scope_key=f"Encounter/{pid}", patient_id=pid, encounter_id=pid,
                             at=due, source="screening", cycle_id=ok, fhir_requests=1, duration_ms=5,
                             error="fhir_unavailable")
    refused = history.open_cycle(engine, iss=iss, runner="in-process", due_at=due + timedelta(minutes=15))
    history.census_read(engine, refused, size=None, complete=False, fhir_requests=0, error="backend_token_refused",
                        error_text="The EHR's authorization server refused the app's token request.")
    page = launch("deployment").client.get("/operations/screening")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'id="screening-error"' in text and "backend_token_refused" in text and "refused the app" in text
    row = text[text.index(f'id="cycle-{ok}"'):text.index("</tr>", text.index(f'id="cycle-{ok}"'))]
    cells = [c.split(">", 1)[1].split("<", 1)[0] for c in row.split("<td")[1:]]
    assert cells[1:7] == ["3", "2", "0", "0", "2", "1"]  # census, screened, scored, abstained, failed, queued
    assert cells[7:9] == ["3", "1.50"]  # FHIR requests: the census's and each patient's; per patient screened


def test_only_the_deployment_team_sees_the_screening_view(launch):
    assert launch("nurse").client.get("/operations/screening").status_code == 403


def test_the_bedside_page_draws_the_recorded_scores_with_the_site_threshold(launch, app, ehr):
    first = launch("provider", SEPTIC)
    assert 'id="risk-trend"' in first.page.get_data(as_text=True)
    assert "A trend is drawn from two scores on" in first.page.get_data(as_text=True)
    engine = app.extensions["sentinel"].engine
    iss = f"{ehr.base_url}/fhir"
    rows = history.trend(engine, iss, f"Encounter/{SEPTIC}-icu", since=datetime(2000, 1, 1, tzinfo=UTC))
    assert [r.source for r in rows] == ["chart"] and rows[0].probability is not None
    second = first.client.get(f"/patients/{SEPTIC}").get_data(as_text=True)
    trend = second[second.index('id="risk-trend"'):]
    threshold = rows[0].threshold
    assert "<polyline" in trend and f"site threshold {threshold * 100:.3g}%" in trend and "2 recorded scores" in trend


def test_the_newest_finished_cycle_is_scraped_from_the_database(make_app, ehr):
    from tests.support.metrics import TOKEN, scrape, value

    app = make_app(metrics_token=TOKEN)
    engine = app.extensions["sentinel"].engine
    due = datetime.now(UTC) - timedelta(minutes=1)
    done = history.open_cycle(engine, iss=f"{ehr.base_url}/fhir", runner="procrastinate", due_at=due)
    history.census_read(engine, done, size=1, complete=True, fhir_requests=1, queued=1)
    history.record_score(engine, iss="x", scope_key="Encounter/p1", patient_id="p1", encounter_id="p1", at=due,
                         source="screening", cycle_id=done, error="fhir_unavailable")
    running = history.open_cycle(engine, iss=f"{ehr.base_url}/fhir", runner="procrastinate", due_at=due)
    history.census_read(engine, running, size=5, complete=True, fhir_requests=1, queued=5)  # none screened yet
    samples = scrape(app.test_client())
    assert value(samples, "sentinel_screening_last_cycle_failed_patients") == 1
    assert value(samples, "sentinel_screening_last_cycle_census_failed") == 0
    assert value(samples, "sentinel_screening_last_cycle_lag_seconds") >= 60
    refused = history.open_cycle(engine, iss=f"{ehr.base_url}/fhir", runner="procrastinate", due_at=due)
    history.census_read(engine, refused, size=None, complete=False, fhir_requests=0, error="backend_token_refused")
    assert value(scrape(app.test_client()), "sentinel_screening_last_cycle_census_failed") == 1
