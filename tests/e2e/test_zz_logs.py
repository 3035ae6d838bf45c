"""After the journeys (this file runs last): the whole run's logs hold no patient names, birth dates or tokens."""

import re

from sandbox.state import of

from .conftest import RUN_LOG


def test_logs_of_the_e2e_run_carry_no_phi_or_tokens(stack):
    for handler in __import__("logging").getLogger().handlers:
        handler.flush()
    log = RUN_LOG.read_text(encoding="utf-8")
    assert "GET /patients/" in log or "launch complete" in log, "the run log captured nothing"
    store = of(stack.ehr).store
    leaks = []
    for patient_id in of(stack.ehr).demo_patient_ids:
        patient = store.get("Patient", patient_id)
        names = [patient["name"][0].get("family")] + list(patient["name"][0].get("given", []))
        for needle in [n for n in names if n and len(n) > 2] + [patient["birthDate"]]:
            if needle in log:
                leaks.append(f"{patient_id}: {needle!r}")
    assert leaks == []
    assert not re.search(r"Bearer\s+\S{8,}|access_token|refresh_token|[?&](code|state)=", log)
