"""Helpers for the screening tests: the app's Backend Services client for the sandbox EHR,
the ICU units screened, the sandbox's records read and written by hand, and the task queue's jobs."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import sqlalchemy as sa

from app.fhir.transport import http_session
from app.smart.backend import BackendTokens
from app.smart.backend_key import generate_key
from sandbox import register_backend_client
from sandbox.users import MICU_ID, SICU_ID

LOCATIONS = (f"Location/{MICU_ID}", f"Location/{SICU_ID}")
BACKEND_ID = "screening-test"
BACKEND_SCOPE = "system/Patient.rs system/Encounter.rs system/Observation.rs"


def backend_for(ehr, *, registered: bool = True) -> BackendTokens:
    """The app's backend client for this sandbox, its key registered there by value (`registered=False`: a key
    the sandbox never saw, so every token request is refused)."""
    key = generate_key()
    if registered:
        register_backend_client(ehr, BACKEND_ID, jwks=key.jwks(), scope=BACKEND_SCOPE)
    base = f"{ehr.base_url}/fhir"
    return BackendTokens(base, BACKEND_ID, key, http_session(), scope=BACKEND_SCOPE, iss_allowlist=(base,),
                         require_https=False)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


SEPTIC, OTHER = "demo-102421", "demo-108289"


def observations_of(ehr, patient_id: str) -> list[dict]:
    return ehr.extensions["sandbox"].store.in_compartment(patient_id, "Observation")


def newest(ehr, patient_id: str, code: str) -> dict:
    found = [o for o in observations_of(ehr, patient_id) if any(c["code"] == code for c in o["code"]["coding"])]
    return max(found, key=lambda o: o["effectiveDateTime"])


def put(ehr, resource: dict) -> None:
    ehr.extensions["sandbox"].store.put(resource, now_iso())


def in_thread(call, *args):
    """Run `call` in a thread of its own, as a worker process's main thread would: it starts its own event loop,
    which the test's thread may not (Playwright's sync API keeps one running there for the session)."""
    failed = []

    def run():
        try:
            call(*args)
        except BaseException as exc:  # re-raised in the test's thread
            failed.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(300)
    if failed:
        raise failed[0]


def jobs(engine) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.text(
            "SELECT task_name, status, attempts, queueing_lock FROM procrastinate_jobs ORDER BY id")).mappings()]

