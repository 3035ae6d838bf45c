"""When an alert fires: risk over the site threshold AND a recent, verifiable sign of organ dysfunction."""

from datetime import timedelta

import pytest

from app.alerts.policy import (
    ABSTAIN,
    ALERT,
    LOW,
    SEP1_SIGNS,
    UNAVAILABLE,
    WATCH,
    Policy,
    PolicyError,
    assess,
    organ_dysfunction,
)
from tests.support.builders import NOW, abstain, at, m, risk


def test_high_risk_with_a_sign_is_an_alert_that_names_the_sign_value_and_time():
    a = assess(risk(0.8), [m("sbp", 84, hours_ago=1), m("sbp", 120, hours_ago=0.2)], NOW, threshold=0.5)
    assert a.level == ALERT and a.fires
    (sign,) = a.signs
    assert (sign.label, sign.value, sign.unit, sign.time) == ("Systolic BP", 84, "mmHg", at(1))
    assert sign.criterion == "Systolic BP < 90 mmHg"


def test_high_risk_without_a_sign_is_watch_not_an_alert():
    a = assess(risk(0.9), [m("sbp", 118), m("lactate", 1.4), m("platelets", 250)], NOW, threshold=0.5)
    assert a.level == WATCH and not a.fires and a.signs == ()


def test_low_risk_with_a_sign_is_low():
    a = assess(risk(0.2), [m("lactate", 5.0)], NOW, threshold=0.5)
    assert a.level == LOW and len(a.signs) == 1


@pytest.mark.parametrize("concept, abnormal, normal", [
    ("sbp", 89, 90), ("map", 64, 65), ("lactate", 2.1, 2.0), ("creatinine", 2.1, 2.0),
    ("bilirubin_total", 2.1, 2.0), ("platelets", 99, 100), ("inr", 1.6, 1.5)])
def test_each_sep1_sign_uses_a_strict_limit(concept, abnormal, normal):
    policy = Policy()
    assert [s.concept for s in organ_dysfunction([m(concept, abnormal)], NOW, policy)] == [concept]
    assert organ_dysfunction([m(concept, normal)], NOW, policy) == ()


def test_signs_older_than_the_window_do_not_count_and_the_newest_abnormal_value_is_shown():
    policy = Policy()
    assert organ_dysfunction([m("lactate", 6.0, hours_ago=6.5)], NOW, policy) == ()
    signs = organ_dysfunction([m("lactate", 6.0, 5), m("lactate", 3.0, 2), m("lactate", 1.0, 1)], NOW, policy)
    assert [(s.value, s.time) for s in signs] == [(3.0, at(2))]
    assert organ_dysfunction([m("lactate", 6.0, hours_ago=-0.5)], NOW, policy) == ()  # not after `now`


def test_abstain_and_no_model_never_alert():
    a = assess(abstain(("spo2", "SpO2", "too old", at(9))), [m("sbp", 70)], NOW, threshold=0.5)
    assert a.level == ABSTAIN and a.risk is None and a.abstain.missing[0].concept == "spo2"
    assert len(a.signs) == 1  # the signs are still shown to the nurse
    u = assess(None, [m("sbp", 70)], NOW, threshold=None, unavailable_reason="no artifact")
    assert u.level == UNAVAILABLE and not u.fires and u.risk is None


def test_a_site_can_configure_signs_and_window():
    policy = Policy.from_dict({"sign_window_hours": 2, "signs": [{"concept": "lactate", "comparison": ">",
                                                                  "limit": 4}]})
    assert policy.sign_window == timedelta(hours=2)
    assert assess(risk(0.9), [m("lactate", 3.0)], NOW, threshold=0.5, policy=policy).level == WATCH
    assert assess(risk(0.9), [m("lactate", 4.5)], NOW, threshold=0.5, policy=policy).level == ALERT
    assert Policy.from_dict({}).signs == SEP1_SIGNS


@pytest.mark.parametrize("bad", [{"signs": [{"concept": "nope", "comparison": "<", "limit": 1}]},
                                 {"signs": [{"concept": "sbp", "comparison": "<=", "limit": 90}]},
                                 {"signs": [{"concept": "sbp"}]}, {"signs": []}, {"sign_window_hours": 0},
                                 {"sign_window_hours": "x"}])
def test_malformed_site_policy_is_refused_with_a_reason(bad):
    with pytest.raises(PolicyError):
        Policy.from_dict(bad)
