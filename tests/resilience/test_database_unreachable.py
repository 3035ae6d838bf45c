"""A PostgreSQL host that accepts the connection but never answers (a hung server, a half-open network path):
opening a connection gives up after app.db.CONNECT_TIMEOUT instead of holding the page for good."""

from __future__ import annotations

import socket
import threading
import time

import pytest
import sqlalchemy as sa

from app import db


@pytest.fixture
def silent_server():
    """A loopback port that completes the TCP handshake (the kernel does) and then says nothing."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield f"127.0.0.1:{s.getsockname()[1]}"


def test_a_silent_database_server_fails_the_connection_within_the_connect_timeout(silent_server, monkeypatch):
    monkeypatch.setattr(db, "CONNECT_TIMEOUT", 2)  # libpq's minimum, to keep the test short
    engine = db.make_engine(f"postgresql+psycopg://sentinel@{silent_server}/sentinel")
    failed: list[Exception] = []

    def connect():
        try:
            with engine.connect():
                pass
        except sa.exc.OperationalError as exc:
            failed.append(exc)

    attempt = threading.Thread(target=connect, daemon=True)  # without a timeout it would wait for ever
    started = time.monotonic()
    attempt.start()
    attempt.join(timeout=2 + 8)
    assert not attempt.is_alive(), "the connection attempt is still waiting"
    assert failed and "timeout" in str(failed[0]) and time.monotonic() - started < 2 + 8
    engine.dispose()


def connect_arguments(url: str) -> dict:
    """What make_engine's engine would hand to psycopg for `url` (captured before any connection is tried)."""
    engine = db.make_engine(url)
    seen: dict = {}

    @sa.event.listens_for(engine, "do_connect")
    def capture(_dialect, _record, _cargs, cparams):
        seen.update(cparams)
        raise ConnectionAbortedError("captured")

    with pytest.raises(ConnectionAbortedError), engine.connect():
        pass
    engine.dispose()
    return seen


def test_the_connect_timeout_is_set_unless_the_url_sets_its_own():
    assert connect_arguments("postgresql+psycopg://sentinel@127.0.0.1:9/sentinel")["connect_timeout"] == 5
    assert connect_arguments("postgresql+psycopg://sentinel@127.0.0.1:9/sentinel?connect_timeout=17")[
        "connect_timeout"] == "17"
