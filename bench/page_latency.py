"""Bedside page latency and FHIR round trips per page, with the trained model, through the sandbox EHR.

    .venv/bin/python -m bench.page_latency [--loads 60] [--patient demo-102421] [--json out.json]

Starts the in-process stack (sandbox EHR + app, SQLite), launches as a nurse and as a provider, and times:
the full page with an active alert (nurse), the nursing-assessment fragment (reads FHIR again), the alert and
screening fragments and a decision (database only: no FHIR), and, after the provider confirmed, the full page
and the bundle fragment (the bundle adds three FHIR searches). Prints median and p95 per scenario and the FHIR
round trips of each: the pages' `data-round-trips`, the fragments' from their audit rows (`detail.round_trips`).
Also the load average. Numbers, not a test.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import requests

from bench.stats import pct
from sandbox.stack import start_stack


def launched(stack, user: str, patient: str) -> tuple[requests.Session, str]:
    """A browser session on the patient page after a real EHR launch; returns it and the page's HTML."""
    chart = requests.get(f"{stack.ehr_url}/ehr/chart", params={"user": user, "patient": patient}, timeout=30)
    url = html.unescape(re.search(r'<iframe[^>]*id="app"[^>]*src="([^"]+)"', chart.text).group(1))
    browser = requests.Session()
    page = browser.get(url, timeout=30)
    if page.status_code != 200 or "id=\"headline\"" not in page.text:
        raise RuntimeError(f"launch did not reach the patient page: HTTP {page.status_code}")
    return browser, page.text


def timed(n: int, call) -> tuple[list[float], list[str]]:
    times, bodies = [], []
    for _ in range(n):
        started = time.perf_counter()
        resp = call()
        times.append((time.perf_counter() - started) * 1000)
        if resp.status_code not in (200, 409):
            raise RuntimeError(f"HTTP {resp.status_code}")
        bodies.append(resp.text)
    return times, bodies


def summary(times: list[float]) -> dict:
    ordered = sorted(times)
    return {"n": len(times), "median_ms": round(statistics.median(ordered), 1),
            "p95_ms": round(pct(ordered, 0.95), 1)}


def trips(bodies: list[str]) -> list[int]:
    return sorted({int(m.group(1)) for b in bodies if (m := re.search(r'data-round-trips="(\d+)"', b))})


def audited_trips(stack, action: str, last: int) -> list[int]:
    """The FHIR round trips the app audited for its last `last` requests of this kind (fragments have no marker)."""
    from app.audit import entries

    rows = entries(stack.app.extensions["sentinel"].engine, action=action, limit=last)
    return sorted({(r["detail"] or {}).get("round_trips", 0) for r in rows})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loads", type=int, default=60)
    parser.add_argument("--patient", default="demo-102421")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        stack = start_stack(app_overrides={"database_url": f"sqlite:///{tmp}/bench.db", "log_level": "WARNING"},
                            sandbox_settings={"LOAD_SAMPLE_PATIENTS": False})
        try:
            results = run(stack, args.patient, args.loads)
        finally:
            stack.shutdown()
    load = os.getloadavg()
    print(f"Bedside page, {args.loads} loads per scenario, patient {args.patient} (load average {load[0]:.2f} "
          f"{load[1]:.2f} {load[2]:.2f}):")
    for name, r in results.items():
        timing = (f"median {r['median_ms']:>7.1f} ms   p95 {r['p95_ms']:>7.1f} ms" if "median_ms" in r
                  else " " * 36)
        print(f"{name:<46} {timing}   n={r['n']:<3}   FHIR round trips {r['fhir_round_trips']}")
    if args.json:
        args.json.write_text(json.dumps({"load_average": load, "scenarios": results}, indent=1))
    return 0


def run(stack, patient: str, loads: int) -> dict:
    import logging

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    page_url = f"{stack.app_url}/patients/{patient}"
    results = {}
    nurse, first = launched(stack, "nurse", patient)
    if 'data-alert-id="' not in first:
        raise RuntimeError(f"{patient} raises no alert with this model; pick a patient that does")
    results["launch landing page (raises the alert)"] = {"n": 1, "fhir_round_trips": trips([first])}
    times, bodies = timed(loads, lambda: nurse.get(page_url, timeout=30))
    results["page, active alert (nurse)"] = {**summary(times), "fhir_round_trips": trips(bodies)}
    times, _ = timed(loads, lambda: nurse.get(f"{page_url}/assessment", headers={"HX-Request": "true"}, timeout=30))
    results["assessment fragment (reads FHIR again)"] = {**summary(times),
                                                         "fhir_round_trips": audited_trips(stack, "view_assessment",
                                                                                           loads)}
    times, _ = timed(loads, lambda: nurse.get(f"{page_url}/alert", timeout=30))
    results["alert fragment (no FHIR)"] = {**summary(times), "fhir_round_trips": [0]}
    times, _ = timed(loads, lambda: nurse.get(f"{page_url}/screening", timeout=30))
    results["screening fragment (no FHIR)"] = {**summary(times), "fhir_round_trips": [0]}
    times, _ = timed(loads, lambda: nurse.get(f"{page_url}/bundle", timeout=30))
    results["bundle fragment, alert not confirmed"] = {**summary(times),
                                                       "fhir_round_trips": audited_trips(stack, "view_bundle", loads)}

    provider, page = launched(stack, "provider", patient)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    alert_id = re.search(r'data-alert-id="(\d+)"', page).group(1)
    headers = {"HX-Request": "true", "X-CSRF-Token": token}
    started = time.perf_counter()
    resp = provider.post(f"{page_url}/alerts/{alert_id}/confirm", headers=headers,
                         data={"submission_id": uuid.uuid4().hex}, timeout=30)
    confirm_ms = (time.perf_counter() - started) * 1000
    if resp.status_code != 200:
        raise RuntimeError(f"confirm failed: HTTP {resp.status_code}")
    times, _ = timed(loads, lambda: provider.post(f"{page_url}/alerts/{alert_id}/dismiss", headers=headers,
                                                  data={"submission_id": uuid.uuid4().hex, "reason": "chronic"},
                                                  timeout=30))
    results["decision: confirm (no FHIR)"] = {"n": 1, "median_ms": round(confirm_ms, 1),
                                              "p95_ms": round(confirm_ms, 1), "fhir_round_trips": [0]}
    results["decision on a decided alert, 409 (no FHIR)"] = {**summary(times), "fhir_round_trips": [0]}
    times, bodies = timed(loads, lambda: provider.get(page_url, timeout=30))
    results["page, confirmed alert with bundle (provider)"] = {**summary(times), "fhir_round_trips": trips(bodies)}
    times, _ = timed(loads, lambda: provider.get(f"{page_url}/bundle", timeout=30))
    results["bundle fragment, confirmed alert"] = {**summary(times),
                                                  "fhir_round_trips": audited_trips(stack, "view_bundle", loads)}
    return results


if __name__ == "__main__":
    raise SystemExit(main())
