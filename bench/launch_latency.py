"""Launch-to-page latency: a full SMART EHR launch through the sandbox EHR, from the EHR opening the app to the
patient page, against a bare protocol client doing the same discovery, authorize, token and FHIR searches.

    .venv/bin/python -m bench.launch_latency [--launches 100] [--patient demo-102421] [--user nurse] [--cold]
                                             [--ehr-delay-ms 0] [--json out.json]

Both run against the same in-process stack (sandbox EHR + app, SQLite, as `sentinel demo`), one launch of each in
turn (app, bare, app, bare, ...), so a change in the machine's load during the run weighs on both alike. Prints
median and p95 of each, their ratio (goal <= 1.5), the median time of each browser -> app hop, the HTTP round
trips per launch (browser -> app, and app -> EHR by endpoint, counted on the app's own HTTP session, the token
POST included) and the load average before and after.

The app's launch does what the bare client does not, and must: PKCE state stored server-side and consumed once,
the id_token verified, the user's role read (Practitioner + PractitionerRole), a session opened with its audit row,
and on the page the mapping, scoring, alert workflow, audit row and rendering. The mapping remembers Observations
it has seen (by content); `--cold` makes every app launch map them all anew, as for a patient first opened.

On loopback an EHR round trip costs a few milliseconds; a hospital's EHR is further away. `--ehr-delay-ms N` makes
the sandbox wait N ms before every answer of its FHIR, token, authorize and discovery endpoints (its "delay"
fault), for both clients alike, to show the ratio where round trips cost what they do on a network.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import html
import json
import os
import re
import secrets
import statistics
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import requests

from app.fhir import mapping
from bench.stats import pct
from sandbox import faults
from sandbox.stack import start_stack


def launch_url(ehr_url: str, user: str, patient: str) -> str:
    """What the EHR puts in the chart's iframe (not timed: the EHR's own work before the app is involved)."""
    chart = requests.get(f"{ehr_url}/ehr/chart", params={"user": user, "patient": patient}, timeout=30)
    return html.unescape(re.search(r'<iframe[^>]*id="app"[^>]*src="([^"]+)"', chart.text).group(1))


def app_launch(stack, user: str, patient: str, hops: dict | None = None) -> tuple[float, int]:
    """The browser's part: /launch -> the EHR's authorize -> /callback -> /patients/<id>, redirects followed one by
    one (as requests would) so that each hop's time is known."""
    url = launch_url(stack.ehr_url, user, patient)
    browser = requests.Session()
    trips = 0
    started = time.perf_counter()
    while True:
        t0 = time.perf_counter()
        resp = browser.get(url, timeout=30, allow_redirects=False)
        if hops is not None:
            name = "EHR authorize" if not url.startswith(stack.app_url) else urlsplit(url).path.split("/")[1]
            hops.setdefault(name, []).append(time.perf_counter() - t0)
        trips += 1
        if resp.status_code not in (302, 303):
            break
        url = urljoin(url, resp.headers["Location"])
    elapsed = time.perf_counter() - started
    if resp.status_code != 200 or "id=\"headline\"" not in resp.text:
        raise RuntimeError(f"launch did not reach the patient page: HTTP {resp.status_code}")
    return elapsed, trips


def bare_launch(stack, user: str, patient: str, client_id: str, redirect_uri: str, scope: str) -> tuple[float, int]:
    """The protocol alone: discovery, authorize (PKCE), token, then the same FHIR reads and searches."""
    url = launch_url(stack.ehr_url, user, patient)
    q = parse_qs(urlsplit(url).query)
    iss, launch = q["iss"][0], q["launch"][0]
    http = requests.Session()
    trips = 0
    started = time.perf_counter()
    config = http.get(f"{iss}/.well-known/smart-configuration", timeout=30).json()
    verifier = secrets.token_urlsafe(64)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    auth = http.get(config["authorization_endpoint"], allow_redirects=False, timeout=30, params={
        "response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri, "scope": scope,
        "state": secrets.token_urlsafe(32), "aud": iss, "launch": launch, "nonce": secrets.token_urlsafe(16),
        "code_challenge": challenge, "code_challenge_method": "S256"})
    code = parse_qs(urlsplit(auth.headers["Location"]).query)["code"][0]
    token = http.post(config["token_endpoint"], timeout=30, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri, "client_id": client_id,
        "code_verifier": verifier}).json()
    trips += 3
    headers = {"Authorization": f"Bearer {token['access_token']}", "Accept": "application/fhir+json"}
    http.get(f"{iss}/Patient/{token['patient']}", headers=headers, timeout=30).json()
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 72 * 3600))
    page = http.get(f"{iss}/Observation", headers=headers, timeout=30, params={
        "patient": token["patient"], "category": "vital-signs,laboratory", "date": f"ge{since}", "_count": 200,
        "_sort": "-date"}).json()
    trips += 2
    while next_url := next((link["url"] for link in page.get("link", []) if link["relation"] == "next"), None):
        page = http.get(next_url, headers=headers, timeout=30).json()
        trips += 1
    return time.perf_counter() - started, trips


def count_requests(session: requests.Session) -> Counter:
    """Count the app's requests to the EHR by endpoint (the role reads run on a pool thread: counted under a lock)."""
    counts: Counter = Counter()
    lock = threading.Lock()

    def hook(resp, *args, **kwargs):
        path = urlsplit(resp.request.url).path
        key = "/".join(p for p in path.split("/")[-2:] if not re.fullmatch(r"[\w.-]{20,}|demo-\d+", p))
        with lock:
            counts[key] += 1

    session.hooks["response"].append(hook)
    return counts



def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--launches", type=int, default=100)
    parser.add_argument("--patient", default="demo-102421")
    parser.add_argument("--user", default="nurse")
    parser.add_argument("--cold", action="store_true",
                        help="forget the mapping memo before each app launch (a patient this process has not seen)")
    parser.add_argument("--ehr-delay-ms", type=float, default=0,
                        help="the sandbox waits this long before each answer (network latency of a real EHR)")
    parser.add_argument("--json", help="also write the numbers here")
    args = parser.parse_args()

    import logging

    logging.disable(logging.INFO)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        stack = start_stack(app_overrides={"database_url": f"sqlite:///{tmp}/bench.db", "log_level": "WARNING"})
        try:
            svc = stack.app.extensions["sentinel"]
            reg = svc.registration
            counts = count_requests(svc.http)

            def bare():
                return bare_launch(stack, args.user, args.patient, reg.client_id, reg.redirect_uri(stack.app_url),
                                   reg.ehr_launch_scope)

            app_launch(stack, args.user, args.patient)  # warm-up: discovery and JWKS caches, imports, the model
            bare()
            if args.ehr_delay_ms > 0:
                faults.set(stack.ehr, "delay", seconds=args.ehr_delay_ms / 1000,
                           target=["fhir", "token", "authorize", "discovery"])
            counts.clear()
            app_times, browser_trips, bare_times, bare_trips, hops = [], [], [], [], {}
            for _ in range(args.launches):
                if args.cold:
                    mapping._memo.clear()
                elapsed, trips = app_launch(stack, args.user, args.patient, hops)
                app_times.append(elapsed)
                browser_trips.append(trips)
                elapsed, trips = bare()
                bare_times.append(elapsed)
                bare_trips.append(trips)
            app_to_ehr = {k: v / args.launches for k, v in sorted(counts.items())}
        finally:
            stack.shutdown()
    load_after = os.getloadavg()
    result = {
        "launches": args.launches, "patient": args.patient, "user": args.user, "cold": args.cold,
        "ehr_delay_ms": args.ehr_delay_ms,
        "app_ms": {"median": 1000 * statistics.median(app_times), "p95": 1000 * pct(app_times, 0.95)},
        "bare_ms": {"median": 1000 * statistics.median(bare_times), "p95": 1000 * pct(bare_times, 0.95)},
        "app_hops_median_ms": {k: round(1000 * statistics.median(v), 1) for k, v in hops.items()},
        "browser_round_trips_per_launch": statistics.mean(browser_trips),
        "app_to_ehr_round_trips_per_launch": sum(app_to_ehr.values()), "app_to_ehr_by_endpoint": app_to_ehr,
        "bare_round_trips_per_launch": statistics.mean(bare_trips),
        "load_average": {"before": [round(x, 2) for x in load_before], "after": [round(x, 2) for x in load_after]},
    }
    result["ratio_median"] = result["app_ms"]["median"] / result["bare_ms"]["median"]
    result["ratio_p95"] = result["app_ms"]["p95"] / result["bare_ms"]["p95"]
    print(f"Launch to page, {args.launches} EHR launches of {args.patient} as {args.user}, app and bare in turn"
          f"{', mapping memo cleared before each' if args.cold else ''}"
          f"{f', EHR answers {args.ehr_delay_ms:g} ms late' if args.ehr_delay_ms else ''} "
          f"(load average {load_before[0]:.2f} before, {load_after[0]:.2f} after):")
    print(f"  app      median {result['app_ms']['median']:7.1f} ms   p95 {result['app_ms']['p95']:7.1f} ms")
    print(f"  protocol median {result['bare_ms']['median']:7.1f} ms   p95 {result['bare_ms']['p95']:7.1f} ms")
    print(f"  ratio    median {result['ratio_median']:.2f}   p95 {result['ratio_p95']:.2f}   (goal <= 1.5)")
    print("  app hops (median): " + ", ".join(f"{k} {v:.1f} ms" for k, v in result["app_hops_median_ms"].items()))
    print(f"  round trips per launch: browser->app {result['browser_round_trips_per_launch']:.0f}, "
          f"app->EHR {result['app_to_ehr_round_trips_per_launch']:.1f}, bare protocol "
          f"{result['bare_round_trips_per_launch']:.1f}")
    for endpoint, n in app_to_ehr.items():
        print(f"    app->EHR {endpoint:40s} {n:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
