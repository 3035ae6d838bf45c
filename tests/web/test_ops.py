"""Probes, /metrics and the per-request log line, through the Flask client and a real EHR launch."""

from __future__ import annotations

import io
import json
import logging
import shutil

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory

from app import db
from app.model.artifact import ARTIFACT_DIR, CARD_NAME
from app.ops import logs
from tests.support.builders import stub_model
from tests.support.metrics import TOKEN, scrape, value
from tests.support.sample_card import use_model_dir
from tests.support.web import alert_id_of, csrf_of, hx, sid

SEPTIC = "demo-102421"


@pytest.fixture
def app(make_app):
    return make_app(metrics_token=TOKEN)


# -- probes ----------------------------------------------------------------------------------------------------

def test_livez_answers_without_touching_anything(app):
    resp = app.test_client().get("/livez")
    assert resp.status_code == 200 and resp.get_json() == {"status": "live"}


def test_readyz_is_ready_with_the_database_current_and_the_shipped_model_verified(app):
    resp = app.test_client().get("/readyz")
    assert resp.status_code == 200, resp.get_json()
    checks = resp.get_json()["checks"]
    assert {name: c["ok"] for name, c in checks.items()} == {"database": True, "migrations": True, "model": True}
    assert "sha256 verified" in checks["model"]["detail"]


def corrupted_copy(tmp_path):
    """The shipped model directory, copied, with one byte of the artifact the card names changed."""
    copy = tmp_path / "model"
    shutil.copytree(ARTIFACT_DIR, copy)
    card = json.loads((copy / CARD_NAME).read_text())
    artifact = copy / card["model"]["artifact"]
    data = bytearray(artifact.read_bytes())
    data[len(data) // 2] ^= 0xFF
    artifact.write_bytes(bytes(data))
    return copy


def test_readyz_fails_when_the_model_files_checksum_does_not_match_its_card(app, tmp_path, monkeypatch, caplog):
    use_model_dir(app, corrupted_copy(tmp_path))
    resp = app.test_client().get("/readyz")
    assert resp.status_code == 503
    body = resp.get_json()
    assert body["status"] == "not ready" and body["checks"]["model"]["ok"] is False
    assert body["checks"]["database"]["ok"] and body["checks"]["migrations"]["ok"]
    assert str(tmp_path) not in json.dumps(body)  # the path and digests go to the log, not to the prober
    assert "sha256" in caplog.text and "refusing to load" in caplog.text


def test_readyz_fails_when_a_migration_is_pending(app):
    engine = app.extensions["sentinel"].engine
    script = ScriptDirectory.from_config(db._alembic_config(engine))
    head = script.get_revision(sorted(script.get_heads())[0])
    # A merge revision (0007 joins two branches) has several: the database then stands at each of them.
    downs = head.down_revision if isinstance(head.down_revision, tuple) else (head.down_revision,)
    with engine.begin() as conn:  # the database now records one migration fewer than the code has
        conn.execute(sa.text("DELETE FROM alembic_version WHERE version_num = :head"), {"head": head.revision})
        for down in downs:
            conn.execute(sa.text("INSERT INTO alembic_version (version_num) VALUES (:down)"), {"down": down})
    resp = app.test_client().get("/readyz")
    assert resp.status_code == 503
    migrations = resp.get_json()["checks"]["migrations"]
    assert migrations == {"ok": False, "detail": "behind: run `sentinel db upgrade`"}


def test_healthz_is_unchanged(app):
    assert app.test_client().get("/healthz").get_json() == {"status": "ok"}


# -- metrics ---------------------------------------------------------------------------------------------------


def test_metrics_are_off_without_a_token_and_refused_with_a_wrong_one(make_app):
    assert make_app().test_client().get("/metrics").status_code == 404
    client = make_app(metrics_token=TOKEN).test_client()
    assert client.get("/metrics").status_code == 401
    wrong = client.get("/metrics", headers={"Authorization": "Bearer " + "x" * 32})
    assert wrong.status_code == 401 and wrong.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_short_metrics_token_is_refused_at_start():
    from app.config import ConfigError, load_settings

    with pytest.raises(ConfigError, match="SENTINEL_METRICS_TOKEN"):
        load_settings({"metrics_token": "short"})


def test_counters_move_after_a_launch_a_score_and_a_decision(app, launch):
    app.extensions["sentinel"].model = stub_model()  # the septic demo patient alerts
    client = app.test_client()
    before = scrape(client)
    provider = launch("provider", SEPTIC, client=client)
    page = provider.page.get_data(as_text=True)
    resp = client.post(f"/patients/{SEPTIC}/alerts/{alert_id_of(page)}/confirm", headers=hx(csrf_of(page)),
                       data={"submission_id": sid()})
    assert resp.status_code == 200
    after = scrape(client)

    def moved(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("sentinel_launches_total", outcome="ok") == 1
    assert moved("sentinel_assessments_total", level="alert") >= 1
    assert moved("sentinel_alert_events_total", kind="raised") == 1
    assert moved("sentinel_alert_events_total", kind="confirmed") == 1
    assert moved("sentinel_http_request_duration_seconds_count", route="/patients/<patient_id>", method="GET",
                 status="200") >= 1
    assert moved("sentinel_http_request_duration_seconds_count", route="/callback", method="GET", status="303") == 1
    assert moved("sentinel_fhir_request_duration_seconds_count", resource="Observation", method="GET",
                 outcome="200") >= 1
    assert value(after, "sentinel_database_up") == 1
    assert ("sentinel_feedback_waiting", ()) in after


def test_a_refused_launch_is_counted_by_its_code(app):
    client = app.test_client()
    before = scrape(client)
    assert client.get("/launch?iss=https://evil.example/fhir&launch=x").status_code == 403
    assert value(scrape(client), "sentinel_launches_total", outcome="iss_not_allowed") - \
        value(before, "sentinel_launches_total", outcome="iss_not_allowed") == 1


# -- the access line and the request id ------------------------------------------------------------------------

@pytest.fixture
def json_lines(caplog):
    """Every log line written meanwhile, in the JSON format."""
    caplog.set_level(logging.INFO)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    logging.getLogger().addHandler(handler)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    logging.getLogger().removeHandler(handler)


def test_each_request_logs_one_access_line_with_its_route_status_duration_and_id(app, launch, json_lines):
    launched = launch("nurse", SEPTIC)
    lines = json_lines()
    access = [d for d in lines if d["logger"] == "app.access"]
    page = next(d for d in access if d["route"] == "/patients/<patient_id>")
    assert page["status"] == 200 and page["method"] == "GET" and page["duration_ms"] > 0
    assert SEPTIC not in page["message"]  # the URL rule, not the path with the patient id
    # the page's other lines (FHIR round trips, the snapshot) carry the same request id and route
    same = [d for d in lines if d.get("request_id") == page["request_id"] and d["logger"] != "app.access"]
    assert any(d["logger"] == "app.fhir.transport" for d in same)
    assert {d["route"] for d in same} == {"/patients/<patient_id>"}
    # ... including the Patient read on a pool thread beside the Observation search, and the launch's reads
    assert all(d.get("request_id") for d in lines if d["logger"].startswith(("app.fhir", "app.smart")))
    assert launched.page.headers["X-Request-ID"] == page["request_id"]


def test_a_safe_incoming_request_id_is_kept_and_an_unsafe_one_replaced(app):
    client = app.test_client()
    assert client.get("/livez", headers={"X-Request-ID": "lb-7f3a.1"}).headers["X-Request-ID"] == "lb-7f3a.1"
    replaced = client.get("/livez", headers={"X-Request-ID": "Doe, Jane 1970-01-01"}).headers["X-Request-ID"]
    assert replaced != "Doe, Jane 1970-01-01" and logs.SAFE_REQUEST_ID.fullmatch(replaced)


def test_an_unknown_path_is_logged_as_unmatched_not_as_the_path(app, json_lines):
    assert app.test_client().get("/patients-of/Doe-Jane").status_code == 404
    access = [d for d in json_lines() if d["logger"] == "app.access"]
    assert [(d["route"], d["status"]) for d in access] == [("<unmatched>", 404)]
    assert "Doe-Jane" not in json.dumps(access)
