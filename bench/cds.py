"""Benchmark the CDS Hooks patient-view call as the EHR makes it: over HTTP to the live demo stack, a fresh signed JWT
each call (so every call checks a signature and claims a jti in the database), the full prefetch in the body.

    .venv/bin/python -m bench.cds [--calls 200] [--prefetch-calls 20] [--board-patients 50] [--json out.json]

Two paths: "stored" (the patient was scored within SENTINEL_CDS_FRESH_MINUTES, so the answer is the database's:
the usual case once the screening runs) and "prefetch" (never scored: the prefetch is mapped and scored through
the one scoring path, then stored). Prints median and p95 in ms per path. Then the unit board: a unit of
`--board-patients` screened patients (two scorings each through the one scoring path, a third of them alerting),
opened by a user-level launch, `GET /board` timed 50 times. Not a test: numbers vary with what else the machine
runs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import requests
import sqlalchemy as sa

from bench.stats import pct

SEPTIC, QUIET = "demo-102421", "demo-108289"
UNIT = "Location/sandbox-micu"


def board_bench(stack, patients: int, loads: int = 50) -> list[float]:
    """Fill a unit with screened patients, open the board as the EHR would (no patient), time its loads."""
    import html
    import re
    from datetime import timedelta

    from app.alerts.workflow import Scope
    from app.assessment import assess_and_sync
    from app.model import Measurement
    from app.screening import history

    services = stack.app.extensions["sentinel"]
    now = services.clinical_now()
    for i in range(patients):
        sick = i % 3 == 0
        for hours_ago in (1, 0):
            at = now - timedelta(hours=hours_ago)
            ms = [Measurement("heart_rate", 125 if sick else 80, at), Measurement("resp_rate", 28 if sick else 14, at),
                  Measurement("spo2", 90 if sick else 98, at), Measurement("sbp", 82 if sick else 125, at),
                  Measurement("temperature", 39.2 if sick else 36.8, at), Measurement("lactate", 4.1 if sick else 1.0, at),
                  Measurement("age", 70, at), Measurement("sex_male", 1, at)]
            scope = Scope(iss=stack.fhir_base, patient_id=f"bench-{i}", encounter_id=f"bench-{i}-icu")
            assess_and_sync(services.engine, scope, ms, at, source=history.SCREENING, care_unit=lambda: "MICU", location=UNIT,
                            location_display=f"MICU bed {i}")
    browser = requests.Session()
    page = browser.get(f"{stack.ehr_url}/ehr/board", params={"user": "nurse", "unit": UNIT}, timeout=30).text
    src = html.unescape(re.search(r'<iframe id="app"[^>]*src="([^"]+)"', page).group(1))
    assert browser.get(src, timeout=30).url.endswith(f"/board?unit={UNIT}")
    out = []
    for _ in range(loads):
        started = time.perf_counter()
        resp = browser.get(f"{stack.app_url}/board", params={"unit": UNIT}, timeout=30)
        out.append((time.perf_counter() - started) * 1000)
        assert resp.status_code == 200 and resp.text.count('id="board-row-') == patients
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--prefetch-calls", type=int, default=20)
    parser.add_argument("--board-patients", type=int, default=50)
    parser.add_argument("--json")
    args = parser.parse_args()

    from app.screening import history
    from sandbox import stack as demo
    from sandbox.ehr.cds import prefetch
    from sandbox.ehr.patients import in_progress_encounter
    from sandbox.state import of

    folder = Path(tempfile.mkdtemp(prefix="bench-cds-"))
    demo.DEMO_BACKEND_KEY = folder / "backend_key.pem"
    stack = demo.start_stack(app_overrides={"database_url": f"sqlite:///{folder / 'app.db'}", "log_level": "WARNING",
                                            "screen_locations": (UNIT,)},
                             sandbox_settings={"LOAD_SAMPLE_PATIENTS": False})
    sandbox, url = of(stack.ehr), f"{stack.app_url}/cds-services/sepsis-sentinel"
    engine = stack.app.extensions["sentinel"].engine
    http = requests.Session()
    bodies = {}
    with stack.ehr.app_context():
        for pid in (SEPTIC, QUIET):
            patient = sandbox.store.get("Patient", pid)
            bodies[pid] = {"hook": "patient-view", "fhirServer": stack.fhir_base,
                           "context": {"userId": "Practitioner/provider", "patientId": pid,
                                       "encounterId": in_progress_encounter(pid)},
                           "prefetch": prefetch(patient)}

    def call(pid: str) -> tuple[float, int]:
        now = int(time.time())
        token = sandbox.cds_key.sign({"iss": stack.ehr_url, "aud": url, "iat": now, "exp": now + 300,
                                      "jti": str(uuid.uuid4())})
        body = dict(bodies[pid], hookInstance=str(uuid.uuid4()))
        started = time.perf_counter()
        resp = http.post(url, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        elapsed = (time.perf_counter() - started) * 1000
        resp.raise_for_status()
        return elapsed, len(resp.json()["cards"])

    try:
        call(SEPTIC)  # warm: the model loaded, the JWKS fetched, both patients scored once
        call(QUIET)
        stored = [call(SEPTIC if i % 2 else QUIET) for i in range(args.calls)]
        prefetched = []
        for i in range(args.prefetch_calls):
            pid = SEPTIC if i % 2 else QUIET
            with engine.begin() as conn:  # never scored, as far as the hook can tell
                conn.execute(history.risk_scores.delete().where(history.risk_scores.c.patient_id == pid))
            prefetched.append(call(pid))
        board_ms = board_bench(stack, args.board_patients)
    finally:
        stack.shutdown()
    result = {}
    for name, runs in (("stored", stored), ("prefetch", prefetched)):
        ms = [t for t, _ in runs]
        result[name] = {"calls": len(ms), "median_ms": round(statistics.median(ms), 1),
                        "p95_ms": round(pct(ms, 0.95), 1), "cards": sum(n for _, n in runs)}
        print(f"patient-view, {name:8s} path: {len(ms):4d} calls, median {result[name]['median_ms']:7.1f} ms, "
              f"p95 {result[name]['p95_ms']:7.1f} ms ({result[name]['cards']} cards)")
    result["board"] = {"patients": args.board_patients, "loads": len(board_ms),
                       "median_ms": round(statistics.median(board_ms), 1), "p95_ms": round(pct(board_ms, 0.95), 1)}
    print(f"unit board, {args.board_patients} patients: {len(board_ms)} loads, median "
          f"{result['board']['median_ms']:.1f} ms, p95 {result['board']['p95_ms']:.1f} ms")
    with engine.connect() as conn:
        result["jtis_stored"] = conn.execute(sa.text("SELECT count(*) FROM cds_jtis")).scalar_one()
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
