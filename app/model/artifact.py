"""The shipped model: a skops artifact + model card, loaded only after the artifact's sha256 matches the card.

Two locks. The card (plain JSON) is read first, the artifact's bytes are hashed, and only bytes whose
sha256 equals the card's are loaded, from memory, so the file cannot change between the check and the
load. And the file is a skops archive, not a pickle: loading it builds only types skops trusts (scikit-
learn estimators, numpy arrays, builtins) plus the one type named in TRUSTED_TYPES that a scikit-learn
gradient-boosted model needs; any other type in the file is refused before anything is built, so even a
file whose checksum was forged together with its card cannot run code. The LightGBM model
(`app.model.learner`) is stored as LightGBM's own text format, a plain string in the archive, which
LightGBM parses into trees: numbers, never code.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import skops.io as sio
from threadpoolctl import ThreadpoolController

from app.model.features import FEATURE_NAMES
from app.model.learner import Booster

ARTIFACT_DIR = Path(__file__).resolve().parents[2] / "model_artifacts"
ARTIFACT_NAME = "sepsis_model.skops"
# Types beyond skops's defaults that the model file may contain: the trees of a HistGradientBoostingClassifier
# (a site may still hold a model of an earlier release). A LightGBM model needs none: it is a string.
TRUSTED_TYPES = ("sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",)
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
            return recalibrate(self.estimator.predict_proba(x)[:, 1], self.card.get("recalibration"))
        with _threadpools().limit(limits=1, user_api="openmp"):
            return recalibrate(self.estimator.predict_proba(x)[:, 1], self.card.get("recalibration"))


def recalibrate(p: np.ndarray, recalibration: dict | None) -> np.ndarray:
    """Logistic recalibration written in the card by a site adaptation: sigmoid(slope * logit(p) + intercept).
    Plain numbers in the JSON card, so a recalibrated model needs no other type in its file."""
    if not recalibration:
        return p
    q = np.clip(p, 1e-7, 1 - 1e-7)
    z = float(recalibration["slope"]) * np.log(q / (1 - q)) + float(recalibration["intercept"])
    return 1.0 / (1.0 + np.exp(-z))


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def save(estimator: Any, columns: np.ndarray, directory: Path) -> tuple[Path, str]:
    """Write the artifact; returns its path and sha256 (for the card)."""
    directory.mkdir(parents=True, exist_ok=True)
    model = {"lightgbm_model": estimator.model_text} if isinstance(estimator, Booster) else {"estimator": estimator}
    payload = {**model, "columns": np.asarray(columns, dtype=np.intp), "feature_names": list(FEATURE_NAMES)}
    data = _reproducible(sio.dumps(payload))
    untrusted = set(sio.get_untrusted_types(data=data)) - set(TRUSTED_TYPES)
    if untrusted:  # the loader would refuse this file: fail at training, not at the bedside
        raise ModelArtifactError(f"the model holds types the loader does not trust: {sorted(untrusted)}")
    path = directory / ARTIFACT_NAME
    path.write_bytes(data)
    return path, sha256_of(data)


_ID = re.compile(r'("__id__": )(\d+)|("file": ")(\d+)(\.npy")')


def _reproducible(data: bytes) -> bytes:
    """The same skops archive with stable names, entry times and order, so one model always has one sha256.

    skops names objects (`__id__`) and array files by id() of the Python objects, which differ between
    runs; they are renumbered here in order of first appearance in schema.json, consistently, so shared
    references stay shared. The round-trip test loads the result and compares probabilities."""
    source = zipfile.ZipFile(io.BytesIO(data))
    schema = source.read("schema.json").decode()
    order: dict[str, str] = {}
    for m in _ID.finditer(schema):
        order.setdefault(m.group(2) or m.group(4), str(len(order) + 1))
    schema = _ID.sub(lambda m: (m.group(1) + order[m.group(2)]) if m.group(1)
                     else m.group(3) + order[m.group(4)] + m.group(5), schema)
    files = {"schema.json": schema.encode()}
    for name in source.namelist():
        if name != "schema.json":
            stem, dot, ext = name.partition(".")
            files[f"{order.get(stem, stem)}{dot}{ext}"] = source.read(name)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as target:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            target.writestr(info, files[name])
    return buffer.getvalue()


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
    payload = load_payload(data, path)
    if tuple(payload["feature_names"]) != FEATURE_NAMES:
        raise ModelArtifactError(f"{path} was trained on a different feature pipeline: retrain it")
    return Model(estimator=_estimator(payload, path), columns=payload["columns"], card=card)


def _estimator(payload: dict, path: Path) -> Any:
    if "lightgbm_model" not in payload:
        return payload["estimator"]
    try:
        return Booster(payload["lightgbm_model"])
    except Exception as exc:  # LightGBM refuses text that is not one of its models: say so, do not crash the caller
        raise ModelArtifactError(f"{path} holds a LightGBM model LightGBM cannot read: {exc}") from None


def load_payload(data: bytes, path: Path) -> dict:
    """The artifact's contents, building only trusted types; anything else is refused, never built."""
    try:
        untrusted = sorted(set(sio.get_untrusted_types(data=data)) - set(TRUSTED_TYPES))
    except Exception as exc:  # a damaged or foreign archive (a joblib pickle, say): say so, do not crash the caller
        raise ModelArtifactError(f"{path} is not a readable skops model file: {exc}") from None
    if untrusted:
        raise ModelArtifactError(f"refusing to load {path}: it contains types that are not trusted: {untrusted}")
    try:
        payload = sio.loads(data, trusted=list(TRUSTED_TYPES))
    except Exception as exc:
        raise ModelArtifactError(f"{path} is not a readable skops model file: {exc}") from None
    if not isinstance(payload, dict) or not {"columns", "feature_names"} <= payload.keys() or not (
            isinstance(payload.get("lightgbm_model"), str) or "estimator" in payload):
        raise ModelArtifactError(f"{path} does not hold a Sepsis Sentinel model")
    return payload


@lru_cache(maxsize=4)
def _cached(directory: Path) -> Model:
    return verified_load(directory)


def load_model(directory: str | Path | None = None) -> Model:
    """The shipped model, verified and cached (one load per process and directory)."""
    return _cached(Path(directory).resolve() if directory else ARTIFACT_DIR)
