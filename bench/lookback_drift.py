"""How often training and live scoring see different data. Live, the app reads only the last
SENTINEL_OBSERVATION_LOOKBACK_HOURS (at least 72 h) of Observations, plus age and sex from the Patient; in
training, every set-A row is built from the whole stay by the ONE pipeline. For each patient-hour of the first
--stays set-A stays, this builds the features twice, once from the stay (training path) and once from only what
the live path would have read at that hour, and counts the patient-hours whose feature rows differ. The
pipeline caps every feature at the 72 h lookback, so this should print 0%; anything else is drift.

    .venv/bin/python -m bench.lookback_drift [--stays 300] [--data ../shared/data/physionet2019]

Numbers, not a test.
"""

from __future__ import annotations

import argparse
from datetime import timedelta
from pathlib import Path

import numpy as np

from app.config import MIN_LOOKBACK_HOURS, shared_data_dir
from app.model.dataset import stay_rows
from app.model.features import build_features
from app.model.measurement import CONCEPTS
from app.model.physionet import read_stays


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stays", type=int, default=300)
    parser.add_argument("--data", type=Path, default=shared_data_dir() / "data" / "physionet2019")
    args = parser.parse_args()
    lookback = timedelta(hours=MIN_LOOKBACK_HOURS)
    wanted = {f"p{i:06d}" for i in range(1, args.stays * 2)}  # set A ids have gaps: ask for more, stop at --stays
    stays = hours = differing = 0
    for stay in read_stays(args.data / "training_setA.tar.gz", patients=wanted):
        if stays >= args.stays:
            break
        training = stay_rows(stay)
        for i, at in enumerate(stay.times):
            live = [m for m in stay.measurements
                    if CONCEPTS[m.concept].kind == "demographic" or at - lookback < m.time <= at]
            row = build_features(live, at, icu_admitted_at=stay.icu_admitted_at)
            differing += not np.array_equal(row, training[i], equal_nan=True)
            hours += 1
        stays += 1
    print(f"{stays} set-A stays, {hours} patient-hours: {differing} ({differing / max(hours, 1):.1%}) have features "
          f"that differ from what live scoring, reading the last {MIN_LOOKBACK_HOURS} h, would compute")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
