"""Blood cultures as plain values: a culture result (an Observation) or a culture order (a ServiceRequest) whose
LOINC code is one of the caller's, with when it was taken or ordered, for the bundle's "cultures before
antibiotics". The caller names the codes (the bundle's definition); this module only reads the resources.

What counts: an Observation that is not `entered-in-error` or `cancelled` (FHIR R4 observation-status), timed by
effectiveDateTime or effectivePeriod.start; a ServiceRequest that is not `revoked` or `entered-in-error`
(request-status), timed by authoredOn, and `completed` when the specimen was taken. A resource without a usable
time is left out.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime

from .codes import loinc_codings
from .dates import fhir_instant, parse_datetime
from .paging import Found, search
from .transport import Transport

NOT_RESULTS = ("entered-in-error", "cancelled")
NOT_ORDERS = ("revoked", "entered-in-error")


@dataclass(frozen=True)
class CultureRecord:
    time: datetime
    collected: bool  # a result, or a completed order: the specimen was taken
    reference: str  # "Observation/<id>" or "ServiceRequest/<id>"


def _coded(resource: dict, codes: Collection[str]) -> bool:
    return any(code in codes for code, _ in loinc_codings(resource.get("code")))


def culture_results(observations: Iterable[object], codes: Collection[str]) -> tuple[CultureRecord, ...]:
    """The culture results among Observations already read (the page's record: no extra round trip)."""
    out = []
    for obs in observations:
        if not isinstance(obs, dict) or obs.get("status") in NOT_RESULTS or not _coded(obs, codes):
            continue
        t = parse_datetime(obs.get("effectiveDateTime") or (obs.get("effectivePeriod") or {}).get("start")).time
        if t is not None:
            out.append(CultureRecord(t, True, f"Observation/{obs.get('id')}"))
    return tuple(out)


def culture_order(res: dict, codes: Collection[str]) -> CultureRecord | None:
    """A ServiceRequest as a culture order, or None when it is not one of `codes`, was withdrawn or has no time."""
    if res.get("status") in NOT_ORDERS or not _coded(res, codes):
        return None
    t = parse_datetime(res.get("authoredOn")).time
    if t is None:
        return None
    return CultureRecord(t, res.get("status") == "completed", f"ServiceRequest/{res.get('id')}")


def culture_orders_since(transport: Transport, patient_id: str, since: datetime, codes: Collection[str], *,
                         max_pages: int) -> Found:
    """The patient's culture orders authored since `since` (one paged ServiceRequest search; FhirError raises)."""
    result = search(transport, "ServiceRequest",
                    {"patient": patient_id, "authored": f"ge{fhir_instant(since)}", "_count": "100"},
                    max_pages=max_pages)
    records = (culture_order(res, codes) for res in result.resources)
    return Found(tuple(r for r in records if r is not None), tuple(result.notes))
