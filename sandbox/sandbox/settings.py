"""The sandbox's settings: defaults, then the caller's dict, checked once at start.

Every key is upper case and lives in `app.config`, so a test can read what the sandbox runs with. Clocks and
sleeps are settings too: tests inject them and never wait for real time to pass.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


class SandboxConfigError(Exception):
    """A setting is missing or wrong; the message says which and how to fix it."""


def _default_sample_dir() -> Path:
    # The shared data folder (app.config.shared_data_dir: ../shared beside the repo, or $SENTINEL_SHARED_DIR);
    # SANDBOX_SAMPLE_DATA overrides it for the sandbox alone.
    from app.config import shared_data_dir

    env = os.environ.get("SANDBOX_SAMPLE_DATA")
    return Path(env) if env else shared_data_dir() / "data" / "fhir-sample-patients"


DEFAULTS: dict = {
    "SANDBOX_BASE_URL": None,  # "http://127.0.0.1:54321"; set by the caller once the port is bound
    "SAMPLE_PATIENTS_DIR": None,  # None: the shared folder (see _default_sample_dir)
    "LOAD_SAMPLE_PATIENTS": True,
    "DEMO_PATIENTS_DIR": PACKAGE_DIR / "demo_patients",
    "LOAD_DEMO_PATIENTS": True,
    "ACCESS_TOKEN_LIFETIME": 3600,  # seconds; SMART App Launch: "no greater than one hour"
    "REFRESH_TOKEN_LIFETIME": 12 * 3600,
    "ROTATE_REFRESH_TOKENS": True,  # a refresh returns a new refresh_token and retires the old one
    "AUTH_CODE_LIFETIME": 60,  # SMART App Launch: codes "usually expiring within around one minute"
    "LAUNCH_LIFETIME": 300,  # an EHR launch id must reach /authorize within this time
    "ID_TOKEN_LIFETIME": 3600,
    "FHIR_USER": "absolute",  # "absolute" or "relative" (the public SMART sandbox sends "Practitioner/123")
    "SEARCH_PAGE_DEFAULT": 50,
    "SEARCH_PAGE_MAX": 200,
    "SEARCH_SNAPSHOT_LIFETIME": 600,  # seconds a paged search's next links stay valid
    "SEARCH_TOTAL": True,  # Bundle.total on search pages (optional in R4; False checks an app does not need it)
    "FAULTS_HTTP": True,  # POST {BASE}/_sandbox/faults; the sandbox is for demo and tests only
    "FAULT_SEED": 2019,  # seeds the probability faults, so a run is repeatable
    "ORDERS_REFRESH_SECONDS": 3,  # the chart's orders panel reloads itself this often
    "CDS_SERVICE_URL": None,  # the patient-view CDS service a chart open calls (None: no call); register_cds_service
    "CDS_TIMEOUT": 2.0,  # seconds the chart waits for the CDS service's cards
    "BACKEND_TOKEN_LIFETIME": 300,  # system access tokens; SMART Backend Services recommends at most 300 s
    "BACKEND_JWKS_TIMEOUT": 5,  # seconds to fetch a backend client's registered JWKS URL
    "BACKEND_JWKS_CACHE_SECONDS": 300,  # a fetched JWKS is reused this long (an unknown kid refetches at once)
    "CLOCK": time.time,  # () -> float seconds since the epoch
    # The demo's replay (sandbox/replay.py): a clock that runs faster, and how many of each demo record's last hours
    # arrive on it after the start. None: every record is there at once, ending now.
    "REPLAY_CLOCK": None,  # () -> float seconds since the epoch, on the demo clock
    "REPLAY_HOURS": 30,
    # The screening benchmark's census (sandbox/census.py): this many PhysioNet set-B patients, their last hours.
    "CENSUS_PATIENTS": 0,
    "CENSUS_HOURS": 36,
    "SLEEP": time.sleep,  # the slow-response fault calls this
}

_POSITIVE_INTS = ("ACCESS_TOKEN_LIFETIME", "REFRESH_TOKEN_LIFETIME", "AUTH_CODE_LIFETIME", "LAUNCH_LIFETIME",
                  "ID_TOKEN_LIFETIME", "SEARCH_PAGE_DEFAULT", "SEARCH_PAGE_MAX", "SEARCH_SNAPSHOT_LIFETIME",
                  "ORDERS_REFRESH_SECONDS", "BACKEND_TOKEN_LIFETIME", "BACKEND_JWKS_TIMEOUT",
                  "BACKEND_JWKS_CACHE_SECONDS", "REPLAY_HOURS", "CENSUS_HOURS")


def resolve(settings: dict | None) -> dict:
    """Defaults overlaid with `settings`, validated. Raises SandboxConfigError with a fix-it message."""
    merged = {**DEFAULTS, **(settings or {})}
    unknown = sorted(set(settings or {}) - set(DEFAULTS))
    if unknown:
        raise SandboxConfigError(f"unknown sandbox setting(s): {', '.join(unknown)}; known: {', '.join(DEFAULTS)}")
    for key in _POSITIVE_INTS:
        value = merged[key]
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise SandboxConfigError(f"{key} must be a positive integer, got {value!r}")
    if merged["SEARCH_PAGE_DEFAULT"] > merged["SEARCH_PAGE_MAX"]:
        raise SandboxConfigError("SEARCH_PAGE_DEFAULT must not exceed SEARCH_PAGE_MAX")
    if merged["FHIR_USER"] not in ("absolute", "relative"):
        raise SandboxConfigError("FHIR_USER must be 'absolute' or 'relative'")
    if merged["REPLAY_CLOCK"] is not None and not callable(merged["REPLAY_CLOCK"]):
        raise SandboxConfigError("REPLAY_CLOCK must be callable (or None: no replay)")
    for key in ("CLOCK", "SLEEP"):
        if not callable(merged[key]):
            raise SandboxConfigError(f"{key} must be callable")
    if merged["SAMPLE_PATIENTS_DIR"] is None:
        merged["SAMPLE_PATIENTS_DIR"] = _default_sample_dir()
    merged["SAMPLE_PATIENTS_DIR"] = Path(merged["SAMPLE_PATIENTS_DIR"])
    merged["DEMO_PATIENTS_DIR"] = Path(merged["DEMO_PATIENTS_DIR"])
    if merged["LOAD_SAMPLE_PATIENTS"] and not merged["SAMPLE_PATIENTS_DIR"].is_dir():
        raise SandboxConfigError(
            f"sample patients folder not found: {merged['SAMPLE_PATIENTS_DIR']}. Point the SAMPLE_PATIENTS_DIR "
            "setting (or the SANDBOX_SAMPLE_DATA environment variable) at the fhir-sample-patients folder, or "
            "set LOAD_SAMPLE_PATIENTS=False to run with the demo patients only.")
    if merged["LOAD_DEMO_PATIENTS"] and not merged["DEMO_PATIENTS_DIR"].is_dir():
        raise SandboxConfigError(f"demo patients folder not found: {merged['DEMO_PATIENTS_DIR']}")
    return merged
