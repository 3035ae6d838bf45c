"""The sepsis treatment bundle after a confirmed alert: each element done, due or overdue against its clock.

Elements follow the Surviving Sepsis Campaign hour-1 bundle (Levy, Evans, Rhodes 2018) with SEP-1's 3 h and
6 h deadlines: measure lactate (3 h), blood cultures before antibiotics (3 h), broad-spectrum antibiotics
(3 h), 30 mL/kg crystalloid for hypotension or lactate >= 4 mmol/L (3 h), vasopressors for hypotension that
persists after fluids (6 h), and a repeat lactate, drawn after time zero, when the first was > 2 mmol/L
(6 h). Time zero is the
provider's confirmation. Evidence comes from FHIR; what counts (SEP-1 look-back windows, approximately):
a lactate from 6 h before time zero, a blood culture from 48 h before, medications from 24 h before.

Lactates: the element shows the newest one, with the trend from the first in the window ("7.87 mmol/L at
17:56, up from 6.65 at 12:56"); the first one in the window is the initial lactate, and any later one counts
as its repeat (SEP-1: a repeat after an initial lactate > 2 mmol/L). Fluids are indicated by the highest.

Code sets (codes only, never display text; a site adds its own product codes, e.g. RxNorm SCDs):
  lactate         the model's lactate concept (LOINC 2524-7, 32693-4, 2518-9, 2519-7, 59032-3)
  blood culture   LOINC 600-7 "Bacteria identified in Blood by Culture" (Observation or ServiceRequest)
  antibiotics     RxNorm ingredients: piperacillin 8339, cefepime 20481, ceftazidime 2191, ceftriaxone 2193,
                  meropenem 29561, imipenem 5690, aztreonam 1272, vancomycin 11124, linezolid 190376,
                  daptomycin 22299
  crystalloid     RxNorm sodium chloride 9863 (lactated Ringer's is a multi-ingredient product: add the
                  site's product codes)
  vasopressors    RxNorm norepinephrine 7512, epinephrine 3992, vasopressin 11149, phenylephrine 8163,
                  dopamine 3628
A medication counts as given from a MedicationAdministration (completed or in-progress), as ordered from a
MedicationRequest (active, completed or draft). Pure functions: no FHIR client, no database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from app.model import Measurement

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
LOINC = "http://loinc.org"
BLOOD_CULTURE_CODES = frozenset({"600-7"})
LACTATE_ORDER_CODE = ("2524-7", "Lactate [Moles/volume] in Serum or Plasma")
BLOOD_CULTURE_ORDER_CODE = ("600-7", "Bacteria identified in Blood by Culture")
ANTIBIOTICS: dict[str, str] = {
    "8339": "piperacillin", "20481": "cefepime", "2191": "ceftazidime", "2193": "ceftriaxone",
    "29561": "meropenem", "5690": "imipenem", "1272": "aztreonam", "11124": "vancomycin", "190376": "linezolid",
    "22299": "daptomycin",
}
CRYSTALLOIDS: dict[str, str] = {"9863": "sodium chloride"}
VASOPRESSORS: dict[str, str] = {"7512": "norepinephrine", "3992": "epinephrine", "11149": "vasopressin",
                                "8163": "phenylephrine", "3628": "dopamine"}
MEDICATION_KINDS = {"antibiotic": ANTIBIOTICS, "crystalloid": CRYSTALLOIDS, "vasopressor": VASOPRESSORS}

FLUID_ML_PER_KG = 30
LACTATE_HIGH = 2.0  # mmol/L: repeat the lactate
LACTATE_SHOCK = 4.0  # mmol/L: give fluids
SBP_LOW, MAP_LOW = 90.0, 65.0
LACTATE_LOOKBACK = timedelta(hours=6)
CULTURE_LOOKBACK = timedelta(hours=48)
MEDICATION_LOOKBACK = timedelta(hours=24)
THREE_HOURS, SIX_HOURS = timedelta(hours=3), timedelta(hours=6)

DONE, DUE, OVERDUE, NOT_INDICATED, UNKNOWN = "done", "due", "overdue", "not indicated", "unknown"


def medication_kind(codes: list[tuple[str | None, str | None]]) -> tuple[str, str, str] | None:
    """(kind, code, ingredient) for the first RxNorm coding in one of the code sets; None otherwise."""
    for system, code in codes:
        if system != RXNORM or not code:
            continue
        for kind, table in MEDICATION_KINDS.items():
            if code in table:
                return kind, code, table[code]
    return None


@dataclass(frozen=True)
class Given:
    """A medication given (MedicationAdministration) or ordered (MedicationRequest)."""

    kind: str  # antibiotic | crystalloid | vasopressor
    name: str
    start: datetime
    end: datetime | None
    administered: bool
    source: str  # "MedicationAdministration/12"


@dataclass(frozen=True)
class Culture:
    time: datetime
    collected: bool  # an Observation (a result) rather than only an order
    source: str


@dataclass(frozen=True)
class Facts:
    """What FHIR says happened. `*_known` is False when the EHR could not be read for that kind of data."""

    lactates: tuple[Measurement, ...] = ()
    pressures: tuple[Measurement, ...] = ()  # sbp and map
    weight_kg: float | None = None
    weight_time: datetime | None = None
    cultures: tuple[Culture, ...] = ()
    medications: tuple[Given, ...] = ()
    cultures_known: bool = True
    medications_known: bool = True


@dataclass(frozen=True)
class Element:
    key: str  # lactate | blood_cultures | antibiotics | fluids | vasopressors | repeat_lactate
    label: str
    hours: int  # the clock it runs against: 3 or 6
    deadline: datetime
    status: str  # done | due | overdue | not indicated | unknown
    evidence: str  # what FHIR shows ("Lactate 4.2 mmol/L"), or why it is not indicated
    at: datetime | None = None  # when the evidence happened
    note: str | None = None  # e.g. "after the first antibiotic dose"
    indication: str | None = None  # why it applies and, for fluids, the volume
    orderable: bool = False  # a proposal can be sent to the EHR for it now
    volume_ml: int | None = None  # fluids: 30 mL/kg of the latest weight
    trend: str | None = None  # lactate: "up from 6.65", since the first lactate in the window
    since: datetime | None = None  # when that first value was measured


@dataclass(frozen=True)
class BundleStatus:
    time_zero: datetime
    three_hour: datetime
    six_hour: datetime
    elements: tuple[Element, ...]
    weight_kg: float | None
    weight_time: datetime | None

    def element(self, key: str) -> Element | None:
        return next((e for e in self.elements if e.key == key), None)


def _hypotensive(m: Measurement) -> bool:
    return (m.concept == "sbp" and m.value < SBP_LOW) or (m.concept == "map" and m.value < MAP_LOW)


def _clock_status(done: bool, deadline: datetime, now: datetime) -> str:
    if done:
        return DONE
    return DUE if now < deadline else OVERDUE


def _fmt(value: float) -> str:
    return f"{value:.3g}"


def lactate_trend(lactates: list[Measurement]) -> str | None:
    """How the newest lactate moved since the first in the window: "up from 6.65" (None with one lactate).
    The element's `since` is the first one's time."""
    if len(lactates) < 2:
        return None
    first, newest = lactates[0], lactates[-1]
    change = "up" if newest.value > first.value else "down" if newest.value < first.value else "unchanged"
    return f"{change} from {_fmt(first.value)}"


@dataclass(frozen=True)
class _Window:
    """What the elements are judged on: the two clocks, and the evidence inside each look-back, oldest first."""

    time_zero: datetime
    now: datetime
    three: datetime
    six: datetime
    facts: Facts
    lactates: list[Measurement]
    given: dict[str, list[Given]]  # administered, by kind
    ordered: dict[str, list[Given]]  # ordered and not (yet) administered, by kind

    @property
    def first_lactate(self) -> Measurement | None:
        return self.lactates[0] if self.lactates else None


def _window(time_zero: datetime, now: datetime, facts: Facts) -> _Window:
    lactates = sorted((m for m in facts.lactates if time_zero - LACTATE_LOOKBACK <= m.time <= now),
                      key=lambda m: m.time)
    meds = [g for g in facts.medications if time_zero - MEDICATION_LOOKBACK <= g.start <= now]
    given = {kind: sorted((g for g in meds if g.kind == kind and g.administered), key=lambda g: g.start)
             for kind in MEDICATION_KINDS}
    ordered = {kind: sorted((g for g in meds if g.kind == kind and not g.administered), key=lambda g: g.start)
               for kind in MEDICATION_KINDS}
    return _Window(time_zero, now, time_zero + THREE_HOURS, time_zero + SIX_HOURS, facts, lactates, given, ordered)


def evaluate(time_zero: datetime, now: datetime, facts: Facts) -> BundleStatus:
    """Each element's status at `now`, from what FHIR shows since its look-back before time zero."""
    w = _window(time_zero, now, facts)
    elements = (
        _lactate(w),
        _blood_cultures(w),
        _medication_element(w, "antibiotics", "Broad-spectrum antibiotics", "antibiotic", 3, w.three),
        _fluids(w),
        _vasopressors(w),
        _repeat_lactate(w),
    )
    return BundleStatus(time_zero, w.three, w.six, elements, facts.weight_kg, facts.weight_time)


def _lactate(w: _Window) -> Element:
    """Measure lactate: the newest, with its trend since the first in the window."""
    first = w.first_lactate
    if first is None:
        return Element("lactate", "Measure lactate", 3, w.three, _clock_status(False, w.three, w.now),
                       "No lactate yet.", orderable=True)
    newest = w.lactates[-1]
    return Element("lactate", "Measure lactate", 3, w.three, DONE, f"Lactate {_fmt(newest.value)} mmol/L",
                   at=newest.time, trend=lactate_trend(w.lactates),
                   since=first.time if len(w.lactates) > 1 else None)


def _blood_cultures(w: _Window) -> Element:
    """Blood cultures, collected before the first antibiotic dose (noted when after)."""
    cultures = sorted((c for c in w.facts.cultures if w.time_zero - CULTURE_LOOKBACK <= c.time <= w.now),
                      key=lambda c: c.time)
    collected = [c for c in cultures if c.collected]
    first_abx = w.given["antibiotic"][0] if w.given["antibiotic"] else None
    label = "Blood cultures before antibiotics"
    if collected:
        late = first_abx is not None and first_abx.start < collected[0].time
        return Element("blood_cultures", label, 3, w.three, DONE, "Blood culture collected",
                       at=collected[0].time, note="after the first antibiotic dose" if late else None)
    if not w.facts.cultures_known:
        return Element("blood_cultures", label, 3, w.three, UNKNOWN,
                       "Blood cultures could not be read from the EHR; check there.", orderable=True)
    if cultures:
        return Element("blood_cultures", label, 3, w.three, _clock_status(False, w.three, w.now),
                       "Blood culture ordered, not yet collected", at=cultures[0].time)
    return Element("blood_cultures", label, 3, w.three, _clock_status(False, w.three, w.now),
                   "No blood culture yet. Draw before the first antibiotic dose.", orderable=True)


def _fluids(w: _Window) -> Element:
    """30 mL/kg crystalloid, indicated by hypotension or a lactate of 4 mmol/L or more (the highest is named)."""
    facts = w.facts
    hypotension = [m for m in facts.pressures
                   if w.time_zero - LACTATE_LOOKBACK <= m.time <= w.now and _hypotensive(m)]
    high_lactate = sorted((m for m in w.lactates if m.value >= LACTATE_SHOCK), key=lambda m: -m.value)
    volume = round(FLUID_ML_PER_KG * facts.weight_kg) if facts.weight_kg else None
    label = f"{FLUID_ML_PER_KG} mL/kg crystalloid"
    if not (hypotension or high_lactate):
        return Element("fluids", label, 3, w.three, NOT_INDICATED,
                       "Not indicated: no hypotension and no lactate of 4 mmol/L or more.", volume_ml=volume)
    why = "hypotension" if hypotension else f"lactate {_fmt(high_lactate[0].value)} mmol/L"
    dose = (f"{FLUID_ML_PER_KG} mL/kg x {_fmt(facts.weight_kg)} kg = {volume} mL" if volume else
            "Weight not recorded, so the volume cannot be computed: weigh the patient or estimate the weight "
            "in the order")
    fluids = _medication_element(w, "fluids", label, "crystalloid", 3, w.three)
    return Element(fluids.key, fluids.label, 3, w.three, fluids.status, fluids.evidence, at=fluids.at,
                   indication=f"Indicated ({why}). {dose}.", orderable=fluids.orderable, volume_ml=volume)


def _vasopressors(w: _Window) -> Element:
    """Vasopressors, indicated by hypotension that persists after the fluid bolus."""
    fluids_given = w.given["crystalloid"]
    after = (fluids_given[0].end or fluids_given[0].start) if fluids_given else None
    persistent = [m for m in w.facts.pressures
                  if after is not None and after <= m.time <= w.now and _hypotensive(m)]
    pressors = _medication_element(w, "vasopressors", "Vasopressors for persistent hypotension", "vasopressor", 6,
                                   w.six)
    if persistent:
        return Element(pressors.key, pressors.label, 6, w.six, pressors.status, pressors.evidence, at=pressors.at,
                       indication="Indicated: hypotension persists after the fluid bolus.",
                       orderable=pressors.orderable)
    if pressors.status in (DONE, UNKNOWN):
        return pressors
    return Element(pressors.key, pressors.label, 6, w.six, NOT_INDICATED,
                   "Not indicated: no hypotension recorded after the fluid bolus." if fluids_given else
                   "Not indicated yet: applies if hypotension persists after the fluid bolus.")


def _repeat_lactate(w: _Window) -> Element:
    """A repeat lactate when the first was > 2 mmol/L: any later lactate is the repeat (the newest is shown)."""
    first = w.first_lactate
    if first is None:
        return Element("repeat_lactate", "Repeat lactate", 6, w.six, NOT_INDICATED, "Depends on the first lactate.")
    if not first.value > LACTATE_HIGH:  # "not >": a value that compares false (NaN) is not needed
        return Element("repeat_lactate", "Repeat lactate", 6, w.six, NOT_INDICATED,
                       f"Not needed: the first lactate was {_fmt(first.value)} mmol/L.")
    later = [m for m in w.lactates if m.time > first.time]
    if not later:
        return Element("repeat_lactate", "Repeat lactate", 6, w.six, _clock_status(False, w.six, w.now),
                       f"The first lactate was {_fmt(first.value)} mmol/L: repeat it.", orderable=True)
    newest = later[-1]
    rising = newest.value > first.value
    return Element("repeat_lactate", "Repeat lactate", 6, w.six, DONE, f"Repeat lactate {_fmt(newest.value)} mmol/L",
                   at=newest.time, trend=lactate_trend(w.lactates), since=first.time,
                   note="rising: consider another after resuscitation" if rising else None)


def _medication_element(w: _Window, key: str, label: str, kind: str, hours: int, deadline: datetime) -> Element:
    """Done once given; else unknown when medications could not be read; else due or overdue (ordered or not)."""
    if w.given[kind]:
        g = w.given[kind][0]
        return Element(key, label, hours, deadline, DONE, f"{g.name.capitalize()} given", at=g.start)
    if not w.facts.medications_known:
        return Element(key, label, hours, deadline, UNKNOWN, "Medications could not be read from the EHR; check there.",
                       orderable=True)
    status = _clock_status(False, deadline, w.now)
    if w.ordered[kind]:
        g = w.ordered[kind][0]
        return Element(key, label, hours, deadline, status, f"{g.name.capitalize()} ordered, not yet given",
                       at=g.start)
    return Element(key, label, hours, deadline, status, "Not given yet.", orderable=True)
