"""OperationOutcome bodies and the exception that carries one to the HTTP layer."""

from __future__ import annotations

# R4 issue-type codes (hl7.org/fhir/R4/valueset-issue-type.html) per HTTP status, when not given explicitly.
_DEFAULT_CODE = {400: "invalid", 401: "login", 403: "forbidden", 404: "not-found", 405: "not-supported",
                 406: "not-supported", 409: "conflict", 410: "not-found", 412: "conflict", 415: "not-supported",
                 422: "processing", 429: "throttled", 500: "exception", 502: "transient", 503: "transient",
                 504: "timeout"}


def operation_outcome(diagnostics: str, code: str = "processing", severity: str = "error") -> dict:
    return {"resourceType": "OperationOutcome",
            "issue": [{"severity": severity, "code": code, "diagnostics": diagnostics}]}


class FhirError(Exception):
    """An HTTP error answered with an OperationOutcome."""

    def __init__(self, status: int, diagnostics: str, code: str | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(diagnostics)
        self.status = status
        self.diagnostics = diagnostics
        self.code = code or _DEFAULT_CODE.get(status, "processing")
        self.headers = headers or {}

    def body(self) -> dict:
        return operation_outcome(self.diagnostics, self.code)
