"""Settings that cannot be mistyped into an unsafe production."""

import pytest

from app.config import ConfigError, load_settings

GOOD = {"env": "production", "secret_key": "Zq3v-9Lk2_XbT7wPmN4sYc8RjH1uEa6GdFo5KiQ0lVn", "cookie_secure": True,
        "public_url": "https://sentinel.hospital.org", "iss_allowlist": ("https://ehr.hospital.org/fhir",),
        "frame_ancestors": ("https://ehr.hospital.org",)}


def test_a_well_configured_production_starts():
    assert load_settings(GOOD, environ={}).env == "production"


@pytest.mark.parametrize("value", ["prod", "Production", "production ", "staging", ""])
def test_sentinel_env_accepts_only_known_values(value):
    with pytest.raises(ConfigError, match="SENTINEL_ENV must be one of production, development, test"):
        load_settings(environ={"SENTINEL_ENV": value})


@pytest.mark.parametrize("value", ["development", "test"])
def test_the_other_known_environments_start(value):
    assert load_settings(environ={"SENTINEL_ENV": value}).env == value


@pytest.mark.parametrize("change, message", [
    ({"frame_ancestors": ("*",)}, "FRAME_ANCESTORS"),
    ({"frame_ancestors": ("https://ehr.hospital.org", "*")}, "FRAME_ANCESTORS"),
    ({"secret_key": "x" * 40}, "looks hand-made"),
    ({"secret_key": "abcd" * 12}, "looks hand-made"),
    ({"iss_allowlist": ("https://ehr.hospital.org/fhir", "http://test-ehr.hospital.org/fhir")}, "https://"),
])
def test_production_refuses_unsafe_values(change, message):
    with pytest.raises(ConfigError, match=message):
        load_settings({**GOOD, **change}, environ={})


def test_the_bounds_must_be_positive():
    with pytest.raises(ConfigError, match="FHIR_MAX_RESPONSE_BYTES"):
        load_settings(environ={"SENTINEL_FHIR_MAX_RESPONSE_BYTES": "0"})
