"""Reading a FHIR server's answer: the JSON resource it must be, the resource a create stored, and the codes of
an OperationOutcome. The transport decides what to send and when to retry; this says what came back.
"""

from __future__ import annotations

import re

import requests

from .bounded import parse_json
from .errors import FhirBadResponse, FhirRequestRejected


def outcome_codes(doc: object) -> str:
    """The issue severities and codes of an OperationOutcome (never `diagnostics`, which can echo PHI)."""
    if not isinstance(doc, dict) or doc.get("resourceType") != "OperationOutcome":
        return ""
    issues = doc.get("issue") if isinstance(doc.get("issue"), list) else []
    codes = [f"{i.get('severity')}/{i.get('code')}" for i in issues[:5] if isinstance(i, dict)]
    return ", ".join(str(c)[:60] for c in codes)


def json_or_none(resp: requests.Response) -> object:
    try:
        return parse_json(resp.content)
    except (ValueError, UnicodeDecodeError):
        return None


def resource_of(resp: requests.Response, expected: tuple[str, ...], kind: str) -> dict:
    """The answer's JSON resource, whose resourceType must be one of `expected`. A web page (a login or error
    page in front of the server), junk or another resource is FhirBadResponse; an OperationOutcome is the
    server refusing (FhirRequestRejected, with its codes)."""
    ctype = (resp.headers.get("Content-Type") or "").lower()
    if "html" in ctype or resp.content.lstrip()[:1] == b"<":
        raise FhirBadResponse(detail=f"HTTP {resp.status_code} on {kind} returned a web page "
                                     f"({ctype or 'no Content-Type'}), not FHIR JSON")
    doc = json_or_none(resp)
    if not isinstance(doc, dict) or not isinstance(doc.get("resourceType"), str):
        raise FhirBadResponse(detail=f"HTTP {resp.status_code} on {kind}: body is not a FHIR JSON resource")
    rtype = doc["resourceType"]
    if rtype in expected:
        return doc
    if rtype == "OperationOutcome":
        codes = outcome_codes(doc)
        raise FhirRequestRejected(detail=f"OperationOutcome instead of {'/'.join(expected)} on {kind}"
                                         + (f" ({codes})" if codes else ""), http_status=resp.status_code)
    raise FhirBadResponse(detail=f"{rtype[:40]} instead of {'/'.join(expected)} on {kind}")


def created_resource(resp: requests.Response, resource_type: str) -> dict:
    """The stored resource from a create's answer; from the Location header when the body is empty."""
    if resp.content.strip():
        return resource_of(resp, (resource_type,), resource_type)
    location = resp.headers.get("Location") or resp.headers.get("Content-Location") or ""
    # Location: [base]/[type]/[id]/_history/[vid] (FHIR R4 http.html#create)
    match = re.search(rf"(?:^|/){resource_type}/([A-Za-z0-9\-.]{{1,64}})(?:/_history/|$)", location)
    if not match:
        raise FhirBadResponse(detail=f"POST {resource_type} answered {resp.status_code} with neither a body "
                                     "nor a readable Location")
    return {"resourceType": resource_type, "id": match.group(1)}
