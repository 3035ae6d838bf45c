"""The shipped model: joblib artifact + model card, loaded only after the artifact's sha256 matches the card.

joblib files are pickles: loading one runs code. So the card (plain JSON) is read first, the artifact's
bytes are hashed, and only bytes whose sha256 equals the card's are unpickled, from memory, so the
file cannot change between the check and the load.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from threadpoolctl import ThreadpoolController

from app.model.features import FEATURE_NAMES

ARTIFACT_DIR = Path(__file__).resolve().parents[2] / "model_artifacts"
ARTIFACT_NAME = "sepsis_model.joblib"
CARD_NAME = "model_card.json"


SINGLE_THREAD_ROWS = 256


@lru_cache(maxsize=1)
def _threadpools() -> ThreadpoolController:
    return ThreadpoolController()


class ModelError(Exception):
    """Base class of the model package's errors."""


class ModelArtifactError(ModelError):
    """The artifact or its card is missing, does not match, or was built for another feature pipeline."""


@dataclass(frozen=True)
class Model:
    """A verified estimator with what scoring needs from its card."""

    estimator: Any = field(repr=False)
    columns: np.ndarray = field(repr=False)  # indices into FEATURE_NAMES that the estimator reads
    card: dict = field(repr=False)

    @property
    def version(self) -> str:
        return self.card["model"]["version"]

    @property
    def threshold(self) -> float:
        return float(self.card["threshold"]["value"])

    @property
    def means(self) -> dict[str, float]:
        return self.card["population_means"]

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """P(SepsisLabel = 1) for each feature row (FEATURE_NAMES order).

        A few rows (one patient and its perturbed copies) are predicted on one OpenMP thread: starting
        threads costs more than it saves, and on a busy machine they can stall for tens of ms. Rows
        are independent, so the result is the same either way.
        """
        x = np.asarray(x)[:, self.columns]
        if len(x) > SINGLE_THREAD_ROWS:
            return self.estimator.predict_proba(x)[:, 1]
        with _threadpools().limit(limits=1, user_api="openmp"):
            return self.estimator.predict_proba(x)[:, 1]


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def save(estimator: Any, columns: np.ndarray, directory: Path) -> tuple[Path, str]:
    """Write the artifact; returns its path and sha256 (for the card)."""
    directory.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    payload = {"estimator": estimator, "columns": np.asarray(columns, dtype=np.intp), "feature_names": FEATURE_NAMES}
    joblib.dump(payload, buffer, compress=3)
    data = buffer.getvalue()
    path = directory / ARTIFACT_NAME
    path.write_bytes(data)
    return path, sha256_of(data)


def write_card(card: dict, directory: Path) -> Path:
    path = directory / CARD_NAME
    path.write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n")
    return path


def read_card(directory: Path | None = None) -> dict:
    path = (directory or ARTIFACT_DIR) / CARD_NAME
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise ModelArtifactError(f"no model card at {path}: run `sentinel train`") from None
    except json.JSONDecodeError as exc:
        raise ModelArtifactError(f"model card {path} is not valid JSON: {exc}") from None


def verified_load(directory: Path) -> Model:
    """Load the artifact in `directory`, refusing it unless its sha256 equals the card's."""
    card = read_card(directory)
    expected = card.get("model", {}).get("sha256")
    path = directory / card.get("model", {}).get("artifact", ARTIFACT_NAME)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ModelArtifactError(f"no model artifact at {path}: run `sentinel train`") from None
    actual = sha256_of(data)
    if not expected or actual != expected:
        raise ModelArtifactError(
            f"refusing to load {path}: its sha256 is {actual}, the model card expects {expected}. "
            "The file was changed or does not belong to this card; retrain or restore both together."
        )
    # Safe to unpickle: these exact bytes are the ones the card (written by `sentinel train`) vouches for.
    payload = joblib.load(io.BytesIO(data))  # noqa: S301 - sha256 verified against the card just above
    if tuple(payload["feature_names"]) != FEATURE_NAMES:
        raise ModelArtifactError(f"{path} was trained on a different feature pipeline: retrain it")
    return Model(estimator=payload["estimator"], columns=payload["columns"], card=card)


@lru_cache(maxsize=4)
def _cached(directory: Path) -> Model:
    return verified_load(directory)


def load_model(directory: str | Path | None = None) -> Model:
    """The shipped model, verified and cached (one load per process and directory)."""
    return _cached(Path(directory).resolve() if directory else ARTIFACT_DIR)
