"""Launch-to-page latency: a full SMART EHR launch through the sandbox EHR, from the EHR opening the app to the
patient page, against a bare protocol client doing the same discovery, authorize, token and FHIR searches.

    .venv/bin/python bench/launch_latency.py [--launches 100] [--patient demo-102421] [--json out.json]

Both run against the same in-process stack (sandbox EHR + app, SQLite). Prints median and p95 of each, their
ratio (goal <= 1.5) and the HTTP round trips per launch (browser -> app, and app -> EHR).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import html
import json
import re
import secrets
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.demo import start_stack  # noqa: E402


def launch_url(ehr_url: str, user: str, patient: str) -> str:
    """What the EHR puts in the chart's iframe (not timed: the EHR's own work before the app is involved)."""
    chart = requests.get(f"{ehr_url}/ehr/chart", params={"user": user, "patient": patient}, timeout=30)
    return html.unescape(re.search(r'<iframe[^>]*id="app"[^>]*src="([^"]+)"', chart.text).group(1))


def app_launch(stack, user: str, patient: str) -> tuple[float, int]:
    url = launch_url(stack.ehr_url, user, patient)
    browser = requests.Session()
    started = time.perf_counter()
    resp = browser.get(url, timeout=30)  # follows /launch -> authorize -> /callback -> /patients/<id>
    elapsed = time.perf_counter() - started
    if resp.status_code != 200 or "patient-banner" not in resp.text:
        raise RuntimeError(f"launch did not reach the patient page: HTTP {resp.status_code}")
    return elapsed, len(resp.history) + 1


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
    counts: Counter = Counter()

    def hook(resp, *args, **kwargs):
        path = urlsplit(resp.request.url).path
        counts["/".join(p for p in path.split("/")[-2:] if not re.fullmatch(r"[\w.-]{20,}|demo-\d+", p))] += 1

    session.hooks["response"].append(hook)
    return counts


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--launches", type=int, default=100)
    parser.add_argument("--patient", default="demo-102421")
    parser.add_argument("--user", default="nurse")
    parser.add_argument("--json", help="also write the numbers here")
    args = parser.parse_args()

    import logging

    logging.disable(logging.INFO)
    with tempfile.TemporaryDirectory() as tmp:
        stack = start_stack(app_overrides={"database_url": f"sqlite:///{tmp}/bench.db", "log_level": "WARNING"})
        try:
            svc = stack.app.extensions["sentinel"]
            reg = svc.registration
            counts = count_requests(svc.http)
            app_launch(stack, args.user, args.patient)  # warm-up: discovery and JWKS caches, imports
            counts.clear()
            app_times, browser_trips = [], []
            for _ in range(args.launches):
                elapsed, trips = app_launch(stack, args.user, args.patient)
                app_times.append(elapsed)
                browser_trips.append(trips)
            app_to_ehr = {k: v / args.launches for k, v in sorted(counts.items())}
            bare_times, bare_trips = [], []
            for _ in range(args.launches):
                elapsed, trips = bare_launch(stack, args.user, args.patient, reg.client_id,
                                             reg.redirect_uri(stack.app_url), reg.ehr_launch_scope)
                bare_times.append(elapsed)
                bare_trips.append(trips)
        finally:
            stack.shutdown()
    result = {
        "launches": args.launches, "patient": args.patient,
        "app_ms": {"median": 1000 * statistics.median(app_times), "p95": 1000 * pct(app_times, 0.95)},
        "bare_ms": {"median": 1000 * statistics.median(bare_times), "p95": 1000 * pct(bare_times, 0.95)},
        "browser_round_trips_per_launch": statistics.mean(browser_trips),
        "app_to_ehr_round_trips_per_launch": sum(app_to_ehr.values()), "app_to_ehr_by_endpoint": app_to_ehr,
        "bare_round_trips_per_launch": statistics.mean(bare_trips),
    }
    result["ratio_median"] = result["app_ms"]["median"] / result["bare_ms"]["median"]
    result["ratio_p95"] = result["app_ms"]["p95"] / result["bare_ms"]["p95"]
    print(f"Launch to page, {args.launches} EHR launches of {args.patient} as {args.user}:")
    print(f"  app      median {result['app_ms']['median']:7.1f} ms   p95 {result['app_ms']['p95']:7.1f} ms")
    print(f"  protocol median {result['bare_ms']['median']:7.1f} ms   p95 {result['bare_ms']['p95']:7.1f} ms")
    print(f"  ratio    median {result['ratio_median']:.2f}   p95 {result['ratio_p95']:.2f}   (goal <= 1.5)")
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
