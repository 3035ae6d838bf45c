"""The transparency page's plain-words summary is worded from the card: a retrained model's card changes it."""

import copy
import json
from pathlib import Path

from app.bedside.card_summary import plain_summary

CARD = json.loads((Path(__file__).resolve().parents[2] / "model_artifacts" / "model_card.json").read_text())


def ours(card):
    return next(m for m in card["external_validation"]["metrics"] if m["name"].startswith("Sepsis Sentinel"))


def test_the_summary_says_in_percentages_and_words_what_the_cards_numbers_say():
    s = plain_summary(CARD)
    m = ours(CARD)
    assert f"{m['sensitivity'] * 100:.0f}%" in s.catches and "before sepsis began" in s.catches
    assert f"{m['precision'] * 100:.0f}%" in s.right and "turned out to have sepsis" in s.right
    assert f"{m['patients']:,}" in s.built_on and "second hospital" in s.built_on
    assert s.not_validated == CARD["known_limits"][0]


def test_a_retrained_card_changes_the_words_not_the_template():
    card = copy.deepcopy(CARD)
    ours(card).update(sensitivity=0.5, precision=0.25)
    s = plain_summary(card)
    assert "50% (about 1 in 2)" in s.catches and "25% (about 1 in 4)" in s.right
    card.pop("external_validation")
    assert "has not been tested at a second hospital" in plain_summary(card).built_on


def test_the_templates_hold_no_model_numbers():
    page = (Path(__file__).resolve().parents[2] / "templates" / "transparency" / "page.html").read_text()
    m = ours(CARD)
    for number in (f"{m['sensitivity'] * 100:.1f}", f"{m['precision'] * 100:.1f}", f"{m['patients']:,}"):
        assert number not in page
