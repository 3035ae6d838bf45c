"""One sandbox's state: settings, clock, FHIR data, authorization records, signing key and faults.

It lives in `app.extensions["sandbox"]`; views reach it through `current()`. The base URL is read per request
from `app.config["SANDBOX_BASE_URL"]`, because the caller learns it only after binding a port.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from flask import Flask, current_app, request

from .auth.keys import CdsKey, SigningKey
from .auth.models import AuthStore
from .faults import FaultBoard
from .fhir.pages import Snapshots
from .fhir.store import ResourceStore


@dataclass
class Sandbox:
    settings: dict
    store: ResourceStore
    auth: AuthStore
    key: SigningKey
    faults: FaultBoard
    snapshots: Snapshots
    demo_patient_ids: list[str] = field(default_factory=list)
    sample_patient_ids: list[str] = field(default_factory=list)
    demo_notes: dict[str, str] = field(default_factory=dict)  # demo patient id -> what its record shows
    user_ids: list[str] = field(default_factory=list)
    startup_seconds: float = 0.0
    auth_server: object = None  # authlib AuthorizationServer, set by auth.server.build
    protector: object = None  # authlib ResourceProtector
    replay: object = None  # sandbox.replay.Replay when the demo replays its records on a demo clock
    cds_key: CdsKey = field(default_factory=CdsKey.generate)  # signs the EHR's CDS Hooks calls (ehr/cds.py)

    @property
    def clock(self) -> Callable[[], float]:
        return self.settings["CLOCK"]

    def now(self) -> float:
        return float(self.settings["CLOCK"]())


def of(app: Flask) -> Sandbox:
    return app.extensions["sandbox"]


def current() -> Sandbox:
    return current_app.extensions["sandbox"]


def base_url() -> str:
    """The sandbox's public base URL, e.g. http://127.0.0.1:54321 (no trailing slash)."""
    configured = current_app.config.get("SANDBOX_BASE_URL")
    return str(configured or request.host_url).rstrip("/")


def fhir_base() -> str:
    return base_url() + "/fhir"
