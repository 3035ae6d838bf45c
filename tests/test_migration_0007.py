"""Migration 0007 gives every existing alert, screening, order, feedback item and threshold the EHR it came
from: by the sessions table where it knows exactly one server for the row's patient or user, else the only
allow-listed server, else none ("" - kept, but answering for no EHR). On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from alembic import command

from app import db

PROD, TEST = "https://ehr.example.org/fhir", "https://test-ehr.example.org/fhir"
AT = datetime(2026, 11, 23, 14, 0, tzinfo=UTC).replace(tzinfo=None)


def _before_0007(database_url):
    engine = db.make_engine(database_url)
    for head in ("0003", "0006"):  # the two branches 0007 joins
        command.upgrade(db._alembic_config(db._migration_engine(engine)), head)
    return engine


def _rows(conn) -> None:
    def insert(table, **values):
        cols = ", ".join(values)
        conn.execute(sa.text(f"INSERT INTO {table} ({cols}) VALUES ({', '.join(':' + c for c in values)})"),  # noqa: S608
                     values)

    session = dict(token_endpoint="t", encounter_id=None, user_name=None, role="provider", scope="s",
                   access_token_enc="x", refresh_token_enc=None, token_expires_at=AT, csrf_secret="c",
                   created_at=AT, last_seen_at=AT, expires_at=AT)
    insert("sessions", id_hash="s1", iss=PROD, patient_id="p1", user_ref="Practitioner/a", **session)
    insert("sessions", id_hash="s2", iss=PROD, patient_id="p3", user_ref="Practitioner/a", **session)
    insert("sessions", id_hash="s3", iss=TEST, patient_id="p3", user_ref="Practitioner/b", **session)
    alert = dict(seq=1, encounter_id=None, care_unit="u", raised_at=AT, state="active", state_at=AT,
                 probability=0.5, threshold=0.1, threshold_version=0, model_version="m", signs="[]",
                 measurements="[]", pause_count=0)
    insert("alerts", id=1, scope_key="Patient/p1", patient_id="p1", **alert)  # the sessions know: PROD
    insert("alerts", id=2, scope_key="Patient/p2", patient_id="p2", **alert)  # unknown: the allow-list decides
    insert("alerts", id=3, scope_key="Patient/p3", patient_id="p3", **alert)  # on two servers: the allow-list
    insert("bundle_orders", alert_id=1, element="lactate", resource_type="ServiceRequest", identifier="i1",
           code_system="l", code="c", display="d", status="placed", requested_at=AT, requested_by="Practitioner/a",
           role="provider", submission_id="o1")
    insert("nurse_screenings", scope_key="Patient/p1", patient_id="p1", submitted_at=AT, user_ref="Practitioner/n",
           role="nurse", infection_source="lung", new_confusion="no", submission_id="n1")
    insert("feedback", created_at=AT, kind="question", text="t", user_ref="Practitioner/b", role="nurse",
           status="new", status_at=AT, mail_status="off", mail_attempts=0)
    insert("site_thresholds", value=0.2, previous_value=0.1, model_version="m", set_by="Practitioner/a",
           set_role="deployment", set_at=AT, reason="r", based_on=0)


def _iss(conn, table: str) -> list[str]:
    return [r[0] for r in conn.execute(sa.text(f"SELECT iss FROM {table} ORDER BY id"))]  # noqa: S608


@pytest.mark.parametrize("allowlist, fallback", [((TEST,), TEST), ((PROD, TEST), "")])
def test_existing_rows_are_bound_to_the_ehr_they_came_from(database_url, allowlist, fallback):
    engine = _before_0007(database_url)
    with engine.begin() as conn:
        _rows(conn)
    db.upgrade(engine, allowlist)
    with engine.connect() as conn:
        assert _iss(conn, "alerts") == [PROD, fallback, fallback]
        assert _iss(conn, "bundle_orders") == [PROD]  # its alert's server
        assert _iss(conn, "nurse_screenings") == [PROD]  # by the patient's sessions
        assert _iss(conn, "feedback") == [TEST]  # by the asker's sessions
        assert _iss(conn, "site_thresholds") == [PROD]  # by the sessions of who set it
        assert conn.execute(sa.text("SELECT token_lifetime_s FROM sessions")).scalars().all() == [None] * 3
    assert db.is_current(engine)
    engine.dispose()


def test_the_same_scope_on_two_servers_may_now_both_hold_seq_1(database_url):
    engine = _before_0007(database_url)
    db.upgrade(engine, (PROD,))
    from app.alerts import store
    from app.alerts.policy import assess
    from app.alerts.workflow import Scope
    from app.model import Measurement
    from tests.support.builders import risk

    now = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
    ms = [Measurement("sbp", 82, now)]
    for iss in (PROD, TEST):
        alert = store.sync(engine, Scope(iss=iss, patient_id="p1", encounter_id="e1"),
                           assess(risk(0.8), ms, now, threshold=0.5), now, threshold_version=0, measurements=ms,
                           care_unit=lambda: "u")
        assert (alert.iss, alert.seq) == (iss, 1)
    engine.dispose()
