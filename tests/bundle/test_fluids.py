"""The fluid order's review step: what the form starts from, and what a reviewed form may send."""

import pytest

from app.bundle.fluids import FluidDefaults, FluidReview, ReviewInvalid, fluid_review


def test_the_review_starts_from_30_ml_per_kg_of_the_recorded_weight():
    assert FluidDefaults.of(76.8, None) == FluidDefaults("76.8", "2304", None)
    assert FluidDefaults.of(None, None) == FluidDefaults("", "", None)  # no weight: the provider enters one


@pytest.mark.parametrize(("form", "message"), [
    ({"weight_kg": "", "volume_ml": "2000"}, "Enter the weight"),
    ({"weight_kg": "0.5", "volume_ml": "2000"}, "between 1 and 350 kg"),
    ({"weight_kg": "70", "volume_ml": "inf"}, "Enter the volume"),
    ({"weight_kg": "70", "volume_ml": "23040"}, "between 100 and 6000 mL"),
    ({"weight_kg": "nan", "volume_ml": "2000"}, "between 1 and 350 kg"),
])
def test_a_typing_error_is_refused_with_what_to_fix(form, message):
    with pytest.raises(ReviewInvalid, match=message):
        fluid_review(form)


def test_a_reviewed_form_sends_the_volume_the_provider_chose():
    assert fluid_review({"weight_kg": "70,5", "volume_ml": "2000"}) == FluidReview(2000, 70.5)
