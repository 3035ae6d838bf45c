"""Operations under gunicorn with two workers, as `sentinel serve` runs it on PostgreSQL: /metrics adds up both
workers and its counters move after a launch, a score and a decision; every log line is JSON; an idle
keep-alive connection outlives gunicorn's old 2 s default."""

from __future__ import annotations

import http.client
import json
import time
from urllib.parse import urlsplit

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from sandbox.stack import AppProcess as App
from tests.support.live import SEPTIC, Browser, sid

TOKEN = "p" * 32


@pytest.fixture(scope="module")
def ops_app(postgres, sandbox, tmp_path_factory):
    folder = tmp_path_factory.mktemp("ops")
    app = App(sandbox, postgres.database("ops"), folder / "gunicorn.log", workers=2,
              env={"SENTINEL_METRICS_TOKEN": TOKEN, "SENTINEL_LOG_FORMAT": "json", "SENTINEL_LOG_LEVEL": "INFO",
                   "SENTINEL_METRICS_DIR": str(folder / "metrics")})
    app.metrics_dir = folder / "metrics"
    yield app
    app.stop()


def scrape(app: App) -> dict[tuple[str, tuple], float]:
    """One scrape on a new connection (so gunicorn may hand it to either worker)."""
    resp = requests.get(f"{app.url}/metrics", headers={"Authorization": f"Bearer {TOKEN}", "Connection": "close"},
                        timeout=10)
    assert resp.status_code == 200, resp.text[:300]
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(resp.text) for s in family.samples}


def value(samples, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


LIVEZ = ("sentinel_http_request_duration_seconds_count", {"route": "/livez", "method": "GET", "status": "200"})


def test_metrics_add_up_both_workers(ops_app):
    for _ in range(30):  # each on its own connection: both workers serve some
        assert requests.get(f"{ops_app.url}/livez", headers={"Connection": "close"}, timeout=10).status_code == 200
    counts = {value(scrape(ops_app), LIVEZ[0], **LIVEZ[1]) for _ in range(8)}
    assert len(counts) == 1 and counts.pop() >= 30  # every scrape, whichever worker answers, sees every request
    writers = {p.stem.rsplit("_", 1)[-1] for p in ops_app.metrics_dir.glob("histogram_*.db")}
    assert set(map(str, ops_app.workers())) <= writers  # both workers wrote samples


def test_counters_move_after_a_launch_a_score_and_a_decision(ops_app, sandbox):
    before = scrape(ops_app)
    provider = Browser(ops_app, sandbox, "provider", SEPTIC)  # a real EHR launch and the page's score
    alert_id = int(provider.first_page.split('data-alert-id="', 1)[1].split('"', 1)[0])
    assert provider.decide(alert_id, "confirm", sid()).status_code == 200
    provider.close()
    after = scrape(ops_app)

    def moved(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("sentinel_launches_total", outcome="ok") == 1
    assert moved("sentinel_assessments_total", level="alert") == 1
    assert moved("sentinel_alert_events_total", kind="raised") == 1
    assert moved("sentinel_alert_events_total", kind="confirmed") == 1
    assert moved("sentinel_http_request_duration_seconds_count", route="/patients/<patient_id>/alerts/<int:alert_id>"
                 "/<kind>", method="POST", status="200") == 1
    assert moved("sentinel_fhir_request_duration_seconds_count", resource="Observation", method="GET",
                 outcome="200") >= 1


def test_every_line_gunicorn_and_the_app_wrote_is_json(ops_app):
    requests.get(f"{ops_app.url}/healthz", timeout=10)
    lines = ops_app.log_text().splitlines()
    docs = [json.loads(line) for line in lines]  # raises on the first line that is not JSON
    assert all({"time", "level", "logger", "message"} <= d.keys() for d in docs)
    assert any(d["logger"] == "gunicorn.error" and "Booting worker" in d["message"] for d in docs)
    assert any(d["logger"] == "app.access" and d.get("route") == "/patients/<patient_id>" for d in docs)
    assert "access_token" not in "\n".join(lines) and "Bearer" not in "\n".join(lines)


def test_an_idle_keep_alive_connection_is_still_open_after_the_old_2_s_default(ops_app):
    url = urlsplit(ops_app.url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        conn.request("GET", "/livez")
        first = conn.getresponse()
        first.read()
        assert first.status == 200 and first.getheader("Connection", "").lower() != "close"
        time.sleep(2.5)  # a clinician reading the page: longer than gunicorn's default keep-alive of 2 s
        conn.request("GET", "/livez")  # on the same socket; with a 2 s keep-alive the server has closed it
        second = conn.getresponse()
        assert second.status == 200
    finally:
        conn.close()
