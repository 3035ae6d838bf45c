"""The model card in plain words: what a nurse reads in a minute before the technical detail.

Every number comes from the card (model_artifacts/model_card.json), so a retrained model's page says what the
new model does; this module only words it. Rounded for people: "about 1 in 5", percentages without decimals.
No Flask.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PlainSummary:
    built_on: str
    catches: str | None
    right: str | None
    not_validated: str | None
    not_trust: str


def _pct(p: float) -> str:
    return f"{p * 100:.0f}%"


def _one_in(p: float) -> str:
    """0.187 -> "about 1 in 5"; 0.54 -> "about 1 in 2"."""
    if p <= 0:
        return "none"
    n = max(1, round(1 / p))
    return "almost all" if n == 1 and p > 0.9 else f"about 1 in {n}"


def _ours(metrics: list[dict]) -> dict | None:
    return next((m for m in metrics if m.get("name", "").startswith("Sepsis Sentinel")), metrics[0] if metrics else None)


def plain_summary(card: dict) -> PlainSummary:
    cohorts = card.get("data", {}).get("cohorts", [])
    trained = sum(h.get("patients", 0) for h in cohorts if "B" not in h.get("set", "")) or None
    ext = card.get("external_validation") or {}
    ours = _ours(ext.get("metrics") or [])
    tested = ours.get("patients") if ours else None
    source = card.get("data", {}).get("source", {}).get("name", "public data")
    built_on = (f"It learned from {trained:,} intensive-care stays at one hospital ({source}, public and "
                "de-identified)" if trained else f"It learned from {source}")
    built_on += (f", and was then tested once on {tested:,} stays at a second hospital it had never seen."
                 if tested else ". It has not been tested at a second hospital.")
    catches = right = None
    if ours and ours.get("sensitivity") is not None:
        lead = ours.get("median_lead_time_h")
        catches = (f"Of the septic patients at that second hospital, it alerted on {_pct(ours['sensitivity'])} "
                   f"({_one_in(ours['sensitivity'])}) before sepsis began"
                   + (f", typically {lead:g} hours before." if lead is not None else ".")
                   + " It misses most septic patients: it does not replace your own screening.")
    if ours and ours.get("precision") is not None:
        right = (f"Of the patients it alerted on, {_pct(ours['precision'])} ({_one_in(ours['precision'])}) turned "
                 "out to have sepsis.")
    limits = card.get("known_limits") or []
    not_validated = limits[0] if limits else None
    not_trust = ("Do not rely on it when the vital signs it needs are missing or old (it then shows no score), for "
                 "patients outside adult intensive care, or when what you see at the bedside disagrees: it cannot "
                 "see mental status, urine output, medications or cultures.")
    return PlainSummary(built_on, catches, right, not_validated, not_trust)
