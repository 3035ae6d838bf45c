"""Who may do what, and the one sentence a refusal shows: the role in the singular, the action in clinical words."""

import pytest

from app import roles
from app.alerts.workflow import DECIDERS, WITHDRAWERS
from app.bundle.orders import ORDERERS
from app.nursing.form import SCREENERS


def test_the_alerts_package_reads_its_role_sets_from_the_one_table():
    assert DECIDERS == WITHDRAWERS == ORDERERS == {"provider"} and SCREENERS == {"provider", "nurse"}


@pytest.mark.parametrize(("role", "action", "sentence"), [
    ("nurse", "decide_on_alerts", "Only a provider can confirm, dismiss or pause a sepsis alert; you are signed in as "
                                  "a nurse. Tell the provider if you are concerned."),
    ("deployment", "submit_the_nurse_screening", "Only a provider or a nurse can submit the nurse sepsis screening; "
                                                 "you are signed in as a member of the deployment team."),
    ("provider", "tune_the_site_threshold", "Only a member of the deployment team can change this site's alert "
                                            "threshold; you are signed in as a provider."),
    ("something-else", "read_feedback", "Only a member of the deployment team can read the feedback inbox; you are "
                                        "signed in as a read-only user."),
])
def test_a_refusal_names_one_role_and_a_clinical_action(role, action, sentence):
    assert roles.why_not(role, action) == sentence
    assert not roles.may(role, action)


def test_an_allowed_role_gets_no_sentence_and_an_undeclared_action_is_an_error():
    assert roles.why_not("provider", "place_orders") is None and roles.may("provider", "place_orders")
    with pytest.raises(KeyError):
        roles.allowed("confirm_alerts")


def test_the_templates_hold_no_role_names():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "templates"
    for path in root.rglob("*.html"):
        text = path.read_text()
        for phrase in ("Only providers", "Only nurses", "signed in as a", "Nurses and providers", 'role == "'):
            assert phrase not in text, f"{path.name}: {phrase!r}: ask app.roles"
