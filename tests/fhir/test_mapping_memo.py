"""Mapping remembers what it found for an Observation's content, and still checks it against the clock each time."""

from __future__ import annotations

from datetime import timedelta

from app.fhir import mapping
from app.fhir.mapping import Mapped, Rejected, map_observation
from tests.support.fhir import NOW, PATIENT, obs


def test_the_same_observation_at_a_later_time_is_judged_against_the_new_clock():
    o = obs("8867-4", 88, "/min")
    when = map_observation(o, patient_id=PATIENT, now=NOW)[0].measurement.time
    too_early = map_observation(o, patient_id=PATIENT, now=when - timedelta(hours=1))[0]
    assert isinstance(too_early, Rejected) and too_early.reason == "time in the future"
    window = map_observation(o, patient_id=PATIENT, now=NOW, not_before=when + timedelta(minutes=1))[0]
    assert isinstance(window, Rejected) and window.reason == "older than the time window"
    assert isinstance(map_observation(o, patient_id=PATIENT, now=NOW)[0], Mapped)


def test_a_changed_observation_is_examined_again():
    o = obs("8867-4", 88, "/min")
    assert map_observation(o, patient_id=PATIENT, now=NOW)[0].measurement.value == 88
    o["valueQuantity"]["value"] = 91  # same id, new content (an amended result)
    assert map_observation(o, patient_id=PATIENT, now=NOW)[0].measurement.value == 91
    o["status"] = "entered-in-error"
    assert map_observation(o, patient_id=PATIENT, now=NOW)[0].reason == "entered in error"
    assert isinstance(map_observation(o, patient_id="someone-else", now=NOW)[0], Rejected)


def test_the_memo_is_bounded(monkeypatch):
    monkeypatch.setattr(mapping, "MEMO_SIZE", 5)
    for value in range(40, 60):
        map_observation(obs("8867-4", value, "/min"), patient_id=PATIENT, now=NOW)
    assert len(mapping._memo) <= 5


def test_the_memo_is_keyed_by_the_fhir_server_too():
    """The same Observation JSON read from two EHRs: its absolute subject names one of them only. A memo keyed
    by content and patient alone would answer for the second server with the first server's verdict."""
    prod, test = "https://ehr.example.org/fhir", "https://test-ehr.example.org/fhir"
    o = obs("8867-4", 88, "/min")
    o["subject"] = {"reference": f"{prod}/Patient/{PATIENT}"}
    assert isinstance(map_observation(o, patient_id=PATIENT, now=NOW, base=prod)[0], Mapped)
    other = map_observation(o, patient_id=PATIENT, now=NOW, base=test)[0]
    assert isinstance(other, Rejected) and other.reason == "about another patient"
