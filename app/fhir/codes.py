"""LOINC code sets per model concept: what an Observation's codes mean. Codes only, never display text.

Each set holds the primary LOINC code and the alternatives real servers send (issue 4's table, plus
/work/shared/data/fhir-sample-patients/README.md "Data shapes": the SMART sandbox uses 55284-4 for BP,
8331-1 for temperature, 38483-4 for creatinine, 26464-8/26515-7/42719-5 on one ED panel; Synthea
dual-codes temperature 8310-5 + 8331-1 and SpO2 2708-6 + 59408-5, so any coding may match).
Specimen matters: venous blood-gas codes are left out of the arterial concepts (pH, PaCO2, SaO2).
"""

from __future__ import annotations

from dataclasses import dataclass

LOINC = "http://loinc.org"
# The LOINC OID appears where FHIR was converted from HL7 v2 or C-CDA (HL7 OID registry: 2.16.840.1.113883.6.1).
LOINC_SYSTEMS = frozenset({LOINC, "urn:oid:2.16.840.1.113883.6.1"})
CATEGORY_SYSTEM = "http://terminology.hl7.org/CodeSystem/observation-category"
BODY_WEIGHT = "29463-7"

CODES: dict[str, tuple[str, ...]] = {
    # Vital signs. FHIR R4 vital-signs profile codes first (hl7.org/fhir/R4/observation-vitalsigns.html).
    "heart_rate": ("8867-4", "8889-8", "76282-3"),  # 8889-8 by pulse oximetry; 76282-3 beat-to-beat by EKG
    "resp_rate": ("9279-1",),
    "temperature": ("8310-5", "8331-1", "8332-9", "8328-7", "8333-7"),  # body, oral, rectal, axillary, tympanic
    "spo2": ("59408-5", "2708-6", "20564-1"),  # 2708-6/20564-1 alone in a lab result: SaO2, see resolve()
    "sbp": ("8480-6", "76534-7", "76215-3", "8459-0", "8460-8", "8461-6"),  # + non-invasive, invasive, positions
    "dbp": ("8462-4", "76535-4", "76213-8", "8453-3", "8454-1", "8455-8"),
    "map": ("8478-0", "76536-2", "76214-6"),
    "etco2": ("19889-5",),
    "body_weight": (BODY_WEIGHT, "3141-9"),  # 3141-9: Body weight Measured
    # Blood gas (arterial unless said otherwise).
    "ph": ("2744-1", "11558-4"),  # arterial; blood (unspecified specimen)
    "paco2": ("2019-8",),
    "sao2": (),  # reached only through the 2708-6/20564-1 rule in resolve()
    "base_excess": ("1925-7", "11555-0"),  # arterial, blood (by calculation)
    "fio2": ("3150-0", "19994-3"),  # inhaled O2 concentration; ventilator setting
    # Bicarbonate: arterial, serum/plasma, blood, venous; and total CO2 (2028-9, 20565-8), which is what a
    # basic metabolic panel reports as "CO2" and clinicians read as bicarbonate (within ~1-2 mmol/L).
    "bicarbonate": ("1960-4", "1963-8", "1959-6", "14627-4", "2028-9", "20565-8"),
    # Chemistry: serum/plasma code first, then whole blood, then molar (SI) variants.
    "lactate": ("2524-7", "32693-4", "2518-9", "2519-7", "59032-3"),  # 59032-3 is mass/volume (mg/dL)
    "creatinine": ("2160-0", "38483-4", "14682-9"),  # 14682-9 is moles/volume (umol/L)
    "bilirubin_total": ("1975-2", "42719-5", "14631-6"),  # 14631-6 is moles/volume (umol/L)
    "bilirubin_direct": ("1968-7", "14629-0"),
    "glucose": ("2345-7", "2339-0", "14749-6", "15074-8", "41653-7"),  # 41653-7: capillary, glucometer
    "bun": ("3094-0", "6299-2"),
    "calcium": ("17861-6", "49765-1"),  # total calcium; ionized calcium (1994-3) is a different quantity
    "chloride": ("2075-0", "2069-3"),
    "potassium": ("2823-3", "6298-4"),
    "magnesium": ("19123-9", "21377-7"),
    "phosphate": ("2777-1", "14879-1"),
    "ast": ("1920-8", "30239-8"),
    "alkaline_phosphatase": ("6768-6",),
    "troponin_i": ("10839-9", "42757-5", "49563-0", "89579-7"),  # 89579-7: high-sensitivity, usually ng/L
    # Haematology and coagulation.
    "wbc": ("6690-2", "26464-8"),
    "platelets": ("777-3", "26515-7"),
    "hematocrit": ("4544-3", "20570-8"),
    "hemoglobin": ("718-7",),
    "ptt": ("3173-2", "14979-9"),
    "fibrinogen": ("3255-7",),
    "inr": ("6301-6", "34714-6", "46418-0"),
}

# Blood-pressure panels: the values are in `component` (FHIR R4 vital-signs profile, "Blood pressure panel").
BP_PANELS = frozenset({"85354-9", "55284-4", "35094-2"})
# Oxygen saturation codes that mean SpO2 on a vital sign but arterial SaO2 on a blood-gas lab result.
_OXYGEN_SATURATION = frozenset({"2708-6", "20564-1"})
_PULSE_OXIMETRY = "59408-5"

CODE_TO_CONCEPT: dict[str, str] = {code: concept for concept, codes in CODES.items() for code in codes}


@dataclass(frozen=True)
class Resolution:
    """What a CodeableConcept means for the model: a concept, a BP panel, a conflict, or nothing."""

    concept: str | None = None
    code: str | None = None  # the LOINC code that decided it (or the first LOINC code seen)
    display: str | None = None
    panel: bool = False
    conflict: tuple[str, ...] = ()  # LOINC codes that name different concepts

    @property
    def relevant(self) -> bool:
        return bool(self.concept or self.panel or self.conflict)


def loinc_codings(codeable: object) -> list[tuple[str, str | None]]:
    """(code, display) of every LOINC coding in a CodeableConcept; junk is skipped, never raised on."""
    if not isinstance(codeable, dict) or not isinstance(codeable.get("coding"), list):
        return []
    out = []
    for coding in codeable["coding"]:
        if not isinstance(coding, dict) or coding.get("system") not in LOINC_SYSTEMS:
            continue
        code = coding.get("code")
        if isinstance(code, str) and code.strip():
            display = coding.get("display")
            out.append((code.strip(), clean_display(display) if isinstance(display, str) else None))
    return out


def clean_display(text: str) -> str:
    """A display string fit to show: zero-width and control characters removed (README shape 4: U+200B)."""
    if text.isprintable():  # the common case, nothing to remove: the zero-width characters are not printable
        return text.strip()
    return "".join(ch for ch in text if ch.isprintable() and ch not in "\u200b\u200c\u200d\u2060\ufeff").strip()


def categories(obs: dict) -> frozenset[str]:
    """Observation.category codes (observation-category system, or no system)."""
    found = set()
    cats = obs.get("category")
    for cat in cats if isinstance(cats, list) else []:
        codings = cat.get("coding") if isinstance(cat, dict) else None
        for coding in codings if isinstance(codings, list) else []:
            if isinstance(coding, dict) and coding.get("system") in (CATEGORY_SYSTEM, None):
                code = coding.get("code")
                if isinstance(code, str):
                    found.add(code)
    return frozenset(found)


def resolve(codeable: object, cats: frozenset[str] = frozenset()) -> Resolution:
    """The concept named by any LOINC coding. Several codings naming one concept are fine (dual coding)."""
    codings = loinc_codings(codeable)
    if not codings:
        return Resolution()
    codes = [c for c, _ in codings]
    display = next((d for _, d in codings if d), None)
    if any(c in BP_PANELS for c in codes):
        return Resolution(code=next(c for c in codes if c in BP_PANELS), display=display, panel=True)
    found: dict[str, str] = {}
    for code in codes:
        concept = CODE_TO_CONCEPT.get(code)
        if concept:
            found.setdefault(concept, code)
    if "spo2" in found and found["spo2"] in _OXYGEN_SATURATION and _PULSE_OXIMETRY not in codes:
        # 2708-6 "Oxygen saturation in Arterial blood" is also the FHIR vital-signs code for SpO2; on a
        # laboratory (blood-gas) result without a vital-signs category it is a measured arterial SaO2.
        if "laboratory" in cats and "vital-signs" not in cats:
            found["sao2"] = found.pop("spo2")
    if not found:
        return Resolution(code=codes[0], display=display)
    if len(found) > 1:
        return Resolution(code=codes[0], display=display, conflict=tuple(sorted(found.values())))
    concept, code = next(iter(found.items()))
    return Resolution(concept=concept, code=code, display=display)
