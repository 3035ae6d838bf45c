"""A clinician's browser against a live stack (the app under gunicorn, sandbox.stack.AppProcess, and the sandbox
EHR in this process, sandbox.stack.EhrServer), after a real EHR launch, sending what the page's htmx forms send;
and the patients and the FHIR time budget the resilience tests and bench.faults share."""

from __future__ import annotations

import copy
import html
import re
import uuid

import requests

from sandbox.stack import AppProcess, EhrServer
from tests.support.web import csrf_of

SEPTIC = "demo-102421"  # raises an alert with the shipped model (sandbox/sandbox/demo_patients/README.md)
OTHER_SEPTIC = "demo-108952"  # so does this one
FHIR_TIME_BUDGET = 5.0  # SENTINEL_FHIR_TIME_BUDGET of the resilience tests' shared app (the default is 20 s)


def sid() -> str:
    return uuid.uuid4().hex


class Browser:
    """One clinician's browser after a real EHR launch (chart -> /launch -> EHR authorize -> /callback -> page)."""

    def __init__(self, app: AppProcess, ehr: EhrServer, user: str, patient: str = SEPTIC, timeout: float = 60):
        self.app, self.patient, self.timeout = app, patient, timeout
        app.register_with(ehr)
        chart = requests.get(f"{ehr.base_url}/ehr/chart", params={"user": user, "patient": patient}, timeout=30)
        chart.raise_for_status()
        src = re.search(r'<iframe[^>]*id="app"[^>]*src="([^"]+)"', chart.text).group(1)
        self.http = requests.Session()
        self._tabs: list[requests.Session] = [self.http]
        landing = self.http.get(html.unescape(src), timeout=timeout)
        if landing.status_code != 200 or "headline" not in landing.text:
            raise RuntimeError(f"the launch did not reach the patient page: HTTP {landing.status_code}")
        self.first_page = landing.text
        self.csrf = csrf_of(landing.text)
        self.page_url = f"{app.url}/patients/{patient}"

    def tab(self) -> Browser:
        """Another tab of this browser (same cookies, so the same session) with its own connection, for another
        thread: a requests.Session is not meant to be shared between threads."""
        other = copy.copy(self)
        other.http = requests.Session()
        other.http.cookies.update(self.http.cookies)
        self._tabs.append(other.http)
        return other

    def close(self) -> None:
        """Close this browser's connections, and its tabs'."""
        for http in self._tabs:
            http.close()

    def _htmx(self) -> dict:
        return {"HX-Request": "true", "X-CSRF-Token": self.csrf}

    def page(self) -> requests.Response:
        return self.http.get(self.page_url, timeout=self.timeout)

    def alert_fragment(self) -> requests.Response:
        return self.http.get(f"{self.page_url}/alert", headers={"HX-Request": "true"}, timeout=self.timeout)

    def screening(self, submission_id: str, source: str = "lung") -> requests.Response:
        return self.http.post(f"{self.page_url}/screening", headers=self._htmx(), timeout=self.timeout,
                              data={"submission_id": submission_id, "infection_source": source,
                                    "new_confusion": "no"})

    def decide(self, alert_id: int, kind: str, submission_id: str, **form) -> requests.Response:
        return self.http.post(f"{self.page_url}/alerts/{alert_id}/{kind}", headers=self._htmx(), timeout=self.timeout,
                              data={"submission_id": submission_id, **form})

    def feedback(self, text: str, submission_id: str | None = None) -> requests.Response:
        """The feedback form sent; sent again with the same `submission_id` it is stored once."""
        return self.http.post(f"{self.app.url}/feedback", headers=self._htmx(), timeout=self.timeout,
                              data={"kind": "question", "text": text, "page": f"/patients/{self.patient}",
                                    "submission_id": submission_id or ""})
