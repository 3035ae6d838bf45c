"""Throughput and latency with concurrent clinicians on real servers: gunicorn (2 workers, gthread), PostgreSQL, the
sandbox EHR in its own process, all on loopback.

    .venv/bin/python -m bench.load [--clients 50] [--duration 60] [--think 0] [--workers 2] [--threads 8]
                                   [--database-url URL] [--json out.json]

Starts a throwaway PostgreSQL (scripts/pg_test.sh; or `--database-url` for a database of your own, which it
migrates), the sandbox EHR (`python -m sandbox`, demo patients) and `gunicorn app.wsgi:app`, warms both workers
up, then runs `--clients` simulated clinicians for `--duration` seconds, each in its own thread. A clinician
(one in three is a provider, the others nurses; patients are the ten demo patients, spread evenly) repeats:

1. an EHR launch: the chart's iframe URL -> /launch -> the EHR's authorize -> /callback -> the patient page;
2. three rounds of the fragments the page reloads (nursing assessment, alert, screening, bundle);
3. an action: a nurse submits a screening; a provider decides on an active alert (confirm, pause or dismiss;
   409 when another provider decided first is an expected answer, counted apart); one in five sends feedback;
4. the patient page again.

`--think` seconds pass between requests (0: each clinician goes as fast as the servers answer, the worst case).
Prints requests/s, p50/p95/p99 per endpoint, the errors (any other status, or no answer: must be 0), and the
load average. Every process it started is stopped at the end. Numbers, not a test.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import random
import re
import statistics
import threading
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import requests

from bench.stats import pct
from sandbox.settings import PACKAGE_DIR as SANDBOX_DIR
from sandbox.stack import GunicornStack as Servers
from sandbox.stack import start_gunicorn_stack as start

PATIENTS = tuple(sorted(p.stem for p in (SANDBOX_DIR / "demo_patients").glob("demo-*.json")))
EXPECTED = {"launch": {302}, "callback": {303}, "decide": {200, 409}}



class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.times: dict[str, list[float]] = defaultdict(list)
        self.statuses: dict[str, Counter] = defaultdict(Counter)
        self.errors: list[str] = []

    def add(self, endpoint: str, status: int | str, ms: float, ok: bool) -> None:
        with self.lock:
            self.times[endpoint].append(ms)
            self.statuses[endpoint][status] += 1
            if not ok:
                self.errors.append(f"{endpoint}: {status}")


class Clinician:
    def __init__(self, n: int, servers: Servers, rec: Recorder, deadline: float, think: float, patients):
        self.n, self.servers, self.rec, self.deadline, self.think = n, servers, rec, deadline, think
        self.role = "provider" if n % 3 == 0 else "nurse"
        self.patient = patients[n % len(patients)]
        self.rand = random.Random(n)
        self.browser: requests.Session | None = None
        self.csrf = ""

    def running(self) -> bool:
        return time.monotonic() < self.deadline

    def call(self, endpoint: str, method: str, url: str, **kwargs) -> requests.Response | None:
        started = time.perf_counter()
        try:
            resp = self.browser.request(method, url, allow_redirects=False, timeout=60, **kwargs)
        except requests.RequestException as exc:
            self.rec.add(endpoint, type(exc).__name__, (time.perf_counter() - started) * 1000, False)
            return None
        ms = (time.perf_counter() - started) * 1000
        self.rec.add(endpoint, resp.status_code, ms, resp.status_code in EXPECTED.get(endpoint, {200}))
        if self.think:
            time.sleep(self.think * self.rand.uniform(0.5, 1.5))
        return resp

    def launch(self) -> str | None:
        """A fresh browser and an EHR launch; returns the patient page's HTML."""
        self.browser = requests.Session()
        self.browser.trust_env = False
        chart = self.browser.get(f"{self.servers.ehr_url}/ehr/chart", params={"user": self.role,
                                                                             "patient": self.patient}, timeout=60)
        url = html.unescape(re.search(r'<iframe[^>]*id="app"[^>]*src="([^"]+)"', chart.text).group(1))
        resp = self.call("launch", "GET", url)
        if resp is None or resp.status_code != 302:
            return None
        authorize = self.browser.get(resp.headers["Location"], allow_redirects=False, timeout=60)  # the EHR's
        if authorize.status_code != 302:
            self.rec.add("ehr authorize", authorize.status_code, 0.0, False)
            return None
        resp = self.call("callback", "GET", authorize.headers["Location"])
        if resp is None or resp.status_code != 303:
            return None
        page = self.call("page", "GET", urljoin(self.servers.app_url, resp.headers["Location"]))
        if page is None or page.status_code != 200:
            return None
        self.csrf = re.search(r'"X-CSRF-Token": "([^"]+)"', html.unescape(page.text)).group(1)
        return page.text

    def run(self) -> None:
        base = f"{self.servers.app_url}/patients/{self.patient}"
        htmx = {"HX-Request": "true"}
        while self.running():
            page = self.launch()
            if page is None:
                continue
            for _ in range(3):
                for name, path in (("fragment: assessment", "/assessment"), ("fragment: alert", "/alert"),
                                   ("fragment: screening", "/screening"), ("fragment: bundle", "/bundle")):
                    if not self.running():
                        return
                    self.call(name, "GET", base + path, headers=htmx)
            posting = {**htmx, "X-CSRF-Token": self.csrf}
            if self.role == "nurse":
                self.call("submit screening", "POST", f"{base}/screening", headers=posting, data={
                    "infection_source": self.rand.choice(["none", "lung", "urine"]),
                    "new_confusion": self.rand.choice(["yes", "no"]), "submission_id": uuid.uuid4().hex})
            else:
                alert = self.call("fragment: alert", "GET", f"{base}/alert", headers=htmx)
                found = re.search(r'/alerts/(\d+)/confirm', alert.text) if alert is not None else None
                if found:
                    kind = self.rand.choice(["confirm", "confirm", "pause", "dismiss"])
                    self.call("decide", "POST", f"{base}/alerts/{found.group(1)}/{kind}", headers=posting, data={
                        "submission_id": uuid.uuid4().hex, "duration": "1", "reason": "chronic"})
            if self.rand.random() < 0.2:
                self.call("submit feedback", "POST", f"{self.servers.app_url}/feedback", headers=posting, data={
                    "kind": "question", "text": "Load test: how is the risk computed?",
                    "page": urlsplit(base).path})
            if self.running():
                self.call("page reload", "GET", base)


def warm_up(servers: Servers, patients) -> None:
    """Each patient launched once per role (alerts raised, both workers' models loaded), not timed."""
    rec = Recorder()
    for i, patient in enumerate(patients * 2):
        c = Clinician(0 if i % 2 else 1, servers, rec, time.monotonic() + 60, 0.0, [patient])
        c.launch()
    if rec.errors:
        raise RuntimeError(f"warm-up failed: {rec.errors[:5]}")


def report(rec: Recorder, elapsed: float, clients: int, think: float, load: tuple, cpu: dict) -> dict:
    rows = {}
    total = sum(len(v) for v in rec.times.values())
    for endpoint, times in sorted(rec.times.items(), key=lambda kv: -len(kv[1])):
        rows[endpoint] = {"n": len(times), "per_s": round(len(times) / elapsed, 2),
                          "p50_ms": round(statistics.median(times), 1), "p95_ms": round(pct(times, 0.95), 1),
                          "p99_ms": round(pct(times, 0.99), 1), "max_ms": round(max(times), 1),
                          "statuses": {str(k): v for k, v in rec.statuses[endpoint].items()}}
    every = [t for times in rec.times.values() for t in times]
    result = {"clients": clients, "think_s": think, "seconds": round(elapsed, 1), "requests": total,
              "requests_per_s": round(total / elapsed, 1), "p50_ms": round(statistics.median(every), 1),
              "p95_ms": round(pct(every, 0.95), 1), "p99_ms": round(pct(every, 0.99), 1),
              "errors": len(rec.errors), "error_examples": rec.errors[:10],
              "conflicts_409": rec.statuses["decide"].get(409, 0),
              "launches_completed": rec.statuses["page"].get(200, 0),
              "load_average_after": [round(x, 2) for x in load], "cpu": cpu, "by_endpoint": rows}
    print(f"{clients} clinicians for {elapsed:.0f} s (think {think:g} s): {total} requests, "
          f"{result['requests_per_s']} requests/s, p50 {result['p50_ms']} ms, p95 {result['p95_ms']} ms, "
          f"p99 {result['p99_ms']} ms; errors {result['errors']}; launches {result['launches_completed']}; "
          f"decisions answered 409 (decided first by another provider): {result['conflicts_409']}")
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; CPU seconds: {cpu}")
    print(f"  {'endpoint':24s} {'n':>6s} {'req/s':>7s} {'p50 ms':>8s} {'p95 ms':>8s} {'p99 ms':>8s} {'max ms':>8s}")
    for endpoint, r in rows.items():
        print(f"  {endpoint:24s} {r['n']:6d} {r['per_s']:7.2f} {r['p50_ms']:8.1f} {r['p95_ms']:8.1f} "
              f"{r['p99_ms']:8.1f} {r['max_ms']:8.1f}  {r['statuses']}")
    for example in rec.errors[:10]:
        print(f"  error: {example}")
    return result


def process_cpu_seconds(pids: list[int]) -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime + stime
    return total


def run(servers: Servers, clients: int, duration: float, think: float) -> dict:
    warm_up(servers, list(PATIENTS))
    rec = Recorder()
    master, workers = servers.gunicorn_pids()
    pids = {"app workers": workers, "ehr": [servers.ehr.proc.pid]}
    before = {k: process_cpu_seconds(v) for k, v in pids.items()}
    client_before = time.process_time()
    deadline = time.monotonic() + duration
    started = time.perf_counter()
    threads = [threading.Thread(target=Clinician(n, servers, rec, deadline, think, PATIENTS).run, daemon=True)
               for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=duration + 120)
    elapsed = time.perf_counter() - started
    cpu = {k: round(process_cpu_seconds(v) - before[k], 1) for k, v in pids.items()}
    cpu["load client"] = round(time.process_time() - client_before, 1)
    return report(rec, elapsed, clients, think, os.getloadavg(), cpu)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load (bounded)")
    parser.add_argument("--think", type=float, default=0.0, help="mean seconds between a clinician's requests")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8, help="gunicorn threads per worker (as `sentinel serve`)")
    parser.add_argument("--database-url", help="PostgreSQL URL of a database of your own (default: a throwaway one)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    servers = start(workers=args.workers, threads=args.threads, database_url=args.database_url)
    try:
        print(f"app {servers.app_url} (gunicorn, {args.workers} workers x {args.threads} threads), EHR "
              f"{servers.ehr_url}, PostgreSQL; logs in {servers.workdir}")
        result = run(servers, args.clients, args.duration, args.think)
        result.update(workers=args.workers, threads=args.threads)
    finally:
        servers.stop()
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return 1 if result["errors"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
