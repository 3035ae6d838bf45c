"""After the journeys (this file runs last): the whole run's logs hold no patient names, birth dates or tokens."""

import json
import re

from sandbox.state import of
from tests.support.e2e import RUN_LOG


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


def test_every_line_of_the_e2e_run_is_one_json_object_with_the_fields_a_log_store_indexes(stack):
    for handler in __import__("logging").getLogger().handlers:
        handler.flush()
    lines = RUN_LOG.read_text(encoding="utf-8").splitlines()
    docs = [json.loads(line) for line in lines]  # raises on the first line that is not JSON
    assert docs and all({"time", "level", "logger", "message"} <= d.keys() for d in docs)
    access = [d for d in docs if d["logger"] == "app.access"]
    assert any(d["route"] == "/patients/<patient_id>" and d["status"] == 200 for d in access)
    rules = {rule.rule for rule in stack.app.url_map.iter_rules()} | {"<unmatched>"}
    for d in access:
        assert {"request_id", "route", "method", "status", "duration_ms"} <= d.keys(), d
        assert d["route"] in rules, d  # the URL rule, never a path with its ids
    ids = {d["request_id"] for d in access}
    fhir = [d for d in docs if d["logger"] == "app.fhir.transport"]
    # Each FHIR line belongs to a logged request, or to a background screening cycle (no request: its cycle's id).
    assert fhir and all(d.get("request_id") in ids or str(d.get("request_id")).startswith("screening-")
                        for d in fhir)
    assert any(d.get("request_id") in ids for d in fhir)
