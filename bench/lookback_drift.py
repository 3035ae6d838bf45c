"""How often training and live scoring see different data: in training, a measurement's last value may come from
any earlier hour of the stay; live, the app reads only the last SENTINEL_OBSERVATION_LOOKBACK_HOURS (72 h). Counts
the set-A patient-hours where some model input was last measured more than 72 h earlier (live, that input would
be missing). The model card names this limit.

    .venv/bin/python bench/lookback_drift.py [--stays 3000] [--data ../shared/data/physionet2019]

Numbers, not a test.
"""

from __future__ import annotations

import argparse
import sys
import tarfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.config import MIN_LOOKBACK_HOURS, shared_data_dir  # noqa: E402
from app.model.measurement import CONCEPTS, MODEL_CONCEPTS  # noqa: E402
from app.model.physionet import HEADER  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stays", type=int, default=3000)
    parser.add_argument("--data", type=Path, default=shared_data_dir() / "data" / "physionet2019")
    args = parser.parse_args()
    columns = [HEADER.index(CONCEPTS[k].physionet) for k in MODEL_CONCEPTS
               if CONCEPTS[k].kind != "demographic" and CONCEPTS[k].physionet]
    stays = hours = differing = 0
    with tarfile.open(args.data / "training_setA.tar.gz") as tar:
        for member in tar:
            if not (member.isfile() and member.name.endswith(".psv")) or stays >= args.stays:
                continue
            lines = tar.extractfile(member).read().decode().splitlines()[1:]
            values = np.array([line.split("|") for line in lines], dtype=float)[:, columns]
            last = np.full(values.shape[1], -np.inf)
            for hour, row in enumerate(values):
                last[~np.isnan(row)] = hour
                differing += bool(np.any(hour - last[np.isfinite(last)] > MIN_LOOKBACK_HOURS))
                hours += 1
            stays += 1
    print(f"{stays} set-A stays, {hours} patient-hours: {differing} ({differing / hours:.1%}) use a measurement "
          f"older than {MIN_LOOKBACK_HOURS} h, which live scoring would not see")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
