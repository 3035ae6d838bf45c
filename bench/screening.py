"""Benchmark the background screening: a 1,000-patient census derived from PhysioNet set B, the EHR answering 50 ms
late, one full and one incremental cycle, with 1 and with 2 `sentinel worker` processes on PostgreSQL.

    .venv/bin/python -m bench.screening [--patients 1000] [--delay-ms 50] [--concurrency 4] [--json out.json]

Prints per cycle: time, patients/s, FHIR requests per patient, worker CPU per patient, and the ratio of 2 workers to
1. The sandbox EHR runs in its own process (it builds the census from ../shared at start); each worker is a real
`sentinel worker` with the app's Backend Services client. Not a test: numbers vary with what else the machine runs.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from app.config import ROOT
from sandbox.stack import Postgres, free_port, serve

PYTHON = sys.executable

BACKEND_ID = "sepsis-sentinel-backend"
SCOPE = "system/Patient.rs system/Encounter.rs system/Observation.rs"


def serve_ehr(args) -> int:
    """The EHR process: the census, the backend client registered by its public keys, every FHIR answer late."""
    from sandbox import create_sandbox, faults, register_backend_client

    app = create_sandbox({"CENSUS_PATIENTS": args.patients, "LOAD_SAMPLE_PATIENTS": False,
                          "LOAD_DEMO_PATIENTS": False})
    server = serve("127.0.0.1", args.port, app)
    app.config["SANDBOX_BASE_URL"] = f"http://127.0.0.1:{args.port}"
    register_backend_client(app, BACKEND_ID, jwks=json.loads(Path(args.jwks).read_text()), scope=SCOPE)
    if args.delay_ms:
        faults.set(app, "delay", seconds=args.delay_ms / 1000, path="/fhir/")
    print("READY", flush=True)
    server.serve_forever()
    return 0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_config(workers: int, pg: Postgres, fhir_base: str, key_file: str, census: int, concurrency: int,
               logs: Path, ehr_pid: int) -> list[dict]:
    from app import db
    from app.screening import history, tasks

    url = pg.database(f"bench_screening_{workers}", replace=True)
    engine = db.make_engine(url)
    db.upgrade(engine)
    env = {**os.environ, "SENTINEL_DATABASE_URL": url, "SENTINEL_BACKEND_CLIENT_ID": BACKEND_ID,
           "SENTINEL_BACKEND_FHIR_BASE": fhir_base, "SENTINEL_BACKEND_KEY_FILE": key_file,
           "SENTINEL_BACKEND_SCOPES": SCOPE, "SENTINEL_ISS_ALLOWLIST": fhir_base,
           "SENTINEL_SCREEN_LOCATIONS": "Location/sandbox-micu,Location/sandbox-sicu",
           "SENTINEL_SCREEN_INTERVAL_MINUTES": "1440", "SENTINEL_LOG_LEVEL": "WARNING",
           "SENTINEL_AUTO_MIGRATE": "false"}
    procs = []
    for n in range(workers):
        with (logs / f"worker-{workers}-{n}.log").open("wb") as log:
            procs.append(subprocess.Popen([PYTHON, "-m", "app.cli", "worker", "--concurrency", str(concurrency)],  # noqa: S603
                                          cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT))
    app = tasks.build(url, lambda: None, interval_minutes=1440, attempts=3)
    out = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                if conn.execute(sa.text("SELECT to_regclass('procrastinate_workers')")).scalar() and \
                        conn.execute(sa.text("SELECT count(*) FROM procrastinate_workers")).scalar() >= workers:
                    break
            time.sleep(0.2)
        with app.open():
            for kind in ("full", "incremental"):
                cpu0, ehr0 = sum(cpu_seconds(p.pid) for p in procs), cpu_seconds(ehr_pid)
                load = os.getloadavg()[0]
                before = max((c.id for c in history.cycle_summaries(engine, limit=1)), default=0)
                started = time.monotonic()
                app.sentinel_tasks["cycle"].defer(timestamp=int(datetime.now(UTC).timestamp()))
                while True:
                    cycles = history.cycle_summaries(engine, limit=1)
                    if cycles and cycles[0].id > before and cycles[0].census_size is not None and \
                            cycles[0].screened >= cycles[0].census_size:
                        break
                    if time.monotonic() - started > 900:
                        raise RuntimeError(f"{kind} cycle with {workers} worker(s) did not finish in 15 min")
                    time.sleep(0.1)
                wall = time.monotonic() - started
                c = cycles[0]
                cpu = sum(cpu_seconds(p.pid) for p in procs) - cpu0
                ehr_cpu = cpu_seconds(ehr_pid) - ehr0
                out.append({"workers": workers, "cycle": kind, "census": c.census_size, "screened": c.screened,
                            "scored": c.scored, "abstained": c.abstained + c.unavailable, "failed": c.failed,
                            "seconds": round(wall, 2), "cycle_duration_s": round(c.duration.total_seconds(), 2),
                            "patients_per_s": round(c.screened / wall, 1),
                            "fhir_requests_per_patient": round(c.fhir_requests / c.screened, 3),
                            "cpu_ms_per_patient": round(cpu * 1000 / c.screened, 1),
                            "ehr_cpu_ms_per_patient": round(ehr_cpu * 1000 / c.screened, 1),
                            "load_average_at_start": round(load, 1)})
                print(f"  {workers} worker(s), {kind:<11}: {wall:6.1f} s, {out[-1]['patients_per_s']:6.1f} patients/s, "
                      f"{out[-1]['fhir_requests_per_patient']:.2f} FHIR requests/patient, "
                      f"{out[-1]['cpu_ms_per_patient']:.1f} ms worker CPU/patient (EHR "
                      f"{out[-1]['ehr_cpu_ms_per_patient']:.1f} ms), failed {c.failed}, load average {load:.1f}",
                      flush=True)
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        engine.dispose()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=1000)
    parser.add_argument("--delay-ms", type=int, default=50, help="added to every FHIR answer")
    parser.add_argument("--concurrency", type=int, default=4, help="patients each worker screens at once")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--json", help="write the results here too")
    parser.add_argument("--serve-ehr", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--jwks", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_ehr:
        return serve_ehr(args)

    from app.smart.backend_key import generate_key

    tmp = Path(tempfile.mkdtemp(prefix="bench-screening-"))
    key = generate_key()
    key_file = tmp / "backend.pem"
    key_file.write_text(key.key.as_pem(private=True).decode())
    key_file.chmod(0o600)
    (tmp / "jwks.json").write_text(json.dumps(key.jwks()))
    port = free_port()
    print(f"census: {args.patients} set-B patients, EHR +{args.delay_ms} ms per answer, {args.concurrency} patients "
          f"at once per worker; logs in {tmp}", flush=True)
    with (tmp / "ehr.log").open("wb") as log:
        ehr = subprocess.Popen([PYTHON, "-m", "bench.screening", "--serve-ehr", "--port", str(port), "--patients",  # noqa: S603
                                str(args.patients), "--delay-ms", str(args.delay_ms), "--jwks",
                                str(tmp / "jwks.json")], cwd=ROOT, stdout=subprocess.PIPE, stderr=log)
    pg = Postgres()
    results = []
    try:
        assert ehr.stdout.readline().strip() == b"READY", "the EHR did not start"
        fhir_base = f"http://127.0.0.1:{port}/fhir"
        for workers in args.workers:
            results += run_config(workers, pg, fhir_base, str(key_file), args.patients, args.concurrency, tmp,
                                  ehr.pid)
    finally:
        ehr.send_signal(signal.SIGTERM)
        ehr.wait(30)
        pg.close()
    by = {(r["workers"], r["cycle"]): r for r in results}
    ratios = {kind: round(by[(2, kind)]["patients_per_s"] / by[(1, kind)]["patients_per_s"], 2)
              for kind in ("full", "incremental") if (1, kind) in by and (2, kind) in by}
    for kind, ratio in ratios.items():
        print(f"  2 workers / 1 worker, {kind}: {ratio:.2f}x")
    if args.json:
        Path(args.json).write_text(json.dumps({"results": results, "ratios": ratios, "args": vars(args)}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
