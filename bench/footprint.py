"""Training time and memory per worker: what a deployment has to provision.

    .venv/bin/python -m bench.footprint [--clients 50] [--duration 30] [--train] [--json out.json]

- Training time: the shipped model card's `model.training_seconds` (measured by `sentinel train` on its machine).
  With `--train`, times `sentinel train --out <temporary folder>` here as well (about 3 minutes; the shipped model
  is not touched).
- Memory: starts the real servers (sandbox.stack.start_gunicorn_stack: gunicorn with 2 workers, PostgreSQL, the sandbox EHR), then
  reads each gunicorn worker's RSS and PSS (/proc) at start, after a warm-up in which every demo patient is
  launched (the model loaded in each worker), and at its peak during `--clients` clinicians of bench.load for
  `--duration` seconds. PSS splits pages shared with the master (after fork) between the processes that share them.

Prints the numbers and the load average. Numbers, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.load import PATIENTS, Clinician, Recorder
from bench.load import run as run_load
from sandbox.stack import GunicornStack as Servers
from sandbox.stack import rss_kib
from sandbox.stack import start_gunicorn_stack as start

ROOT = Path(__file__).resolve().parents[1]


def pss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def memory(servers: Servers) -> dict:
    master, workers = servers.gunicorn_pids()
    return {"master": {"rss_mib": round(rss_kib(master) / 1024, 1), "pss_mib": round(pss_kib(master) / 1024, 1)},
            "workers": [{"pid": w, "rss_mib": round(rss_kib(w) / 1024, 1), "pss_mib": round(pss_kib(w) / 1024, 1)}
                        for w in workers]}


def model_loaded_everywhere(servers: Servers, rounds: int = 6) -> None:
    """Launch every demo patient a few times from parallel browsers, so that both workers serve pages."""
    rec = Recorder()

    def one(i: int) -> None:
        for patient in PATIENTS:
            Clinician(i, servers, rec, time.monotonic() + 120, 0.0, [patient]).launch()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(rounds)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if rec.errors:
        raise RuntimeError(f"warm-up failed: {rec.errors[:5]}")


def peak_during(servers: Servers, work) -> tuple[dict, object]:
    peak: dict[int, tuple[int, int]] = {}
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            _master, workers = servers.gunicorn_pids()
            for w in workers:
                rss, pss = rss_kib(w), pss_kib(w)
                old = peak.get(w, (0, 0))
                peak[w] = (max(old[0], rss), max(old[1], pss))
            done.wait(0.5)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        result = work()
    finally:
        done.set()
        sampler.join()
    return {str(w): {"peak_rss_mib": round(r / 1024, 1), "peak_pss_mib": round(p / 1024, 1)}
            for w, (r, p) in peak.items()}, result


def train_seconds() -> float:
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "app.cli", "train", "--out", out], cwd=ROOT, check=True,  # noqa: S603
                       capture_output=True)
        return round(time.perf_counter() - started, 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--train", action="store_true", help="also time `sentinel train` here (about 3 minutes)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    card = json.loads((ROOT / "model_artifacts" / "model_card.json").read_text())["model"]
    result = {"training_seconds_model_card": card.get("training_seconds"), "model_version": card.get("version"),
              "model_size_bytes": card.get("size_bytes")}
    if args.train:
        result["training_seconds_here"] = train_seconds()
    servers = start()
    try:
        result["at_start"] = memory(servers)
        model_loaded_everywhere(servers)
        result["after_warm_up"] = memory(servers)
        peaks, load = peak_during(servers, lambda: run_load(servers, args.clients, args.duration, 0.0))
        result["under_load"] = {"clients": args.clients, "seconds": args.duration, "workers": peaks,
                                "requests_per_s": load["requests_per_s"], "errors": load["errors"]}
        result["after_load"] = memory(servers)
        for w in result["after_load"]["workers"]:  # the last sample may come after the sampler's last tick
            peak = peaks.setdefault(str(w["pid"]), {"peak_rss_mib": 0.0, "peak_pss_mib": 0.0})
            peak["peak_rss_mib"] = max(peak["peak_rss_mib"], w["rss_mib"])
            peak["peak_pss_mib"] = max(peak["peak_pss_mib"], w["pss_mib"])
    finally:
        servers.stop()
    result["load_average"] = [round(x, 2) for x in os.getloadavg()]

    print("\nFootprint:")
    print(f"  training time: {result['training_seconds_model_card']} s (model card, `sentinel train` on its "
          f"machine)" + (f"; {result['training_seconds_here']} s here" if args.train else ""))
    for phase in ("at_start", "after_warm_up", "after_load"):
        workers = ", ".join(f"RSS {w['rss_mib']} MiB / PSS {w['pss_mib']} MiB" for w in result[phase]["workers"])
        print(f"  {phase.replace('_', ' '):14s} master RSS {result[phase]['master']['rss_mib']} MiB; "
              f"workers: {workers}")
    peaks = ", ".join(f"RSS {p['peak_rss_mib']} MiB / PSS {p['peak_pss_mib']} MiB"
                      for p in result["under_load"]["workers"].values())
    print(f"  peak under load ({args.clients} clinicians, {args.duration:g} s): {peaks}")
    load = result["load_average"]
    print(f"  load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
