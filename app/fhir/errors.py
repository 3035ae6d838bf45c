"""What can go wrong reading FHIR, each with a message a clinician can act on (no PHI, no tokens).

`message` is for the page; `detail` is for logs and for hospital IT (`sentinel inspect`): HTTP status,
content type, attempts, never query values, names, tokens or OperationOutcome diagnostics (which can echo PHI).
"""

from __future__ import annotations


class FhirError(Exception):
    """Base: the FHIR server could not give us trustworthy data, so no score may be shown."""

    code = "fhir_error"
    status = 502
    message = ("Sepsis Sentinel could not read this patient's data from the EHR, so no risk score is shown. "
               "Please try again; if this keeps happening, contact the deployment team.")

    def __init__(self, message: str | None = None, *, detail: str = ""):
        super().__init__(message or self.message)
        if message:
            self.message = message
        self.detail = detail


class FhirUnavailable(FhirError):
    """Timeouts, refused connections, 5xx, 429 after the retries and time budget are spent."""

    code = "fhir_unavailable"
    status = 503
    message = ("The EHR's data service is not responding, so Sepsis Sentinel cannot show a risk score right now. "
               "Please try again in a few minutes; if this keeps happening, contact the deployment team.")


class FhirUnauthorized(FhirError):
    """401 after one refresh-and-retry (or when a refresh is impossible)."""

    code = "fhir_unauthorized"
    status = 401
    message = ("Sepsis Sentinel's access to the EHR has expired. "
               "Please open Sepsis Sentinel again from the patient's chart.")


class FhirForbidden(FhirError):
    """403: the token is valid but does not allow this read (scopes, consent, break-the-glass)."""

    code = "fhir_forbidden"
    status = 403
    message = ("The EHR did not allow Sepsis Sentinel to read this patient's vital signs or results, "
               "so no risk score is shown. Ask the deployment team to check the app's permissions.")


class FhirBadResponse(FhirError):
    """Junk JSON, an HTML page with 200, the wrong resourceType, an OperationOutcome instead of a resource."""

    code = "fhir_bad_response"
    status = 502
    message = ("The EHR's data service sent a reply Sepsis Sentinel could not read, so no risk score is shown. "
               "Please try again; if this keeps happening, contact the deployment team.")


class FhirNotFound(FhirBadResponse):
    """404 on a read: the launched patient does not exist on this server (wrong base URL or context)."""

    code = "fhir_not_found"
    status = 404
    message = ("The EHR's data service does not know this patient, so no risk score is shown. "
               "Please open Sepsis Sentinel again from the patient's chart.")


class FhirFailedMidRead(FhirBadResponse):
    """A 404 after the Patient was read: the data service lost the search partway (an expired or broken page
    link), not the patient. Saying "does not know this patient" then would send the clinician the wrong way."""

    code = "fhir_failed_mid_read"
    status = 502
    message = ("The EHR's data service failed partway through reading this patient's vital signs and results, so "
               "no risk score is shown. Please reload the page; if this keeps happening, contact the deployment "
               "team.")


class FhirRequestRejected(FhirBadResponse):
    """400/422 (or similar): the server refused our search. Searches use it to fall back to simpler queries."""

    code = "fhir_request_rejected"
    message = ("The EHR's data service refused Sepsis Sentinel's request for this patient's data, so no risk "
               "score is shown. Please contact the deployment team.")

    def __init__(self, message: str | None = None, *, detail: str = "", http_status: int = 400):
        super().__init__(message, detail=detail)
        self.http_status = http_status
