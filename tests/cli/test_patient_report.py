"""`sentinel inspect`, as hospital IT runs it (app/cli/patient_report.py composes app.fhir and app.model)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import pytest
import responses

from app.cli import main
from app.cli import patient_report as inspect_cmd
from tests.support.fhir import BASE, PATIENT, bundle, obs, patient_resource

NOW_ARG = "2026-11-23T08:00:00-06:00"
ARGS = ["inspect", "--fhir", BASE + "/", "--patient", PATIENT, "--now", NOW_ARG]


@dataclass(frozen=True)
class FakeRisk:
    probability: float
    threshold: float
    above_threshold: bool
    starred: frozenset[str]
    model_version: str = "test-1"


@dataclass(frozen=True)
class FakeMissing:
    concept: str
    label: str
    reason: str
    last_seen: datetime | None


@dataclass(frozen=True)
class FakeAbstain:
    missing: tuple[FakeMissing, ...]
    model_version: str = "test-1"


def serve(observations: list[dict]) -> None:
    responses.add(responses.GET, f"{BASE}/Patient/{PATIENT}", json=patient_resource())
    responses.add(responses.GET, f"{BASE}/Observation", json=bundle(observations))


def ward_observations() -> list[dict]:
    return [obs("8867-4", 112, "/min", oid="hr"), obs("8310-5", 101.3, "[degF]", oid="t"),
            obs("8310-5", 4.1, "Cel", oid="t-bad"), obs("2524-7", 36, "mg/dL", oid="lac", category="laboratory"),
            obs("55284-4", oid="bp", component=[
                {"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
                 "valueQuantity": {"value": 92}}]),
            obs("2093-3", 190, "mg/dL", oid="chol", category="laboratory"),
            obs("29463-7", 70, "kg", oid="w")]


@pytest.fixture
def scored(monkeypatch):
    seen = {}

    def fake(measurements, at):
        seen["concepts"] = sorted({m.concept for m in measurements})
        seen["at"] = at
        return seen.get("outcome")

    monkeypatch.setattr(inspect_cmd, "_score", fake)
    return seen


@responses.activate
def test_text_report_lists_used_rejected_reasons_round_trips_and_the_abstention(scored, capsys, monkeypatch):
    monkeypatch.setenv("SENTINEL_INSPECT_TOKEN", "tok-xyz")
    scored["outcome"] = FakeAbstain((FakeMissing("resp_rate", "Respiratory rate", "never measured", None),
                                     FakeMissing("spo2", "SpO2", "too old", datetime.fromisoformat(
                                         "2026-11-22T20:00:00-06:00"))))
    serve(ward_observations())
    assert main(ARGS) == 0
    out = capsys.readouterr().out
    assert f"patient {PATIENT} (female, 76.4 y)" in out
    assert "Round trips: 2; data complete: yes" in out
    assert "Measurements used (6):" in out
    assert "Temperature" in out and "38.5" in out and "(recorded 101.3 [degF])" in out
    assert "Lactate" in out and "(recorded 36 mg/dL)" in out
    assert "implausible value (Temperature 4.1 °C)  [Observation t-bad, code 8310-5]" in out
    assert "unit missing (Systolic BP 92 with no unit)  [Observation bp, code 8480-6]" in out
    assert "Reasons: implausible value: 1, unit missing: 1" in out
    assert "Not relevant to the model (other codes): 1" in out
    assert ("Score: none; the model (test-1) abstained. Missing or too old:\n  Respiratory rate: never measured\n"
            "  SpO2: too old (last seen 2026-11-22T20:00-06:00)") in out
    assert "tok-xyz" not in out
    assert responses.calls[0].request.headers["Authorization"] == "Bearer tok-xyz"
    assert scored["concepts"] == ["age", "body_weight", "heart_rate", "lactate", "sex_male", "temperature"]
    assert scored["at"] == datetime.fromisoformat(NOW_ARG)


@responses.activate
def test_json_report_with_a_risk(scored, capsys):
    scored["outcome"] = FakeRisk(0.31, 0.2, True, frozenset({"lactate", "heart_rate"}))
    serve(ward_observations())
    assert main([*ARGS, "--json", "--token", "tok"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["round_trips"] == 2 and report["complete"] is True
    assert report["score"] == {"kind": "risk", "probability": 0.31, "threshold": 0.2, "above_threshold": True,
                               "starred": ["heart_rate", "lactate"], "model_version": "test-1"}
    assert report["reason_counts"] == {"implausible value": 1, "unit missing": 1}
    lactate = next(m for m in report["used"] if m["concept"] == "lactate")
    assert lactate == {"concept": "lactate", "label": "Lactate", "value": 3.9964, "unit": "mmol/L",
                       "time": "2026-11-23T07:30-06:00", "observation_id": "lac", "code": "2524-7",
                       "recorded_value": 36.0, "recorded_unit": "mg/dL", "status": "final"}
    assert {"label": "Temperature", "observation_id": "t-bad", "code": "8310-5", "time": "2026-11-23T07:30-06:00",
            "reason": "implausible value", "detail": "Temperature 4.1 °C"} in report["rejected"]


@responses.activate
def test_risk_text(scored, capsys):
    scored["outcome"] = FakeRisk(0.31, 0.2, True, frozenset({"lactate"}))
    serve(ward_observations())
    main(ARGS)
    out = capsys.readouterr().out
    assert "Score: 31.0% (ABOVE the alert threshold of 20.0%; model test-1)\n  driven by: Lactate" in out


@responses.activate
def test_a_fhir_failure_says_what_happened_and_exits_2(capsys):
    responses.add(responses.GET, f"{BASE}/Patient/{PATIENT}", status=403)
    assert main(ARGS) == 2
    err = capsys.readouterr().err
    assert "did not allow Sepsis Sentinel to read" in err and "HTTP 403 on Patient" in err


@responses.activate
def test_a_fhir_failure_in_json(capsys):
    responses.add(responses.GET, f"{BASE}/Patient/{PATIENT}", body="<html>down</html>", content_type="text/html")
    responses.add(responses.GET, f"{BASE}/Observation", json=bundle([]))
    assert main([*ARGS, "--json"]) == 2
    doc = json.loads(capsys.readouterr().out)
    # The Patient read fails; the Observation search sent beside it counts too.
    assert doc["error"]["code"] == "fhir_bad_response" and doc["round_trips"] == 2


@responses.activate
def test_without_a_model_the_data_is_still_shown_and_the_exit_status_says_so(capsys, monkeypatch):
    def missing(measurements, at):
        raise inspect_cmd.ModelUnavailable("ModelArtifactError: no model card: run `sentinel train`")

    monkeypatch.setattr(inspect_cmd, "_score", missing)
    serve(ward_observations())
    assert main(ARGS) == 3
    out = capsys.readouterr().out
    assert "Measurements used (6):" in out
    assert "Score: not available (ModelArtifactError: no model card: run `sentinel train`)" in out


@responses.activate
def test_a_missing_model_artifact_is_reported_as_unavailable(capsys, monkeypatch):
    import app.model

    def no_artifact(measurements, at, threshold=None):
        raise app.model.ModelArtifactError("no model card: run `sentinel train`")

    monkeypatch.setattr(app.model, "score", no_artifact)
    serve(ward_observations())
    assert main([*ARGS, "--json"]) == 3
    assert json.loads(capsys.readouterr().out)["score"] == {
        "kind": "unavailable", "detail": "ModelArtifactError: no model card: run `sentinel train`"}
