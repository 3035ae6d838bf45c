"""Units to each concept's canonical UCUM unit (`app.model.measurement.CONCEPTS`), or a reason they cannot be.

Spellings are compared after folding case, spaces and the micro sign, so "mg/dl", "mmHg", "K/uL" (README shape 3:
non-UCUM "K/uL" sent as a UCUM code) and "µmol/L" are recognised. Molar masses for mass <-> substance
conversion are the standard ones used by clinical laboratories (e.g. the SI conversion tables of AMA Manual of
Style, 11th ed., section 18.5): lactate 90.08, creatinine 113.12, bilirubin 584.66, glucose 180.16 g/mol; urea
nitrogen 28.014 g/mol per mol urea; calcium 40.078, magnesium 24.305, phosphorus 30.974 g/mol.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from app.model.measurement import CONCEPTS

Convert = Callable[[float], float]


def _same(x: float) -> float:
    return x


def _times(k: float) -> Convert:
    return lambda x: x * k


def _fold(unit: str) -> str:
    return unit.strip().replace("µ", "u").replace("μ", "u").replace(" ", "").casefold()


_MMHG = {"mm[Hg]": _same, "mmHg": _same, "kPa": _times(7.50062)}  # 1 kPa = 7.50062 mmHg
_PER_MIN = {"/min": _same, "{beats}/min": _same, "{beat}/min": _same, "beats/min": _same, "bpm": _same,
            "{breaths}/min": _same, "breaths/min": _same, "{breath}/min": _same, "1/min": _same}
_PERCENT_OR_FRACTION = {"%": _same, "1": _times(100.0), "{fraction}": _times(100.0)}
_PER_UL_THOUSANDS = {
    # 10*3/uL == 10*9/L == K/uL: the same count; "/uL" and "/mm3" are single cells per microlitre.
    "10*3/uL": _same, "10^3/uL": _same, "x10^3/uL": _same, "x10*3/uL": _same, "10E3/uL": _same,
    "x10E3/uL": _same, "K/uL": _same, "thou/uL": _same, "10*3/mm3": _same, "/nL": _same,
    "10*9/L": _same, "10^9/L": _same, "x10^9/L": _same, "x10*9/L": _same, "10E9/L": _same, "x10E9/L": _same,
    "G/L": _same, "/uL": _times(1e-3), "/mm3": _times(1e-3),
}
_MMOL_MONOVALENT = {"mmol/L": _same, "meq/L": _same, "m[eq]/L": _same}  # mEq = mmol for a monovalent ion
_UL = {"U/L": _same, "IU/L": _same, "[IU]/L": _same, "u/L": _same, "ukat/L": _times(60.0)}  # 1 ukat/L = 60 U/L


def _mg_dl_from_molar(molar_mass: float) -> dict[str, Convert]:
    # mmol/L * g/mol = mg/L; / 10 = mg/dL. umol/L is a thousandth of that.
    return {"mg/dL": _same, "mmol/L": _times(molar_mass / 10), "umol/L": _times(molar_mass / 10_000),
            "mg/L": _times(0.1)}


# Per concept: accepted spellings -> converter to the canonical unit. Concepts whose value is a pure number
# (pH, INR) may also come with no unit at all; every other concept needs one.
UNITS: dict[str, dict[str, Convert]] = {
    "temperature": {"Cel": _same, "°C": _same, "degC": _same, "C": _same,
                    "[degF]": lambda f: (f - 32) * 5 / 9, "°F": lambda f: (f - 32) * 5 / 9,
                    "degF": lambda f: (f - 32) * 5 / 9, "F": lambda f: (f - 32) * 5 / 9,
                    "K": lambda k: k - 273.15},
    "heart_rate": _PER_MIN,
    "resp_rate": _PER_MIN,
    "sbp": _MMHG, "dbp": _MMHG, "map": _MMHG, "etco2": _MMHG, "paco2": _MMHG,
    "spo2": _PERCENT_OR_FRACTION,
    "sao2": _PERCENT_OR_FRACTION,
    "hematocrit": {**_PERCENT_OR_FRACTION, "L/L": _times(100.0)},
    "fio2": {"1": _same, "{fraction}": _same, "%": _times(0.01)},
    "wbc": _PER_UL_THOUSANDS,
    "platelets": _PER_UL_THOUSANDS,
    "lactate": {"mmol/L": _same, "meq/L": _same, "m[eq]/L": _same,  # lactate is monovalent
                "mg/dL": _times(10 / 90.08)},
    "creatinine": _mg_dl_from_molar(113.12),
    "bilirubin_total": _mg_dl_from_molar(584.66),
    "bilirubin_direct": _mg_dl_from_molar(584.66),
    "glucose": _mg_dl_from_molar(180.16),
    "bun": {"mg/dL": _same, "mmol/L": _times(28.014 / 10)},  # mmol/L of urea -> mg/dL of urea nitrogen
    "calcium": {"mg/dL": _same, "mmol/L": _times(40.078 / 10), "meq/L": _times(40.078 / 20)},  # divalent
    "magnesium": {"mg/dL": _same, "mmol/L": _times(24.305 / 10), "meq/L": _times(24.305 / 20)},  # divalent
    "phosphate": {"mg/dL": _same, "mmol/L": _times(30.974 / 10)},  # reported as phosphorus
    "chloride": _MMOL_MONOVALENT,
    "potassium": _MMOL_MONOVALENT,
    "bicarbonate": _MMOL_MONOVALENT,
    "base_excess": _MMOL_MONOVALENT,
    "ph": {"[pH]": _same, "pH": _same, "1": _same},
    "ast": _UL,
    "alkaline_phosphatase": _UL,
    "troponin_i": {"ng/mL": _same, "ug/L": _same, "ng/L": _times(1e-3), "pg/mL": _times(1e-3)},
    "hemoglobin": {"g/dL": _same, "g/L": _times(0.1),
                   "mmol/L": _times(1.6114)},  # Hb(Fe) monomer, 16 114 g/mol, as reported in the Netherlands
    "ptt": {"s": _same, "sec": _same, "seconds": _same},
    "fibrinogen": {"mg/dL": _same, "g/L": _times(100.0)},
    "inr": {"{INR}": _same, "INR": _same, "{ratio}": _same, "1": _same},
    "body_weight": {"kg": _same, "g": _times(1e-3), "[lb_av]": _times(0.45359237), "lb": _times(0.45359237),
                    "lbs": _times(0.45359237), "[oz_av]": _times(0.028349523125)},
}
UNITLESS_OK = frozenset({"ph", "inr"})

_FOLDED: dict[str, dict[str, tuple[str, Convert]]] = {
    concept: {_fold(spelling): (spelling, fn) for spelling, fn in table.items()} for concept, table in UNITS.items()
}


@dataclass(frozen=True)
class Converted:
    """`value` in the concept's canonical unit, or `problem` ("unit missing", "unit not recognised", ...)."""

    value: float | None
    problem: str | None = None
    detail: str = ""
    converted: bool = False  # True when the number changed (shown next to the recorded value)


def _lookup(concept: str, unit: object) -> tuple[str, Convert] | None:
    if not isinstance(unit, str) or not unit.strip():
        return None
    return _FOLDED.get(concept, {}).get(_fold(unit))


def to_canonical(concept: str, value: float, code: object, unit: object) -> Converted:
    """Convert a Quantity's value (UCUM `code` preferred, human `unit` otherwise) to the canonical unit."""
    has_code = isinstance(code, str) and bool(code.strip())
    has_unit = isinstance(unit, str) and bool(unit.strip())
    if not has_code and not has_unit:
        if concept in UNITLESS_OK:
            return Converted(value)
        return Converted(None, "unit missing", f"{CONCEPTS[concept].label} {value:.4g} with no unit")
    by_code, by_unit = _lookup(concept, code), _lookup(concept, unit)
    if by_code and by_unit and by_code[1](100.0) != by_unit[1](100.0):
        return Converted(None, "unit unclear", f"unit code '{str(code)[:20]}' but unit text '{str(unit)[:20]}'")
    found = by_code or by_unit
    if not found:
        shown = str(code if has_code else unit)[:20]
        return Converted(None, "unit not recognised", f"{CONCEPTS[concept].label} in '{shown}'")
    spelling, fn = found
    try:
        out = float(fn(value))
    except (OverflowError, ValueError):
        return Converted(None, "value not a number", f"{value!r}"[:30])
    return Converted(out, converted=fn(100.0) != 100.0)


def display_unit(concept: str) -> str:
    """How the canonical unit reads on screen (°C, mmHg, ×10³/µL...)."""
    c = CONCEPTS[concept]
    return c.display_unit if c.display_unit is not None else c.unit
