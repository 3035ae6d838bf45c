"""Load with faults: clinicians keep working while the EHR is slow, down or flapping, PostgreSQL restarts and
stops, and gunicorn workers are killed. Prints, per phase, the requests, their outcomes and latencies, and at
the end every acknowledged write against what the database holds. Numbers, not a test (the fast, deterministic
checks of the same faults are tests/resilience/).

    .venv/bin/python -m bench.faults [--phase-seconds 20] [--nurses 10] [--providers 2] [--json out.json]

Starts everything itself, on loopback: a throwaway PostgreSQL (scripts/pg_test.sh), the sandbox EHR in this
process (so it can go down and come back with its tokens), and the app as `sentinel serve` runs it (gunicorn,
2 workers x 8 threads, FHIR time budget 20 s unless --fhir-budget). Each nurse loads her patient's page and
sends screenings and feedback; each provider opens the alert panel, pauses an active alert (it comes back
after the pause, at a page load) and loads the page. A form that got no success answer is sent again unchanged
(same one-time submission id, same text) until it does, as a user would press again on a form that kept its input.

Outcomes: ok (2xx); refused (409: someone decided first; 422); clear (502/503/504 with the app's message card,
or the feedback form kept with its "Not saved" line); 500; no answer (connection reset or refused: a killed
worker); wrong score (a 200 page whose risk differs from the patient's before the faults: must be 0).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import signal
import statistics
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import requests
import sqlalchemy as sa

from bench.stats import pct
from sandbox.stack import AppProcess as App
from sandbox.stack import EhrServer, Postgres, postgres_available, wait_for
from tests.support.live import Browser, sid
from tests.support.pages import alert_panel_state, error_of, risk_text

PATIENTS = ("demo-102421", "demo-108952", "demo-100946", "demo-109721", "demo-104673", "demo-108289",
            "demo-101521", "demo-105800", "demo-109764", "demo-100402")
ALERTING = ("demo-102421", "demo-108952")  # alert with the shipped model


# -- recording -------------------------------------------------------------------------------------------------

@dataclass
class Sample:
    phase: str
    kind: str  # page | db-only (alert panel) | screening | feedback | decision
    outcome: str
    ms: float


class Recorder:
    def __init__(self):
        self.phase = "launch"
        self.samples: list[Sample] = []
        self.lock = threading.Lock()
        self.acked: dict[str, list[str]] = defaultdict(list)  # screening sids, feedback texts, decision sids
        self.resends = Counter()
        self.replayed = Counter()
        self.draining = False  # at the end: only forms not yet acknowledged are sent

    def add(self, phase: str, kind: str, outcome: str, ms: float) -> None:
        with self.lock:
            self.samples.append(Sample(phase, kind, outcome, ms))


def outcome_of(resp: requests.Response | None, *, baseline: str | None = None, page: bool = False) -> str:
    if resp is None:
        return "no answer"
    code = resp.status_code
    if 200 <= code < 300:
        if page and risk_text(resp.text) != baseline:
            return "wrong score"
        return "ok"
    if code in (409, 422):
        return "refused"
    if code == 500:
        return "500"
    if code in (502, 503, 504) and (error_of(resp.text) or 'id="feedback-not-saved"' in resp.text):
        return "clear"
    return f"other {code}"


def timed(rec: Recorder, kind: str, call, **classify) -> tuple[requests.Response | None, str]:
    phase, started = rec.phase, time.perf_counter()  # a request counts in the phase it began in
    try:
        resp = call()
    except requests.RequestException:
        resp = None
    outcome = outcome_of(resp, **classify)
    rec.add(phase, kind, outcome, (time.perf_counter() - started) * 1000)
    return resp, outcome


# -- clinicians ------------------------------------------------------------------------------------------------

@dataclass
class Clinician:
    browser: Browser
    rec: Recorder
    rng: random.Random
    stop: threading.Event
    think: float
    baseline: str | None = None
    pending: dict = field(default_factory=dict)  # kind -> the form sent but not yet acknowledged

    def pause(self) -> None:
        self.stop.wait(self.rng.uniform(0.5, 1.5) * self.think)  # think time

    def send(self, kind: str, new_form, call) -> None:
        """Send the pending form of this kind again, or a new one; remember it until it is acknowledged."""
        if kind not in self.pending and self.rec.draining:
            return
        if kind in self.pending:
            self.rec.resends[kind] += 1
        form = self.pending.setdefault(kind, new_form())
        resp, outcome = timed(self.rec, kind, lambda: call(form))
        if outcome == "ok":
            del self.pending[kind]
            self.rec.acked[kind].append(form["key"])
            if "Already recorded" in resp.text:
                self.rec.replayed[kind] += 1
        elif outcome == "refused":
            del self.pending[kind]  # an answer: nothing was saved (409 someone else decided; 422 a field)


def nurse(c: Clinician) -> None:
    b = c.browser
    while not c.stop.is_set():
        timed(c.rec, "page", b.page, baseline=c.baseline, page=True)
        c.pause()
        if c.rng.random() < 0.5 or "screening" in c.pending:
            c.send("screening", lambda: {"key": sid()}, lambda f: b.screening(f["key"]))
        if c.rng.random() < 0.2 or "feedback" in c.pending:
            c.send("feedback", lambda: {"key": f"load test question {sid()}", "sid": sid()},
                   lambda f: b.feedback(f["key"], f["sid"]))
        c.pause()


def provider(c: Clinician) -> None:
    b = c.browser
    while not c.stop.is_set():
        resp, _ = timed(c.rec, "db-only", b.alert_fragment)
        alert_id, state = alert_panel_state(resp.text) if resp is not None and resp.status_code == 200 else (None, None)
        if "decision" in c.pending or state == "active":
            def new_pause(alert_id=alert_id):
                # the shortest pause the form allows: to the next whole minute (the app reads it in its zone)
                until = (datetime.now().astimezone() + timedelta(seconds=60)).strftime("%Y-%m-%dT%H:%M")
                return {"key": sid(), "alert": alert_id, "until": until}
            c.send("decision", new_pause, lambda f: b.decide(f["alert"], "pause", f["key"], duration="until",
                                                           until=f["until"]))
        else:  # paused: a page load re-checks the criteria when the pause is over
            timed(c.rec, "page", b.page, baseline=c.baseline, page=True)
        c.pause()


# -- phases ----------------------------------------------------------------------------------------------------

def run_phases(args, rec: Recorder, ehr: EhrServer, app: App, pg: Postgres, log) -> list[dict]:
    from sandbox import faults

    seconds = args.phase_seconds
    events = []
    rng = random.Random(args.seed)

    def phase(name: str, what: str) -> None:
        rec.phase = name
        log(f"phase {name}: {what}")

    def note(text: str) -> None:
        events.append({"phase": rec.phase, "t": round(time.monotonic() - t0, 1), "event": text})
        log(f"  {text}")

    t0 = time.monotonic()
    phase("baseline", "no faults")
    time.sleep(seconds)

    phase("fhir slow 2 s", "every FHIR request answers after 2 s")
    faults.set(ehr.app, "delay", seconds=2)
    time.sleep(seconds)
    faults.clear(ehr.app)

    phase("fhir down", "the EHR's port is closed (connection refused)")
    ehr.down()
    time.sleep(seconds)
    ehr.up()

    phase("fhir flapping", "half the FHIR requests answer 503, at random")
    faults.set(ehr.app, "status", status=503, probability=0.5)
    time.sleep(seconds)
    faults.clear(ehr.app)

    phase("db restart", "pg_ctl -m fast restart; later stopped for 5 s, then started")
    time.sleep(seconds / 4)
    pg.restart("fast")
    note("PostgreSQL restarted (fast)")
    time.sleep(seconds / 4)
    pg.stop_server("fast")
    note("PostgreSQL stopped")
    time.sleep(5)
    pg.start_server()
    note("PostgreSQL started")
    time.sleep(seconds / 2)

    phase("worker killed", "SIGKILL a gunicorn worker twice, with pages in flight (FHIR 1 s per request)")
    faults.set(ehr.app, "delay", seconds=1)
    for _ in range(2):
        time.sleep(seconds / 3)
        victim = rng.choice(app.workers())
        os.kill(victim, signal.SIGKILL)
        note(f"worker {victim} killed")
        wait_for(lambda v=victim: len(w := app.workers()) == 2 and v not in w, 60, "a new worker")
        note("master started a new worker")
    time.sleep(seconds / 3)
    faults.clear(ehr.app)

    phase("recovered", "no faults; unacknowledged forms are sent again")
    time.sleep(seconds)
    return events


# -- the check of acknowledged writes --------------------------------------------------------------------------

def stored(database_url: str, rec: Recorder) -> dict:
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            screenings = Counter(dict(conn.execute(sa.text(
                "SELECT submission_id, count(*) FROM nurse_screenings GROUP BY 1")).all()))
            feedback = Counter(dict(conn.execute(sa.text("SELECT text, count(*) FROM feedback GROUP BY 1")).all()))
            decisions = Counter(dict(conn.execute(sa.text(
                "SELECT submission_id, count(*) FROM alert_events WHERE submission_id IS NOT NULL GROUP BY 1")).all()))
    finally:
        engine.dispose()
    out = {}
    for kind, rows in (("screening", screenings), ("feedback", feedback), ("decision", decisions)):
        acked = rec.acked[kind]
        out[kind] = {"acknowledged": len(acked), "in database": sum(1 for k in acked if rows.get(k, 0) >= 1),
                     "lost": sum(1 for k in acked if rows.get(k, 0) == 0),
                     "stored twice": sum(1 for k in acked if rows.get(k, 0) > 1),
                     "sent again": rec.resends[kind], "answered 'already recorded'": rec.replayed[kind]}
    return out


# -- report ----------------------------------------------------------------------------------------------------


def summarize(rec: Recorder, phases: list[str]) -> list[dict]:
    rows = []
    for name in phases:
        samples = [s for s in rec.samples if s.phase == name]
        row = {"phase": name, "requests": len(samples), **Counter(s.outcome for s in samples)}
        for kinds, label in ((("page",), "page"), (("db-only", "screening", "feedback", "decision"), "db-only")):
            ms = [s.ms for s in samples if s.kind in kinds]
            if ms:
                row[label] = {"n": len(ms), "p50_ms": round(statistics.median(ms)), "p95_ms": round(pct(ms, 0.95)),
                              "max_ms": round(max(ms))}
        rows.append(row)
    return rows


def print_report(rows: list[dict], writes: dict, events: list[dict], args) -> None:
    outcomes = ("ok", "refused", "clear", "500", "no answer", "wrong score")
    print(f"\nSepsis Sentinel under load with faults: {args.nurses} nurses, {args.providers} providers, "
          f"{args.phase_seconds:g} s per phase, FHIR time budget {args.fhir_budget:g} s, gunicorn 2 workers x 8 threads\n")
    head = f"{'phase':<15} {'requests':>8} " + " ".join(f"{o:>11}" for o in outcomes)
    head += f"   {'page p50/p95/max ms':>22}   {'db-only p50/p95/max ms':>22}"
    print(head)
    for r in rows:
        line = f"{r['phase']:<15} {r['requests']:>8} " + " ".join(f"{r.get(o, 0):>11}" for o in outcomes)
        for label in ("page", "db-only"):
            t = r.get(label)
            cell = f"{t['p50_ms']}/{t['p95_ms']}/{t['max_ms']}" if t else "-"
            line += f"   {cell:>22}"
        other = {k: v for k, v in r.items() if k.startswith("other")}
        print(line + (f"   {other}" if other else ""))
    print("\nevents: " + "; ".join(f"{e['t']} s {e['event']}" for e in events))
    print(f"\n{'acknowledged writes':<12} " + " ".join(f"{k:>12}" for k in next(iter(writes.values()))))
    for kind, w in writes.items():
        print(f"{kind:<12} " + " ".join(f"{v:>12}" for v in w.values()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phase-seconds", type=float, default=20)
    parser.add_argument("--nurses", type=int, default=10)
    parser.add_argument("--providers", type=int, default=2)
    parser.add_argument("--think", type=float, default=1.0, help="mean seconds between a clinician's actions")
    parser.add_argument("--fhir-budget", type=float, default=20.0, help="SENTINEL_FHIR_TIME_BUDGET (s)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    why_not = postgres_available()
    if why_not:
        print(f"cannot start PostgreSQL: {why_not}")
        return 1
    logging.getLogger("werkzeug").setLevel(logging.WARNING)

    def log(text: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)

    workdir = Path(tempfile.mkdtemp(prefix="sentinel-faults-"))
    pg, ehr, app = Postgres(), None, None
    try:
        ehr = EhrServer({"LOAD_SAMPLE_PATIENTS": False})
        app = App(ehr, pg.database("faults"), workdir / "gunicorn.log",
                  env={"SENTINEL_FHIR_TIME_BUDGET": str(args.fhir_budget)})
        log(f"app {app.url} (log {app.log_path}), EHR {ehr.base_url}, PostgreSQL {pg.dir}")
        rec, stop = Recorder(), threading.Event()
        rng = random.Random(args.seed)
        clinicians = []
        for i in range(args.nurses):
            b = Browser(app, ehr, "nurse", PATIENTS[i % len(PATIENTS)])
            clinicians.append((nurse, Clinician(b, rec, random.Random(rng.random()), stop, args.think,
                                                risk_text(b.first_page))))
        for i in range(args.providers):
            b = Browser(app, ehr, "provider", ALERTING[i % len(ALERTING)])
            clinicians.append((provider, Clinician(b, rec, random.Random(rng.random()), stop, args.think,
                                                   risk_text(b.first_page))))
        log(f"{len(clinicians)} clinicians launched")
        threads = [threading.Thread(target=role, args=(c,), daemon=True) for role, c in clinicians]
        for t in threads:
            t.start()
        events = run_phases(args, rec, ehr, app, pg, log)
        rec.phase, rec.draining = "drain", True
        wait_for(lambda: not any(c.pending for _, c in clinicians), 120, "every form to be acknowledged", every=0.5)
        stop.set()
        for t in threads:
            t.join(timeout=90)
        phases = list(dict.fromkeys(s.phase for s in rec.samples if s.phase not in ("launch",)))
        rows = summarize(rec, phases)
        writes = stored(app.database_url, rec)
        print_report(rows, writes, events, args)
        if args.json:
            args.json.write_text(json.dumps({"phases": rows, "writes": writes, "events": events}, indent=1))
        lost = sum(w["lost"] for w in writes.values())
        bad = sum(r.get("500", 0) + r.get("wrong score", 0) for r in rows)
        return 1 if lost or bad else 0
    finally:
        if app is not None:
            app.stop()
        if ehr is not None:
            ehr.close()
        pg.close()


if __name__ == "__main__":
    raise SystemExit(main())
