"""Liveness and readiness, as an orchestrator asks them.

- live: the process answers. Nothing else, so a slow database or EHR never gets a healthy worker restarted.
- ready: this instance can serve a clinician: the database answers, its schema is at the newest migration
  (the check `sentinel db check` makes), and the model loads with its sha256 matching the card (the check
  every score relies on). Until then the balancer sends the instance no traffic.

The EHR is not checked: when its FHIR service is down every instance is equally unable to read, and the page
says so; taking every instance out of the balancer would only hide that message.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from app.db import is_current

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str  # for the operator: what failed and what to do; never data


def database(engine: sa.Engine) -> list[Check]:
    """The database answers, and its schema is current (two checks; the second only when the first passes)."""
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError as exc:
        return [Check("database", False, f"not reachable ({type(exc).__name__})"),
                Check("migrations", False, "not checked: the database is not reachable")]
    try:
        current = is_current(engine)
    except sa.exc.SQLAlchemyError as exc:
        return [Check("database", True, "reachable"),
                Check("migrations", False, f"could not be read ({type(exc).__name__})")]
    return [Check("database", True, "reachable"),
            Check("migrations", current, "current" if current else "behind: run `sentinel db upgrade`")]


def model(directory: Path | None) -> Check:
    """The model loads from `directory` and its artifact's sha256 equals the card's (loaded once per process)."""
    from app.model import ModelError, load_model

    try:
        loaded = load_model(directory)
    except ModelError as exc:
        log.warning("readiness: model refused: %s", exc)  # the path and both digests, for the operator
        return Check("model", False, f"refused ({type(exc).__name__}): see the log")
    return Check("model", True, f"version {loaded.version}, sha256 verified")


def readiness(engine: sa.Engine, model_directory: Path | None) -> list[Check]:
    return [*database(engine), model(model_directory)]
