"""Scoring time per patient: features + probability + stars (`app.model.score`), for the demo patients and for
held-out PhysioNet stays, with the shipped model. Also the FHIR mapping time of each demo patient's record.

    .venv/bin/python -m bench.scoring [--repeats 50] [--stays 500] [--data ../shared/data/physionet2019] [--json out]

- Demo patients: the sandbox's ten demo patients as FHIR resources (built in-process, no HTTP), mapped with
  `app.fhir.mapping.map_record` as the bedside page does, then scored at "now" `--repeats` times each.
- Held-out set A: the stays `sentinel train` held out (same patient-level split, seed and fraction), scored at
  each stay's last hour with all its measurements, like the model card's `scoring_ms_per_patient`.
- External set B: the first `--stays` stays of set B (never trained on), scored the same way.

Prints median and p95 wall time per patient (ms) for each group. Reading set A takes about 15 s (not timed).
Numbers, not a test. Run it when the machine is quiet; it prints the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

from app.fhir.mapping import map_record
from app.fhir.searches import PatientRecord, demographics
from app.model import load_model, score
from app.model.physionet import find_set, read_stays
from bench.stats import pct

ROOT = Path(__file__).resolve().parents[1]


def summary(times_ms: list[float]) -> dict:
    return {"n": len(times_ms), "median_ms": round(statistics.median(times_ms), 3),
            "p95_ms": round(pct(times_ms, 0.95), 3), "max_ms": round(max(times_ms), 3)}


def demo_records(now: datetime) -> list[PatientRecord]:
    """The demo patients as the bedside page reads them (Patient + Observations of the last 72 hours)."""
    from sandbox.demo_patients import load
    from sandbox.settings import DEFAULTS

    _ids, resources = load(Path(DEFAULTS["DEMO_PATIENTS_DIR"]), now)
    patients = {r["id"]: r for r in resources if r["resourceType"] == "Patient"}
    records = []
    window = now - timedelta(hours=72)
    for pid, patient in sorted(patients.items()):
        obs = tuple(r for r in resources if r["resourceType"] == "Observation"
                    and r.get("subject", {}).get("reference") == f"Patient/{pid}")
        records.append(PatientRecord(patient=demographics(patient, pid), observations=obs, weight=None,
                                     round_trips=0, notes=(), window_start=window, fetched_at=now))
    return records


def time_demo(model, repeats: int) -> tuple[dict, dict, dict]:
    now = datetime.now(UTC)
    score_times, map_times, per_patient = [], [], {}
    for record in demo_records(now):
        t0 = time.perf_counter()
        mapping = map_record(record, now)
        map_times.append((time.perf_counter() - t0) * 1000)
        measurements = list(mapping.measurements)
        score(measurements, now, model=model)  # warm-up
        mine = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            outcome = score(measurements, now, model=model)
            mine.append((time.perf_counter() - t0) * 1000)
        score_times += mine
        per_patient[record.patient.patient_id] = {
            "observations": len(record.observations), "measurements": len(measurements),
            "outcome": type(outcome).__name__, "median_ms": round(statistics.median(mine), 3)}
    return summary(score_times), summary(map_times), per_patient


def time_stays(model, stays) -> dict:
    stays = list(stays)
    for stay in stays[:3]:
        score(stay.measurements, stay.times[-1], model=model)  # warm-up
    times = []
    for stay in stays:
        t0 = time.perf_counter()
        score(stay.measurements, stay.times[-1], model=model)
        times.append((time.perf_counter() - t0) * 1000)
    return summary(times)


def heldout_a(data: Path, limit: int):
    """The held-out set A stays, chosen exactly as `sentinel train` chose them (app.model.train.split_patients)."""
    from app.model.train import split_patients

    stays = list(read_stays(find_set(data, "A")))
    _train, held = split_patients(SimpleNamespace(stays=stays))
    return [s for s in stays if s.patient in held][:limit]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=50, help="scorings per demo patient")
    parser.add_argument("--stays", type=int, default=500, help="held-out A and set B stays to score (each)")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "physionet2019")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    model = load_model()
    load = os.getloadavg()
    result = {"model_version": model.version, "load_average": [round(x, 2) for x in load]}
    demo, mapping, per_patient = time_demo(model, args.repeats)
    result["demo_patients"] = {**demo, "per_patient": per_patient}
    result["demo_mapping"] = mapping
    if args.data.is_dir():
        result["heldout_A"] = time_stays(model, heldout_a(args.data, args.stays))
        result["set_B"] = time_stays(model, __import__("itertools").islice(
            read_stays(find_set(args.data, "B")), args.stays))
    print(f"Scoring time per patient (features + probability + stars), model {model.version}, "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}:")
    rows = [("demo patients (FHIR, at now)", demo), ("held-out set A (last hour)", result.get("heldout_A")),
            ("set B (last hour)", result.get("set_B")), ("  mapping a demo record (FHIR -> Measurements)", mapping)]
    for name, r in rows:
        if r:
            print(f"  {name:48s} median {r['median_ms']:6.2f} ms   p95 {r['p95_ms']:6.2f} ms   n={r['n']}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
