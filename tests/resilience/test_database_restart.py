"""PostgreSQL restarts, and then stops for a while, while nurses save screenings and feedback, providers decide on
alerts and pages load (the app under gunicorn as `sentinel serve` runs it).

Every request that got a success answer is in the database afterwards, once. A request during the outage gets
503 and the message "Sepsis Sentinel's database did not answer" (htmx leaves the form as it was; the banner shows
the message), never a 500; sending the same form again (its one-time submission id) records it once. The app
recovers by itself: the same worker processes serve again once the database is back.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import requests
import sqlalchemy as sa

from sandbox.stack import wait_for
from tests.support.live import OTHER_SEPTIC, SEPTIC, Browser, sid
from tests.support.pages import alert_id_of, error_of

DB_DOWN = "Sepsis Sentinel's database did not answer"


@dataclass
class Answer:
    at: float
    status: int | None  # None: no HTTP answer
    seconds: float
    body: str


@dataclass
class Client:
    """One clinician sending one form (or loading one page) again and again. A send that fails is sent again
    unchanged, as a user would press the button of a form that kept its input, until it is acknowledged."""

    name: str
    send: Callable[[str], requests.Response]
    new_key: Callable[[], str]
    acked: list[str] = field(default_factory=list)
    answers: list[Answer] = field(default_factory=list)

    def run(self, stop: threading.Event) -> None:
        key = self.new_key()
        while not stop.is_set():
            started = time.monotonic()
            try:
                resp = self.send(key)
                status, body = resp.status_code, resp.text
            except requests.RequestException as exc:
                status, body = None, type(exc).__name__
            self.answers.append(Answer(started, status, time.monotonic() - started, body))
            if status == 200:
                self.acked.append(key)
                key = self.new_key()
            else:
                stop.wait(0.1)  # the user reads the message, then presses again

    def acks_after(self, t: float) -> int:
        return sum(a.status == 200 for a in self.answers if a.at > t)

    def refusals_after(self, t: float) -> int:
        return sum(a.status != 200 for a in self.answers if a.at > t)


def said_not_saved(body: str) -> bool:
    """The error card, or the feedback form kept with its text and its own "Not saved" line."""
    card = error_of(body)
    return (card is not None and card[0] == DB_DOWN) or (
        'id="feedback-not-saved"' in body and 'name="text"' in body)


def decide_until_acknowledged(provider: Browser, alert_id: int, submission_id: str, deadline: float) -> list[int]:
    statuses = []
    while time.monotonic() < deadline:
        statuses.append(provider.decide(alert_id, "confirm", submission_id).status_code)
        if statuses[-1] == 200:
            return statuses
        time.sleep(0.05)  # a user pressing again, bounded by the deadline
    raise AssertionError(f"confirm never acknowledged: {statuses}")


def test_no_acknowledged_write_is_lost_when_the_database_restarts_or_stops(shipped, sandbox, postgres):
    app = shipped
    workers = app.workers()
    nurse = Browser(app, sandbox, "nurse", SEPTIC)
    provider_a, provider_b = Browser(app, sandbox, "provider", SEPTIC), Browser(app, sandbox, "provider", OTHER_SEPTIC)
    alert_a, alert_b = alert_id_of(provider_a.first_page), alert_id_of(provider_b.first_page)
    assert alert_a and alert_b, "both septic demo patients raise an alert with the shipped model"
    page_tab, feedback_tab = provider_b.tab(), nurse.tab()
    clients = [  # one thread each, each in its own tab
        Client("nurse screenings", nurse.tab().screening, sid),
        Client("provider screenings", provider_b.tab().screening, sid),
        Client("feedback", lambda key: feedback_tab.feedback(f"question {key}", key), sid),  # key: submission id
        Client("page", lambda _key: page_tab.page(), sid),
    ]
    stop = threading.Event()
    threads = [threading.Thread(target=c.run, args=(stop,)) for c in clients]
    for t in threads:
        t.start()
    try:
        wait_for(lambda: all(c.acks_after(0) >= 2 for c in clients), 30, "every client to be served")

        # 1. A fast restart (pg_ctl -m fast restart) in the middle of the load; a provider decides meanwhile.
        statuses_b: list[int] = []
        decision_b = sid()
        deciding = threading.Thread(target=lambda: statuses_b.extend(
            decide_until_acknowledged(provider_b, alert_b, decision_b, time.monotonic() + 30)))
        deciding.start()
        postgres.restart("fast")
        restarted = time.monotonic()
        deciding.join(timeout=40)
        wait_for(lambda: all(c.acks_after(restarted) >= 2 for c in clients), 30, "every client served after restart")

        # 2. The database stays down for a while: every request gets the clear message, promptly.
        postgres.stop_server("fast")
        stopped = time.monotonic()
        wait_for(lambda: all(c.refusals_after(stopped) >= 2 for c in clients), 30, "every client to be refused")
        health = requests.get(f"{app.url}/healthz", timeout=30)
        assert health.status_code == 503
        decision_a = sid()
        refused = provider_a.decide(alert_a, "confirm", decision_a)
        assert refused.status_code == 503
        assert error_of(refused.text) == (DB_DOWN, "What you sent may not have been saved. What you entered is still "
                                                   "on the page: send it again in a minute. If this keeps happening, "
                                                   "tell the deployment team.")
        postgres.start_server()
        started = time.monotonic()
        wait_for(lambda: all(c.acks_after(started) >= 2 for c in clients), 30, "every client served after the outage")
        assert decide_until_acknowledged(provider_a, alert_a, decision_a, time.monotonic() + 30) == [200]
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
        if not postgres.running():  # leave the server up for the tests that follow
            postgres.start_server()
        for browser in (nurse, provider_a, provider_b):
            browser.close()

    assert statuses_b[-1] == 200 and set(statuses_b) <= {200, 503}
    answers = [a for c in clients for a in c.answers]
    assert {a.status for a in answers} <= {200, 503}, {a.status for a in answers}  # never a 500, always an answer
    for a in answers:
        if a.status == 503:
            assert said_not_saved(a.body), a.body[:500]
            assert a.seconds < 10  # the connection is refused at once; db.CONNECT_TIMEOUT bounds a silent server
    assert app.workers() == workers  # recovered without restarting a process

    engine = sa.create_engine(app.database_url)
    try:
        with engine.connect() as conn:
            screenings = dict(conn.execute(sa.text(
                "SELECT submission_id, count(*) FROM nurse_screenings GROUP BY submission_id")).all())
            feedback = dict(conn.execute(sa.text("SELECT text, count(*) FROM feedback GROUP BY text")).all())
            decisions = conn.execute(sa.text(
                "SELECT alert_id, submission_id FROM alert_events WHERE kind = 'confirmed' ORDER BY alert_id")).all()
    finally:
        engine.dispose()
    acked_screenings = clients[0].acked + clients[1].acked
    assert acked_screenings and all(screenings.get(s) == 1 for s in acked_screenings)  # none lost, none twice
    assert clients[2].acked and all(feedback.get(f"question {key}") == 1 for key in clients[2].acked)  # same
    assert [tuple(d) for d in decisions] == sorted([(alert_a, decision_a), (alert_b, decision_b)])
