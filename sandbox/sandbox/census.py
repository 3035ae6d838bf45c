"""A large census for the screening benchmark: N patients of PhysioNet 2019 set B, read from the shared archive at
the sandbox's start (never copied into the repository), each an ICU encounter in progress with its last hours of
Observations ending now, built as the demo patients are (sandbox.demo_patients.build).

Set with CENSUS_PATIENTS (0: none) and CENSUS_HOURS. Names are synthetic; records are taken in archive order.
"""

from __future__ import annotations

import tarfile
from datetime import datetime
from pathlib import Path

from .demo_patients import build
from .demo_patients.derive import DEFAULT_TAR, derive


def records(count: int, hours: int, tar_path: Path = DEFAULT_TAR) -> list[dict]:
    """The first `count` set-B records with at least one row, as demo-patient records (id "census-<record>")."""
    out: list[dict] = []
    with tarfile.open(tar_path, "r:gz") as tar:
        for member in tar:
            if len(out) >= count:
                break
            if not member.isfile() or not member.name.endswith(".psv"):
                continue
            lines = tar.extractfile(member).read().decode().splitlines()
            if len(lines) < 2:
                continue
            header, rows = lines[0].split("|"), [[float(x) for x in line.split("|")] for line in lines[1:]]
            name = Path(member.name).stem
            pick = {"record": name, "kind": "census", "end": "last", "hours": hours,
                    "name": ("Census", f"Patient {len(out) + 1}"), "shows": ""}
            record = derive(pick, header, rows)
            record["id"] = f"census-{name[1:]}"
            out.append(record)
    return out


def load(count: int, hours: int, now: datetime) -> tuple[list[str], list[dict]]:
    ids, resources = [], []
    for record in records(count, hours):
        ids.append(record["id"])
        resources.extend(build(record, now))
    return ids, resources
