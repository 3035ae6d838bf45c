"""Tiny synthetic PhysioNet data and a tiny trained model, shared by the model tests."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from app.model import train
from tests.support.physionet import write_set


@pytest.fixture(scope="session")
def synthetic_data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("physionet")
    write_set(root, "A", 80, 1, seed=1)
    write_set(root, "B", 40, 100001, seed=2)
    return root


@pytest.fixture(scope="session")
def trained_dir(synthetic_data, tmp_path_factory) -> Path:
    """`sentinel train` on the synthetic data with tiny models: a real artifact, card and markdown."""
    out = tmp_path_factory.mktemp("artifacts")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(train, "CANDIDATES", ({"num_leaves": 7, "min_child_samples": 20},))
        mp.setattr(train, "MIN_ALERTED", 1)
        mp.setattr(train, "STOPPING_MAX", 15)
        mp.setattr(train, "TIMING_PATIENTS", 5)
        args = argparse.Namespace(data=synthetic_data, out=out, no_external=False, change="Retrained with `sentinel train`.")
        assert train.run(args) == 0
    return out
