"""Patient facts the EHR screens and the standalone picker show: name, age, label, the open encounter."""

from __future__ import annotations

from datetime import UTC, date, datetime

from .. import state


def _today() -> date:
    return datetime.fromtimestamp(state.current().now(), UTC).date()


def patient_name(patient: dict | None) -> str:
    names = (patient or {}).get("name") or [{}]
    name = names[0]
    if name.get("text"):
        return name["text"]
    return " ".join([*name.get("given", []), name.get("family", "")]).strip() or "(no name)"


def age_years(patient: dict | None) -> int | None:
    born = (patient or {}).get("birthDate")
    try:
        b = date.fromisoformat(born) if born and len(born) == 10 else None
    except ValueError:
        b = None
    if b is None:
        return None
    today = _today()
    return today.year - b.year - ((today.month, today.day) < (b.month, b.day))


def patient_label(patient: dict | None) -> str:
    age = age_years(patient)
    sex = ((patient or {}).get("gender") or "unknown")[:1].upper()
    dead = " †" if (patient or {}).get("deceasedDateTime") or (patient or {}).get("deceasedBoolean") else ""
    return f"{patient_name(patient)} ({sex}, {age if age is not None else '?'} y){dead}"


def in_progress_encounter(patient_id: str) -> str | None:
    """The patient's in-progress Encounter (the latest loaded), if any: the EHR launch's encounter context."""
    encounters = state.current().store.in_compartment(patient_id, "Encounter")
    live = [e for e in encounters if e.get("status") == "in-progress"]
    return live[-1]["id"] if live else None
