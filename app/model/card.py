"""The model card: what the model is, what it was trained on, how well it does, and where it must not be trusted.

`model_card.json` is read by `load_model` (sha256, threshold, population means), by the transparency
page and by the site-tuning page; `app.model.card_markdown` turns it into the human-readable `model_card.md`.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence

from app.model.baselines import CLOCK
from app.model.dataset import StaySummary
from app.model.features import FEATURES, LAB_WINDOW, VITAL_WINDOWS
from app.model.measurement import CONCEPTS, MODEL_CONCEPTS
from app.model.scoring import ABSTAIN_RULE, MAX_AGE_H, REQUIRED, STAR_RULE

CARD_SCHEMA = 1

SOURCE = {
    "name": "PhysioNet/Computing in Cardiology Challenge 2019: Early Prediction of Sepsis from Clinical Data",
    "version": "1.0.0",
    "url": "https://physionet.org/content/challenge-2019/1.0.0/",
    "licence": "CC BY 4.0 (https://physionet.org/content/challenge-2019/view-license/1.0.0/)",
    "citation": [
        "Reyna MA, Josef CS, Jeter R, Shashikumar SP, Westover MB, Nemati S, Clifford GD, Sharma A. Early Prediction "
        "of Sepsis From Clinical Data: The PhysioNet/Computing in Cardiology Challenge 2019. Crit Care Med "
        "2020;48(2):210-217. doi:10.1097/CCM.0000000000004145",
        "Reyna M, Josef C, Jeter R, Shashikumar S, Moody B, Westover MB, Sharma A, Nemati S, Clifford GD. Early "
        "Prediction of Sepsis from Clinical Data: The PhysioNet/Computing in Cardiology Challenge 2019 (version "
        "1.0.0). PhysioNet (2019). doi:10.13026/v64v-d857",
        "Goldberger AL, Amaral LAN, Glass L, et al. PhysioBank, PhysioToolkit, and PhysioNet. Circulation "
        "2000;101(23):e215-e220.",
    ],
    "changes": "No change to the data; values outside the plausible ranges of the concept table are dropped.",
}

LABEL = (
    "SepsisLabel as released by the challenge: Sepsis-3 criteria, i.e. a clinical suspicion of infection (IV "
    "antibiotics and blood cultures ordered within a set time of each other) together with an acute rise of the "
    "SOFA score by 2 or more; onset t_sepsis is the earlier of the suspicion time and the SOFA-rise time. The "
    "challenge marks every hour from t_sepsis - 6 h onward as 1, so a positive hour means 'sepsis within 6 "
    "hours or already present'. The model predicts P(SepsisLabel = 1) for the hour ending at the time of "
    "scoring. For metrics, t_sepsis = first labelled hour + 6."
)

KNOWN_LIMITS = [
    "Derived in intensive care units only (hospital A's MICU/SICU stays, adults aged 18-89); not validated on "
    "ward or emergency-department patients, nor on children.",
    "No Glasgow Coma Scale or mental status, no urine output, no medications (vasopressors, antibiotics), "
    "no cultures: signs of organ dysfunction and treatment the clinician sees are invisible to the model.",
    "The label depends on a recorded suspicion of infection (cultures and antibiotics ordered); patients "
    "whose infection was never suspected or documented count as non-septic.",
    "Hospital A never recorded end-tidal CO2, so the model cannot use it even where it is measured.",
    "Trained on hourly ICU charting: vital signs recorded less often than hourly are outside the data it "
    "learned from; the abstain rule only requires vitals within the last "
    f"{MAX_AGE_H:g} hours.",
    "Probabilities are calibrated to hospital A's case mix (8.8% of stays septic); at a hospital with a "
    "different prevalence they shift, and so do precision and alert burden at a fixed threshold: sites "
    "should check the operating-point table and tune the threshold.",
    "Hours since ICU admission is an input (ICULOS in training; live, the start of the Encounter's current "
    "location period). When the EHR does not say when the patient came to the ICU, that input is missing and "
    "the model scores without it, somewhat less well. Hospital admission time and unit of care are not inputs: "
    "they encode each hospital's pathway and made transfer to hospital B worse.",
    "Hours since each input was last measured are inputs and reflect local charting practice; counts of "
    "measurements and orders are not (they act as a hidden ICU clock and, through culture orders, partly encode "
    "the label). Expect lower discrimination at a new site than on hospital A: see the site-adapted model.",
    "Every feature reads only the last 72 hours before the time of scoring, the history the live path reads "
    "from the EHR (SENTINEL_OBSERVATION_LOOKBACK_HOURS), so training and live scoring see the same inputs; a "
    "lab drawn longer ago counts as not measured in both. Age and sex are read once per stay.",
]


def describe_cohort(name: str, role: str, stays: Sequence[StaySummary], coverage: dict[str, float] | None = None) -> dict:
    """Counts, prevalence, ages, sexes and units of care of one set of stays; how often each input is measured."""
    ages = [s.age for s in stays if s.age is not None]
    sexes = [s.sex_male for s in stays if s.sex_male is not None]
    septic = sum(s.septic for s in stays)
    quartiles = statistics.quantiles(ages, n=4) if len(ages) > 1 else [None, None, None]
    units = Counter(s.unit or "not recorded" for s in stays)
    dropped: Counter[str] = Counter()
    for s in stays:
        dropped.update(dict(s.implausible))
    return {
        "set": name,
        "role": role,
        "patients": len(stays),
        "patient_hours": sum(s.rows for s in stays),
        "septic_patients": septic,
        "septic_fraction": round(septic / len(stays), 4) if stays else None,
        "age_years": {
            "median": round(statistics.median(ages), 1) if ages else None,
            "iqr": [round(quartiles[0], 1), round(quartiles[2], 1)] if ages and len(ages) > 1 else None,
            "min": round(min(ages), 1) if ages else None,
            "max": round(max(ages), 1) if ages else None,
        },
        "male_fraction": round(sum(sexes) / len(sexes), 4) if sexes else None,
        "units_of_care": dict(sorted(units.items())),
        "measurements_per_100_patient_hours": coverage or {},
        "implausible_values_dropped": dict(sorted(dropped.items())),
    }


def describe_features() -> dict:
    inputs = [
        {"concept": k, "label": CONCEPTS[k].label, "unit": CONCEPTS[k].unit, "kind": CONCEPTS[k].kind,
         "physionet_column": CONCEPTS[k].physionet}
        for k in MODEL_CONCEPTS
    ]
    return {
        "inputs": inputs,
        "not_inputs": ["HospAdmTime", "Unit1", "Unit2", "counts of measurements or lab orders"],
        "per_vital_sign": "last value, hours since it, change from the previous value, min/max/mean over "
        f"{VITAL_WINDOWS[0]}, mean over {VITAL_WINDOWS[1]}, last minus the {VITAL_WINDOWS[0]} mean (the pipeline "
        f"also computes the patient's own baseline, min/max over {LAB_WINDOW} and last minus the {LAB_WINDOW} "
        f"mean, the 6 h trend (mean of the last 6 h minus that of the 6 h before) and the {VITAL_WINDOWS[0]} "
        "standard deviation; the shipped model reads none of them: no gain on held-out A)",
        "per_lab": f"last value, hours since it, change from the previous value, min/max over {LAB_WINDOW}, "
        f"last minus the {LAB_WINDOW} min and max",
        "per_demographic": "the value (age in years, male sex 0/1)",
        "derived": "shock index (HR/SBP), pulse pressure, SpO2/FiO2, BUN/creatinine, hours since any lab, "
        f"partial SOFA (platelets, bilirubin, creatinine, MAP < 70) now and its rise over the best values of the "
        f"last {LAB_WINDOW} (24h for MAP), hours since ICU admission (ICULOS in training, the Encounter live); "
        "computed but not read by the shipped model (no gain on held-out A): shock index on the 6 h means, "
        "HR/MAP, SIRS criteria and qSOFA's two measurable criteria met now",
        "windows": f"all windows end at the time of scoring and read only the last {LAB_WINDOW} (the live "
        "lookback); only measurements at or before the time of scoring are used",
        "names": [f.name for f in FEATURES],
    }


def abstain_section() -> dict:
    return {
        "rule": ABSTAIN_RULE,
        "required": [list(group) for group in REQUIRED],
        "max_age_hours": MAX_AGE_H,
    }


def stars_section() -> dict:
    return {"rule": STAR_RULE}


def base_card() -> dict:
    return {
        "schema_version": CARD_SCHEMA,
        "intended_use": (
            "Bedside early warning of sepsis for adult ICU patients, shown to clinicians inside the EHR. "
            "An aid to attention, not a diagnosis: the app alerts only when risk crosses the threshold AND "
            "a sign of organ dysfunction is present."
        ),
        "data": {"source": SOURCE},
        "label": LABEL,
        "features": describe_features(),
        "abstain": abstain_section(),
        "stars": stars_section(),
        "known_limits": KNOWN_LIMITS,
    }


def targets(model_card: dict) -> list[dict]:
    """The project's goals next to what was measured on B (goals, not guarantees)."""
    ext = model_card.get("external_validation")
    rows = ext["metrics"] if ext else []
    b = rows[0] if rows else {}
    clock = next((r for r in rows if r["name"] == CLOCK), {})
    ms = model_card["model"]["scoring_ms_per_patient"]["median"]
    above_clock = (None if b.get("utility") is None or clock.get("utility") is None
                   else round(b["utility"] - clock["utility"], 4))
    goals = [
        ("hourly AUROC on B", ">= 0.81", b.get("auroc"), lambda v: v >= 0.81),
        ("hourly AUPRC on B", ">= 0.075", b.get("auprc"), lambda v: v >= 0.075),
        ("normalized utility on B at the chosen threshold", ">= 0.26", b.get("utility"), lambda v: v >= 0.26),
        ("utility on B above the ICU clock baseline", "> 0", above_clock, lambda v: v > 0),
        ("septic patients on B alerted before onset at the chosen threshold (chosen for precision >= 0.30 on A)",
         ">= 0.45", b.get("sensitivity"), lambda v: v >= 0.45),
        ("patient-level precision on B at the chosen threshold", ">= 0.30", b.get("precision"), lambda v: v >= 0.30),
        ("scoring one patient (median ms)", "< 5", ms, lambda v: v < 5),
        ("training time (s, this machine)", "< 300", model_card["model"].get("training_seconds"), lambda v: v < 300),
    ]
    return [{"target": name, "goal": goal, "measured": value, "met": None if value is None else bool(ok(value))}
            for name, goal, value, ok in goals]


def comparisons(model_card: dict) -> list[str]:
    ext = model_card.get("external_validation")
    ours = "not measured (no set B)"
    if ext:
        m = ext["metrics"][0]
        ours = (f"AUROC {m['auroc']}, utility {m['utility']}, sensitivity {m['sensitivity']}, precision "
                f"{m['precision']} at threshold {model_card['threshold']['value']:g}")
    return [
        f"This model on hospital B (trained on A): {ours}.",
        "The previous release (2026.12.04+0f47761941a7, scikit-learn histogram boosting) on the same B stays: "
        "AUROC 0.772, utility 0.256, sensitivity 0.395 at precision 0.314 (threshold 0.055).",
        "The first release of this model (2026-11-23) on the same B stays: AUROC 0.759, utility 0.077, "
        "sensitivity 0.187 at precision 0.539 (threshold 0.1).",
        "prodrome (open peer on PyPI), same A to B transfer, as reported by its authors: AUROC 0.802, utility 0.247.",
        "Epic Sepsis Model, external validation (Wong et al., JAMA Intern Med 2021; hospitalised adults, a "
        "different label): AUROC 0.63, sensitivity 33%, precision 12%.",
        "TREWS (Adams et al., Nat Med 2022; prospective, all inpatients, a different label): 82% of sepsis cases "
        "alerted, 38% of evaluated alerts confirmed.",
        "These are different populations and definitions: the comparison is indicative, not head to head.",
    ]

