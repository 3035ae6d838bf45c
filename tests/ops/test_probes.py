"""Readiness checks without the web layer: an unreachable database is named, and the migrations are not read."""

from __future__ import annotations

import socket

import sqlalchemy as sa

from app.ops import probes


def test_an_unreachable_database_fails_both_database_checks_with_what_to_look_at():
    with socket.socket() as s:  # a loopback port nobody listens on: connection refused at once
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    engine = sa.create_engine(f"postgresql+psycopg://u:secret-pw@127.0.0.1:{port}/x?connect_timeout=2")
    checks = probes.database(engine)
    assert [(c.name, c.ok) for c in checks] == [("database", False), ("migrations", False)]
    assert checks[0].detail == "not reachable (OperationalError)"  # no URL, no password
    assert "secret-pw" not in repr(checks)


def test_a_missing_model_directory_is_not_ready(tmp_path):
    check = probes.model(tmp_path / "nothing-here")
    assert (check.name, check.ok) == ("model", False)
    assert check.detail == "refused (ModelArtifactError): see the log"
