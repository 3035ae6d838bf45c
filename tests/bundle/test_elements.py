"""The treatment bundle: each element done, due or overdue against the 3 h and 6 h clocks from time zero."""

from datetime import timedelta

from app.bundle.elements import (
    DONE,
    DUE,
    NOT_INDICATED,
    OVERDUE,
    UNKNOWN,
    Culture,
    Facts,
    Given,
    evaluate,
    medication_kind,
)
from app.model import Measurement
from tests.support.builders import NOW

T0 = NOW - timedelta(hours=1)  # confirmed an hour ago


def lactate(value, minutes_from_t0):
    return Measurement("lactate", value, T0 + timedelta(minutes=minutes_from_t0))


def pressure(concept, value, minutes_from_t0):
    return Measurement(concept, value, T0 + timedelta(minutes=minutes_from_t0))


def given(kind, name, minutes_from_t0, administered=True, end=None):
    return Given(kind, name, T0 + timedelta(minutes=minutes_from_t0), end, administered, "MedicationAdministration/1")


def status(bundle, key):
    return bundle.element(key).status


def test_clocks_start_at_time_zero():
    b = evaluate(T0, NOW, Facts())
    assert (b.three_hour, b.six_hour) == (T0 + timedelta(hours=3), T0 + timedelta(hours=6))
    assert [e.key for e in b.elements] == ["lactate", "blood_cultures", "antibiotics", "fluids", "vasopressors",
                                           "repeat_lactate"]


def test_nothing_done_is_due_then_overdue():
    b = evaluate(T0, NOW, Facts())
    assert [status(b, k) for k in ("lactate", "blood_cultures", "antibiotics")] == [DUE, DUE, DUE]
    assert all(b.element(k).orderable for k in ("lactate", "blood_cultures", "antibiotics"))
    late = evaluate(T0, T0 + timedelta(hours=3, minutes=1), Facts())
    assert [status(late, k) for k in ("lactate", "blood_cultures", "antibiotics")] == [OVERDUE] * 3
    assert status(late, "fluids") == NOT_INDICATED and status(late, "repeat_lactate") == NOT_INDICATED


def test_a_lactate_from_up_to_6_h_before_time_zero_counts():
    assert status(evaluate(T0, NOW, Facts(lactates=(lactate(1.5, -300),))), "lactate") == DONE
    assert status(evaluate(T0, NOW, Facts(lactates=(lactate(1.5, -400),))), "lactate") == DUE


def test_first_lactate_over_2_needs_a_repeat_within_6_h():
    b = evaluate(T0, NOW, Facts(lactates=(lactate(3.1, -30),)))
    rep = b.element("repeat_lactate")
    assert rep.status == DUE and rep.hours == 6 and rep.orderable and "3.1 mmol/L" in rep.evidence
    b = evaluate(T0, NOW, Facts(lactates=(lactate(3.1, -30), lactate(2.2, 40))))
    assert status(b, "repeat_lactate") == DONE and b.element("repeat_lactate").at == T0 + timedelta(minutes=40)
    assert status(evaluate(T0, NOW, Facts(lactates=(lactate(1.9, -30),))), "repeat_lactate") == NOT_INDICATED
    before_t0 = evaluate(T0, NOW, Facts(lactates=(lactate(3.1, -120), lactate(4.0, -30))))
    assert status(before_t0, "repeat_lactate") == DONE  # a later lactate is the repeat, even before time zero


def test_the_lactate_element_shows_the_newest_with_its_trend_and_the_later_one_is_the_repeat():
    # The page's case: 6.65 at 12:56, then 7.87 at 17:56, confirmed at 18:03.
    b = evaluate(T0, NOW, Facts(lactates=(lactate(7.87, -7), lactate(6.65, -307))))
    first = b.element("lactate")
    assert first.evidence == "Lactate 7.87 mmol/L" and first.at == T0 - timedelta(minutes=7)
    assert first.trend == "up from 6.65" and first.since == T0 - timedelta(minutes=307)
    repeat = b.element("repeat_lactate")
    assert repeat.status == DONE and repeat.evidence == "Repeat lactate 7.87 mmol/L"
    assert repeat.note == "rising: consider another after resuscitation"
    assert "lactate 7.87 mmol/L" in b.element("fluids").indication  # the highest lactate indicates fluids
    single = evaluate(T0, NOW, Facts(lactates=(lactate(1.4, -30),))).element("lactate")
    assert single.trend is None and single.since is None


def test_fluids_for_hypotension_or_lactate_4_with_the_volume_from_the_latest_weight():
    b = evaluate(T0, NOW, Facts(pressures=(pressure("map", 58, -20),), weight_kg=72.0))
    fluids = b.element("fluids")
    assert fluids.status == DUE and fluids.volume_ml == 2160 and "30 mL/kg x 72 kg = 2160 mL" in fluids.indication
    b = evaluate(T0, NOW, Facts(lactates=(lactate(4.4, -10),)))
    fluids = b.element("fluids")
    assert fluids.status == DUE and fluids.volume_ml is None and "Weight not recorded" in fluids.indication
    assert status(evaluate(T0, NOW, Facts(pressures=(pressure("sbp", 110, -20),))), "fluids") == NOT_INDICATED


def test_cultures_before_antibiotics_and_antibiotics_given():
    facts = Facts(cultures=(Culture(T0 + timedelta(minutes=10), True, "Observation/c1"),),
                  medications=(given("antibiotic", "cefepime", 20),))
    b = evaluate(T0, NOW, facts)
    assert status(b, "blood_cultures") == DONE and b.element("blood_cultures").note is None
    assert status(b, "antibiotics") == DONE and b.element("antibiotics").evidence == "Cefepime given"
    late = Facts(cultures=(Culture(T0 + timedelta(minutes=30), True, "Observation/c1"),),
                 medications=(given("antibiotic", "cefepime", 20),))
    assert evaluate(T0, NOW, late).element("blood_cultures").note == "after the first antibiotic dose"


def test_an_order_alone_is_not_done():
    facts = Facts(cultures=(Culture(T0 + timedelta(minutes=5), False, "ServiceRequest/s1"),),
                  medications=(given("antibiotic", "meropenem", 5, administered=False),))
    b = evaluate(T0, NOW, facts)
    assert status(b, "blood_cultures") == DUE and "ordered" in b.element("blood_cultures").evidence
    assert status(b, "antibiotics") == DUE and not b.element("antibiotics").orderable


def test_vasopressors_only_when_hypotension_persists_after_fluids():
    fluids = given("crystalloid", "sodium chloride", 10, end=T0 + timedelta(minutes=40))
    before = Facts(pressures=(pressure("map", 55, -10),), medications=(fluids,))
    assert status(evaluate(T0, NOW, before), "vasopressors") == NOT_INDICATED
    after = Facts(pressures=(pressure("map", 55, -10), pressure("map", 58, 50)), medications=(fluids,))
    b = evaluate(T0, NOW, after)
    assert status(b, "vasopressors") == DUE and b.element("vasopressors").hours == 6
    done = Facts(pressures=after.pressures, medications=(fluids, given("vasopressor", "norepinephrine", 55)))
    assert status(evaluate(T0, NOW, done), "vasopressors") == DONE


def test_unreadable_medications_are_unknown_not_due():
    b = evaluate(T0, NOW, Facts(medications_known=False, cultures_known=False))
    assert status(b, "antibiotics") == UNKNOWN and status(b, "blood_cultures") == UNKNOWN


def test_medication_kind_matches_rxnorm_codes_only():
    rx = "http://www.nlm.nih.gov/research/umls/rxnorm"
    assert medication_kind([(rx, "7512")]) == ("vasopressor", "7512", "norepinephrine")
    assert medication_kind([("http://snomed.info/sct", "7512"), (rx, "9863")])[0] == "crystalloid"
    assert medication_kind([(rx, "999999")]) is None
