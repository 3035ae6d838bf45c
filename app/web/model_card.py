"""The model card as the web pages read it: from the configured model directory, re-read when the file changes.

The transparency and site-tuning pages render from this JSON only, so they can never disagree with the card
that `sentinel train` wrote next to the artifact it describes. The directory is the services' `model_dir`: by
default the one `app.model.load_model()` scores with (model_artifacts/), so the pages describe the model in use.
"""

from __future__ import annotations

import logging
from pathlib import Path
from threading import Lock

from app.model.artifact import CARD_NAME, ModelArtifactError, read_card

from .guards import services

log = logging.getLogger(__name__)

_cache: dict[Path, tuple[float, dict]] = {}
_lock = Lock()


def model_dir() -> Path:
    return services().model_dir


def current_card() -> dict | None:
    """The card, or None when none is installed or it cannot be read (the pages then say so)."""
    directory = model_dir()
    path = directory / CARD_NAME
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return None
    with _lock:
        cached = _cache.get(path)
        if cached and cached[0] == mtime:
            return cached[1]
    try:
        card = read_card(directory)
    except ModelArtifactError as exc:
        log.warning("model card unreadable: %s", type(exc).__name__)
        return None
    with _lock:
        _cache[path] = (mtime, card)
    return card


def model_version() -> str | None:
    card = current_card()
    return (card or {}).get("model", {}).get("version")


def default_threshold() -> float | None:
    """The card's threshold: the site's threshold version 0."""
    value = (current_card() or {}).get("threshold", {}).get("value")
    return float(value) if value is not None else None
