"""The fluid bolus order's review step: the weight it is based on (and when that weight was recorded) and the
volume, both shown and editable before anything goes to the EHR, then checked for typing errors.

30 mL/kg of crystalloid (Surviving Sepsis Campaign) is where the form starts, never what is sent unseen: the
provider places the volume they reviewed. No Flask, no FHIR.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from .elements import FLUID_ML_PER_KG


class ReviewInvalid(ValueError):
    """The reviewed weight or volume cannot be used; the message says what to fix."""


@dataclass(frozen=True)
class FluidDefaults:
    """The fluid order's review step: the weight (and when it was recorded) and the volume it gives, both
    editable before anything goes to the EHR. Strings, as the form shows them (a 422 keeps what was typed)."""

    weight_kg: str
    volume_ml: str
    weight_time: datetime | None = None
    per_kg: int = FLUID_ML_PER_KG

    @classmethod
    def of(cls, weight_kg: float | None, weight_time: datetime | None) -> FluidDefaults:
        if weight_kg is None:
            return cls("", "", None)
        return cls(f"{weight_kg:g}", str(round(FLUID_ML_PER_KG * weight_kg)), weight_time)


FLUID_ML = (100, 6000)  # a reviewed bolus volume outside this is a typing error, not a dose
WEIGHT_KG = (1.0, 350.0)


@dataclass(frozen=True)
class FluidReview:
    """The fluid order as the provider reviewed it: the volume that goes to the EHR and the weight behind it."""

    volume_ml: int
    weight_kg: float


def fluid_review(form: Mapping[str, str]) -> FluidReview:
    """The reviewed volume and weight from the order form; ReviewInvalid with what to fix."""
    try:
        weight = float((form.get("weight_kg") or "").replace(",", "."))
    except ValueError:
        raise ReviewInvalid("Enter the weight in kg used for the volume, e.g. 76.8.") from None
    if not WEIGHT_KG[0] <= weight <= WEIGHT_KG[1]:
        raise ReviewInvalid(f"The weight must be between {WEIGHT_KG[0]:g} and {WEIGHT_KG[1]:g} kg.")
    try:
        volume = int(round(float((form.get("volume_ml") or "").replace(",", "."))))
    except (ValueError, OverflowError):  # OverflowError: "inf"
        raise ReviewInvalid("Enter the volume to give in mL, e.g. 2304.") from None
    if not FLUID_ML[0] <= volume <= FLUID_ML[1]:
        raise ReviewInvalid(f"The volume must be between {FLUID_ML[0]} and {FLUID_ML[1]} mL.")
    return FluidReview(volume, weight)
