"""FHIR data access for one launched patient: a hardened transport, the searches, and the mapping of
Observations to the model's Measurements (or to rejections with a reason).

    transport = Transport(iss, token_source, connect_timeout=..., read_timeout=..., time_budget=...)
    record = fetch_patient_record(transport, patient_id, now=now, lookback=timedelta(hours=72))
    result = map_record(record, now)      # result.measurements -> model; result.rejected -> "not used, and why"

Depends on `app.model` only for the Measurement type and the concept table.
"""

from .errors import (
    FhirBadResponse,
    FhirError,
    FhirFailedMidRead,
    FhirForbidden,
    FhirNotFound,
    FhirRequestRejected,
    FhirUnauthorized,
    FhirUnavailable,
)
from .mapping import (
    Mapped,
    MappingResult,
    Rejected,
    demographic_measurements,
    map_observation,
    map_observations,
    map_record,
)
from .searches import Demographics, PatientRecord, fetch_patient_record
from .tokens import StaticToken, TokenSource
from .transport import Transport, on_base

__all__ = [
    "Demographics", "FhirBadResponse", "FhirError", "FhirFailedMidRead", "FhirForbidden", "FhirNotFound", "FhirRequestRejected",
    "FhirUnauthorized", "FhirUnavailable", "Mapped", "MappingResult", "PatientRecord", "Rejected", "StaticToken",
    "TokenSource", "Transport", "demographic_measurements", "fetch_patient_record", "map_observation",
    "map_observations", "map_record", "on_base",
]
