"""The SEP-1 sepsis bundle after a confirmed alert: each element done, due or overdue against its clock
(`elements`), the orders a provider proposes to the EHR for them (`orders`, recorded as `record.OrderRecord`),
the fluid bolus's review step (`fluids`), and what can go wrong placing an order (`errors`).

Depends on `app.alerts` for the alert it follows (time zero is the provider's confirmation) and on
`app.fhir.orders` for the FHIR JSON of an order; no Flask.
"""

from .elements import (
    BLOOD_CULTURE_CODES,
    CULTURE_LOOKBACK,
    MEDICATION_LOOKBACK,
    SIX_HOURS,
    THREE_HOURS,
    BundleStatus,
    Culture,
    Element,
    Facts,
    Given,
    evaluate,
    medication_kind,
)
from .errors import AlreadyOrdered, BundleError, NotConfirmed, OrderNotPlaced, SubmissionTaken
from .fluids import FluidDefaults, FluidReview, ReviewInvalid, fluid_review
from .record import OrderRecord

__all__ = [
    "BLOOD_CULTURE_CODES", "CULTURE_LOOKBACK", "MEDICATION_LOOKBACK", "SIX_HOURS", "THREE_HOURS", "AlreadyOrdered",
    "BundleError", "BundleStatus", "Culture", "Element", "Facts", "FluidDefaults", "FluidReview", "Given",
    "NotConfirmed", "OrderNotPlaced", "OrderRecord", "ReviewInvalid", "SubmissionTaken", "evaluate",
    "fluid_review", "medication_kind",
]
