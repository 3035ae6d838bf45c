"""Backend Services end to end on the live demo stack: the app's client signs, the sandbox fetches the app's JWKS
URL over HTTP and issues a system token, and its FHIR server serves exactly the granted types."""

from __future__ import annotations

import pytest

from app.fhir.errors import FhirForbidden
from app.fhir.paging import search
from app.fhir.transport import Transport
from app.smart import discovery
from app.smart.errors import BackendTokenRefused
from sandbox import register_backend_client
from sandbox import stack as demo
from sandbox.state import of

SEPTIC = "demo-102421"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    folder = tmp_path_factory.mktemp("backend")
    key_file = folder / "backend_key.pem"
    original = demo.DEMO_BACKEND_KEY
    demo.DEMO_BACKEND_KEY = key_file  # the demo's first-start key, generated here instead of instance/
    try:
        stack = demo.start_stack(app_overrides={"database_url": f"sqlite:///{folder / 'app.db'}"},
                                 sandbox_settings={"LOAD_SAMPLE_PATIENTS": False})
    finally:
        demo.DEMO_BACKEND_KEY = original
    yield stack
    stack.shutdown()
    discovery._CACHE.clear()


def transport(stack) -> Transport:
    services = stack.app.extensions["sentinel"]
    return Transport(stack.fhir_base, services.backend, session=services.http)


def test_the_demo_generates_its_key_and_registers_the_client_by_jwks_url(stack):
    services = stack.app.extensions["sentinel"]
    assert stack.backend_key_file.endswith("backend_key.pem") and services.backend_key is not None
    client = of(stack.ehr).auth.client(demo.BACKEND_CLIENT_ID)
    assert client.jwks_url == f"{stack.app_url}/.well-known/jwks.json" and client.jwks is None


def test_a_system_search_of_observations_succeeds_and_an_ungranted_type_is_403(stack):
    fhir = transport(stack)
    bundle = fhir.get_json("Observation", {"patient": SEPTIC, "_count": "5"}, expect="Bundle")
    assert bundle["entry"] and all(e["resource"]["resourceType"] == "Observation" for e in bundle["entry"])
    assert fhir.get_json("Encounter", {"status": "in-progress"}, expect="Bundle")["entry"]
    with pytest.raises(FhirForbidden):
        fhir.get_json("Condition", {"patient": SEPTIC}, expect="Bundle")
    client = of(stack.ehr).auth.client(demo.BACKEND_CLIENT_ID)
    kid = stack.app.extensions["sentinel"].backend_key.kid
    assert [k["kid"] for k in client._fetched[1]["keys"]] == [kid]  # fetched from the app over HTTP


def test_a_paged_system_search_follows_its_next_links(stack):
    result = search(transport(stack), "Observation", {"patient": SEPTIC, "_count": "20"})
    assert result.complete and result.pages > 1 and len(result.resources) > 20


def test_a_registration_that_no_longer_grants_the_scopes_is_a_clear_refusal(stack):
    services = stack.app.extensions["sentinel"]
    tokens = services.backend
    register_backend_client(stack.ehr, demo.BACKEND_CLIENT_ID, jwks_url=f"{stack.app_url}/.well-known/jwks.json",
                            scope="system/Patient.rs")
    try:
        with pytest.raises(BackendTokenRefused) as caught:
            tokens.refresh()
        assert "invalid_scope" in caught.value.detail and "system/Observation.rs" in caught.value.detail
    finally:
        register_backend_client(stack.ehr, demo.BACKEND_CLIENT_ID,
                                jwks_url=f"{stack.app_url}/.well-known/jwks.json",
                                scope=services.settings.backend_scopes)
    assert tokens.refresh()


def test_sentinel_backend_keygen_jwks_and_check(stack, tmp_path, monkeypatch, capsys):
    from app.cli import main

    key_file = tmp_path / "backend-2026.pem"
    assert main(["backend", "keygen", str(key_file)]) == 0
    printed = capsys.readouterr().out
    assert "kid=" in printed and "PRIVATE" not in printed and '"d"' not in printed
    assert main(["backend", "keygen", str(key_file)]) == 1  # never overwritten

    for name, value in {"SENTINEL_BACKEND_CLIENT_ID": demo.BACKEND_CLIENT_ID, "SENTINEL_BACKEND_FHIR_BASE":
                        stack.fhir_base, "SENTINEL_ISS_ALLOWLIST": stack.fhir_base,
                        "SENTINEL_BACKEND_KEY_FILE": stack.backend_key_file,
                        "SENTINEL_BACKEND_SCOPES": "system/Patient.rs system/Observation.rs system/Condition.rs",
                        "SENTINEL_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"}.items():
        monkeypatch.setenv(name, value)
    assert main(["backend", "jwks"]) == 0
    assert stack.app.extensions["sentinel"].backend_key.kid in capsys.readouterr().out
    # The registration does not grant Condition: the check says so and fails, without printing any token.
    assert main(["backend", "check"]) == 2
    out = capsys.readouterr().out
    assert "invalid_scope" in out and "system/Condition.rs" in out
    monkeypatch.setenv("SENTINEL_BACKEND_SCOPES", "system/Patient.rs system/Observation.rs")
    assert main(["backend", "check"]) == 0
    out = capsys.readouterr().out
    assert "Patient: search ok" in out and "Observation: search ok" in out and "Bearer" not in out
