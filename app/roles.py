"""Who may do what, stated once: the app's roles, the actions each may take, and the sentence that says why not.

The web layer's 403 page, the disabled controls' explanations and the alerts package's DECIDERS / ORDERERS /
SCREENERS all read this table, so a refusal reads the same everywhere: the role in the singular ("a nurse"),
the action in clinical words ("confirm, dismiss or pause a sepsis alert"). No Flask, no database.
"""

from __future__ import annotations

from dataclasses import dataclass

PROVIDER, NURSE, DEPLOYMENT, READ_ONLY = "provider", "nurse", "deployment", "read-only"
ROLES = (PROVIDER, NURSE, DEPLOYMENT, READ_ONLY)

# The role as a person is named in a sentence ("you are signed in as a nurse"), and as a badge.
SIGNED_IN_AS = {PROVIDER: "a provider", NURSE: "a nurse", DEPLOYMENT: "a member of the deployment team",
                READ_ONLY: "a read-only user"}
BADGE = {PROVIDER: "provider", NURSE: "nurse", DEPLOYMENT: "deployment team", READ_ONLY: "read-only"}


@dataclass(frozen=True)
class Action:
    """One thing a role may do: who may, the words for it, and what to do instead (optional)."""

    allowed: frozenset[str]
    words: str  # "confirm, dismiss or pause a sepsis alert": follows "Only a provider can"
    instead: str | None = None  # "Tell the provider if you are concerned."

    @property
    def who(self) -> str:
        names = [SIGNED_IN_AS[r] for r in ROLES if r in self.allowed]
        return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


ACTIONS: dict[str, Action] = {
    "decide_on_alerts": Action(frozenset({PROVIDER}), "confirm, dismiss or pause a sepsis alert",
                               "Tell the provider if you are concerned."),
    "withdraw_confirmation": Action(frozenset({PROVIDER}), "withdraw a sepsis confirmation"),
    "place_orders": Action(frozenset({PROVIDER}), "propose bundle orders to the EHR",
                           "The orders placed are shown here."),
    "submit_the_nurse_screening": Action(frozenset({NURSE, PROVIDER}), "submit the nurse sepsis screening"),
    "read_feedback": Action(frozenset({DEPLOYMENT}), "read the feedback inbox"),
    "reply_to_feedback": Action(frozenset({DEPLOYMENT}), "reply to feedback"),
    "change_feedback_status": Action(frozenset({DEPLOYMENT}), "change the status of feedback"),
    "read_adoption_metrics": Action(frozenset({DEPLOYMENT}), "see the adoption metrics"),
    "read_screening_cycles": Action(frozenset({DEPLOYMENT}), "see the background screening's cycles"),
    "tune_the_site_threshold": Action(frozenset({DEPLOYMENT}), "change this site's alert threshold"),
}


def allowed(action: str) -> frozenset[str]:
    """The roles that may take `action` (KeyError for an action nobody declared: a typo must not open a door)."""
    return ACTIONS[action].allowed


def may(role: str, action: str) -> bool:
    return role in ACTIONS[action].allowed


def signed_in_as(role: str) -> str:
    return SIGNED_IN_AS.get(role, SIGNED_IN_AS[READ_ONLY])


def why_not(role: str, action: str) -> str | None:
    """The one sentence a refusal shows, or None when `role` may take `action`.
    "Only a provider can confirm, dismiss or pause a sepsis alert; you are signed in as a nurse."""
    act = ACTIONS[action]
    if role in act.allowed:
        return None
    sentence = f"Only {act.who} can {act.words}; you are signed in as {signed_in_as(role)}."
    return f"{sentence} {act.instead}" if act.instead else sentence
