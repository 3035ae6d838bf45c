"""Split a PhysioNet set into two patient-disjoint folders, stratified by septic status: to demonstrate the
site-adapted model with hospital B as "the site's history", adapt on one part and report on the other only.

    .venv/bin/python -m bench.split_set --data ../shared/data/physionet2019/training_setB.tar.gz --out /tmp/site
    .venv/bin/sentinel train --data ../shared/data/physionet2019 --site-data /tmp/site/adapt --out /tmp/site/model
    .venv/bin/sentinel evaluate --model /tmp/site/model --data /tmp/site/report

The files are copied byte for byte (outside the repository: the data stays in ../shared). Numbers, not a test.
"""

from __future__ import annotations

import argparse
import tarfile
from pathlib import Path

import numpy as np

SEED = 20191105


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="a PhysioNet .tar.gz")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--fraction", type=float, default=0.5, help="share of patients in the adapting part")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()
    files: dict[str, bytes] = {}
    with tarfile.open(args.data, "r:gz") as tar:
        for member in tar:
            if member.isfile() and member.name.endswith(".psv"):
                files[Path(member.name).name] = tar.extractfile(member).read()
    septic = {name: b"|1\n" in data for name, data in files.items()}  # SepsisLabel is the last column
    rng = np.random.default_rng(args.seed)
    adapt: set[str] = set()
    for flag in (True, False):
        names = rng.permutation(sorted(n for n, s in septic.items() if s == flag))
        adapt |= set(names[: int(round(args.fraction * len(names)))].tolist())
    for part in ("adapt", "report"):
        (args.out / part).mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (args.out / ("adapt" if name in adapt else "report") / name).write_bytes(data)
    print(f"{len(adapt)} stays ({sum(septic[n] for n in adapt)} septic) in {args.out / 'adapt'}, "
          f"{len(files) - len(adapt)} ({sum(s for n, s in septic.items() if n not in adapt)} septic) in "
          f"{args.out / 'report'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
