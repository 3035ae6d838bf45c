"""A gunicorn worker is killed (SIGKILL: out of memory, a node drained badly) while requests are in flight.

The request it was serving fails visibly (no answer at all; behind a proxy, a 502), and nothing it began is
written: its transaction dies with its connection. The other worker's request completes. The master starts a
new worker, the next requests succeed, and the form sent again (same one-time submission id) is recorded once.

Each request is held at a known point by a database lock this test takes, one per worker (sync workers, so
that which worker holds which request is certain), and released once the worker has been killed.
"""

from __future__ import annotations

import os
import signal
import threading

import requests
import sqlalchemy as sa

from sandbox.stack import wait_for
from tests.support.live import SEPTIC, Browser, sid
from tests.support.pages import alert_id_of


def waiting_on_locks(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                    "AND wait_event_type = 'Lock'")).scalar_one()


def test_a_killed_worker_fails_its_request_visibly_and_loses_nothing_acknowledged(sync_app, sandbox):
    app = sync_app
    provider, nurse = Browser(app, sandbox, "provider", SEPTIC), Browser(app, sandbox, "nurse", SEPTIC)
    alert = alert_id_of(provider.first_page)
    assert alert is not None
    forms = {"confirm": sid(), "screening": sid()}
    send = {"confirm": lambda: provider.decide(alert, "confirm", forms["confirm"]),
            "screening": lambda: nurse.screening(forms["screening"])}
    outcome: dict[str, requests.Response | Exception] = {}

    def run(name: str) -> None:
        try:
            outcome[name] = send[name]()
        except requests.RequestException as exc:
            outcome[name] = exc

    engine = sa.create_engine(app.database_url)
    try:
        with engine.connect() as lock:
            lock.execute(sa.text("SELECT id FROM alerts WHERE id = :id FOR UPDATE"), {"id": alert})
            lock.execute(sa.text("LOCK TABLE nurse_screenings IN SHARE MODE"))  # reads pass, inserts wait
            threads = [threading.Thread(target=run, args=(name,)) for name in send]
            for t in threads:
                t.start()
            wait_for(lambda: waiting_on_locks(engine) == 2, 30, "both requests to wait inside a transaction")
            before = app.workers()
            os.kill(before[0], signal.SIGKILL)
            wait_for(lambda: len(outcome) == 1, 30, "the killed worker's request to fail")
            wait_for(lambda: len(after := app.workers()) == 2 and before[0] not in after, 60,
                     "the master to start a new worker")
            lock.rollback()  # the surviving worker's request goes on
        for t in threads:
            t.join(timeout=60)

        failed = [name for name, result in outcome.items() if isinstance(result, Exception)]
        done = [name for name, result in outcome.items() if not isinstance(result, Exception)]
        assert len(failed) == 1 and len(done) == 1, outcome
        assert isinstance(outcome[failed[0]], requests.ConnectionError)  # no answer: the browser says so
        assert outcome[done[0]].status_code == 200
        assert recorded(engine, forms) == {done[0]: 1}  # the killed request wrote nothing

        for clinician in (provider, nurse):  # the next requests succeed
            assert clinician.page().status_code == 200
        again = {name: send[name]() for name in send}  # the user presses again on the form that kept its input
        assert all(resp.status_code == 200 for resp in again.values())
        if "confirm" in failed:
            assert "Already recorded" not in again["confirm"].text
        else:
            assert "Already recorded: Confirmed at" in again["confirm"].text
        assert recorded(engine, forms) == {"confirm": 1, "screening": 1}  # each once
    finally:
        engine.dispose()
        provider.close()
        nurse.close()


def recorded(engine: sa.Engine, forms: dict[str, str]) -> dict[str, int]:
    with engine.connect() as conn:
        counts = {
            "confirm": conn.execute(sa.text("SELECT count(*) FROM alert_events WHERE submission_id = :s AND "
                                            "kind = 'confirmed'"), {"s": forms["confirm"]}).scalar_one(),
            "screening": conn.execute(sa.text("SELECT count(*) FROM nurse_screenings WHERE submission_id = :s"),
                                      {"s": forms["screening"]}).scalar_one(),
        }
    return {name: n for name, n in counts.items() if n}
