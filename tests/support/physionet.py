"""Tiny synthetic PhysioNet data: stays as .psv text, and whole training sets with their .tar.gz."""

from __future__ import annotations

import tarfile
from pathlib import Path

import numpy as np

from app.model.physionet import HEADER

NAN = float("nan")


def psv(rows: list[dict]) -> str:
    """A PhysioNet .psv text from rows given as {column: value}; unspecified columns are NaN."""
    lines = ["|".join(HEADER)]
    for r in rows:
        lines.append("|".join("NaN" if np.isnan(r.get(c, NAN)) else f"{r[c]:g}" for c in HEADER))
    return "\n".join(lines) + "\n"


def synthetic_stay(rng: np.random.Generator, septic: bool, hours: int, age: float, male: int) -> str:
    """A plausible stay: hourly vitals, labs every 8 h; septic stays drift towards tachycardia and fever."""
    onset = hours - 8 if septic else None
    rows = []
    for h in range(1, hours + 1):
        drift = max(0.0, (h - (onset - 12)) / 12) if onset else 0.0
        r = {
            "HR": 80 + 25 * drift + rng.normal(0, 4), "O2Sat": 97 - 3 * drift + rng.normal(0, 1),
            "SBP": 120 - 20 * drift + rng.normal(0, 5), "MAP": 80 - 10 * drift + rng.normal(0, 3),
            "Resp": 16 + 6 * drift + rng.normal(0, 1.5), "Age": age, "Gender": male,
            "Unit1": 1, "Unit2": 0, "HospAdmTime": -5, "ICULOS": h,
            "SepsisLabel": int(onset is not None and h >= onset - 6),
        }
        if h % 4 == 1:
            r["Temp"] = 37 + 1.5 * drift + rng.normal(0, 0.2)
        if h % 8 == 1:
            r.update(WBC=9 + 6 * drift + rng.normal(0, 1), Lactate=1.2 + 2 * drift, Creatinine=1.0, Platelets=220)
        r["O2Sat"] = min(r["O2Sat"], 100)
        rows.append(r)
    return psv(rows)


def write_set(folder: Path, name: str, n: int, first_id: int, seed: int) -> None:
    """Write training_set<name>/pNNNNNN.psv files and the matching .tar.gz."""
    rng = np.random.default_rng(seed)
    d = folder / f"training_set{name}"
    d.mkdir(parents=True)
    for i in range(n):
        septic = i % 4 == 0
        text = synthetic_stay(rng, septic, int(rng.integers(20, 40)), float(rng.integers(20, 90)), i % 2)
        (d / f"p{first_id + i:06d}.psv").write_text(text)
    with tarfile.open(folder / f"training_set{name}.tar.gz", "w:gz") as tar:
        tar.add(d, arcname=d.name)
