"""An Encounter the EHR fails to send is a failed read, not an unknown ICU admission: the page shows the real
score or says clearly that no score is shown, never a score computed without an input the EHR failed to send."""

from __future__ import annotations

import re

from tests.support.web import text_of

SEPTIC = "demo-102421"


def risk_of(html: str) -> str | None:
    found = re.search(r"Estimated risk \d+%", text_of(html))
    return found.group(0) if found else None


def test_an_encounter_the_ehr_fails_to_send_gives_no_score_rather_than_another_one(launch, ehr, faults):
    launched = launch("nurse", SEPTIC)
    assert risk_of(launched.page.get_data(as_text=True)) is not None
    faults.set(ehr, "status", target="fhir", status=503, path="/fhir/Encounter")
    resp = launched.client.get(f"/patients/{SEPTIC}")
    faults.clear(ehr)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 503 and risk_of(html) is None
    assert "cannot show a risk score right now" in text_of(html)

