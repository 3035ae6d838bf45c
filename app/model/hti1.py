"""The model card as the source attributes US decision-support rules ask for: ONC HTI-1, 45 CFR 170.315(b)(11)(iv)(B)
(predictive decision support interventions). Each attribute is answered from the card, or says plainly that the
card has no answer ("Not available: ..."), so the table can never claim more than the card does.

Pure function of the card (a dict): the transparency page renders the rows; nothing here reads files.
"""

from __future__ import annotations

from dataclasses import dataclass

DEVELOPER = ("Sepsis Sentinel project (open-source team); contact: the deployment team of this hospital, through "
             "the app's feedback button")
NOT_AVAILABLE = "Not available"


@dataclass(frozen=True)
class Attribute:
    group: str
    name: str
    value: str


def _fmt(v) -> str:
    if v is None:
        return "-"
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def _metrics(rows: list[dict] | None) -> str:
    if not rows:
        return f"{NOT_AVAILABLE}: not measured for this model."
    m = rows[0]
    text = (f"hourly AUROC {_fmt(m.get('auroc'))}, AUPRC {_fmt(m.get('auprc'))}; at the shipped threshold "
            f"sensitivity {_fmt(m.get('sensitivity'))} (septic patients alerted before onset), precision "
            f"{_fmt(m.get('precision'))}, {_fmt(m.get('alerts_per_patient_day'))} alerts per patient-day, "
            f"normalized utility {_fmt(m.get('utility'))}")
    if m.get("utility_lift_over_clock") is not None:
        text += f" ({m['utility_lift_over_clock']:+.3f} over an ICU-clock baseline)"
    return text + f"; calibration error {_fmt(m.get('ece'))}."


def _fairness(groups: list[dict] | None) -> str:
    if not groups:
        return (f"{NOT_AVAILABLE}: no subgroup figures in this card. The data hold sex and age only (no race, "
                "ethnicity, language or social determinants), so fairness can be checked for those two only.")
    return "; ".join(f"{g['group']}: AUROC {_fmt(g['auroc'])}, mean predicted {_fmt(g['mean_predicted'])} vs "
                     f"observed {_fmt(g['observed_rate'])}" for g in groups) + "."


def _cohorts(card: dict, wanted) -> str:
    parts = []
    for h in card.get("data", {}).get("cohorts", []):
        if wanted(h["set"]):
            age = h["age_years"]
            parts.append(f"{h['set']}: {h['patients']} patients, median age {age['median']}, "
                         f"{(h['male_fraction'] or 0):.0%} male, {(h['septic_fraction'] or 0):.1%} septic")
    return "; ".join(parts) + ". Race, ethnicity, language, sexual orientation, gender identity and social " \
                              "determinants of health are not recorded in the data." if parts else NOT_AVAILABLE


def source_attributes(card: dict) -> list[Attribute]:
    """The HTI-1 predictive-DSI source attributes, in the rule's order, answered from the card."""
    m, thr = card.get("model", {}), card.get("threshold", {})
    ext = card.get("external_validation") or {}
    site = card.get("site_adaptation")
    features = card.get("features", {})
    limits = card.get("known_limits") or []
    subgroups = card.get("subgroups") or {}
    src = card.get("data", {}).get("source", {})
    rows = [
        ("Details and output", "Name and contact information of the developer", DEVELOPER),
        ("Details and output", "Funding source of the development",
         f"{NOT_AVAILABLE}: no external funding is recorded for this open-source project."),
        ("Details and output", "Value the intervention produces as output",
         "The probability (0-1) that the patient meets Sepsis-3 criteria within 6 hours or already does, for the "
         f"hour ending now; an alert when it is at least the threshold ({_fmt(thr.get('value'))}) and a sign of "
         "organ dysfunction is present; up to three starred inputs."),
        ("Details and output", "Type of output", "Prediction (a calibrated probability) and an alert."),
        ("Purpose", "Intended use", card.get("intended_use", NOT_AVAILABLE)),
        ("Purpose", "Intended patient population", "Adult ICU patients (the training data: adults aged 18-89 in "
         "medical and surgical ICUs)."),
        ("Purpose", "Intended users", "ICU nurses and physicians, inside the EHR."),
        ("Purpose", "Intended decision-making role", "Informs: an aid to attention; the clinician decides."),
        ("Cautioned out-of-scope use", "Tasks, situations or populations where it should not be applied",
         "Wards, emergency departments, children; diagnosing sepsis or withholding treatment because the score is "
         "low."),
        ("Cautioned out-of-scope use", "Known risks, inappropriate settings or uses, known limitations",
         " ".join(limits) or NOT_AVAILABLE),
        ("Development details and input features", "Inclusion and exclusion criteria of the training data",
         f"{src.get('name', NOT_AVAILABLE)} (version {src.get('version', '-')}): every ICU stay of hospital A "
         "as released by the challenge; values outside plausible ranges dropped. " + card.get("data", {}).get(
             "split", "")),
        ("Development details and input features", "Use of race, ethnicity, language, sexual orientation, gender "
         "identity, sex, date of birth, social determinants or health status as inputs",
         "Sex and age (from date of birth) are inputs; none of the others is."),
        ("Development details and input features", "Demographic representativeness of the training data",
         _cohorts(card, lambda s: s.startswith("A"))),
        ("Development details and input features", "Relevance of the training data to the deployed setting",
         "Hourly ICU charting of vital signs and labs, as the app reads them from the EHR over the last 72 hours "
         f"(the model reads {m.get('features_used', '-')} features of {len(features.get('inputs') or [])} "
         "inputs, plus the hours since ICU admission from the Encounter)."),
        ("Fairness in development", "Approach to ensure the output is fair",
         "Performance is reported by sex and age band on held-out A and on hospital B (below); no input encodes "
         "race or social factors; the threshold is the same for every patient."),
        ("Fairness in development", "Approaches to manage, reduce or eliminate bias",
         "Inputs that encode a hospital's habits rather than the patient (counts of orders, unit of care, hospital "
         "admission time) were removed; a site can adapt the model to its own patients (`sentinel train "
         "--site-data`) and tune its threshold."),
        ("External validation", "Data source, clinical setting or environment of external validation",
         ext.get("note") or f"{NOT_AVAILABLE}: not validated on a second hospital."),
        ("External validation", "Party that conducted the external testing",
         "The developer (Sepsis Sentinel project), with the model and threshold frozen before scoring; the other "
         "half of hospital B is kept back for an independent check." if ext else NOT_AVAILABLE),
        ("External validation", "Demographic representativeness of the external data",
         _cohorts(card, lambda s: s == "B") if ext else NOT_AVAILABLE),
        ("External validation", "External validation process",
         "Every patient-hour scored by `sentinel evaluate` as the app would score it live; patient-level "
         "sensitivity, precision and alert burden at the shipped threshold, against SIRS, qSOFA, NEWS2, MEWS and "
         "an ICU-clock baseline." if ext else NOT_AVAILABLE),
        ("Quantitative performance", "Validity in test data from the same source as the training data",
         "Held-out patients of hospital A: " + _metrics((card.get("heldout_A") or {}).get("metrics"))),
        ("Quantitative performance", "Fairness in test data from the same source",
         _fairness(subgroups.get("heldout_A"))),
        ("Quantitative performance", "Validity in external data", ("Hospital B: " + _metrics(ext.get("metrics")))
         if ext else f"{NOT_AVAILABLE}: not validated on a second hospital."),
        ("Quantitative performance", "Fairness in external data", _fairness(subgroups.get("B"))),
        ("Quantitative performance", "References to evaluation of use on outcomes",
         f"{NOT_AVAILABLE}: no study of this model's effect on morbidity, mortality or length of stay exists."),
        ("Ongoing maintenance", "Process and frequency of monitoring performance over time",
         "Each alert stores the risk, threshold and model version; clinicians' decisions and feedback are recorded; "
         "the deployment team reviews them on the adoption and tuning pages."),
        ("Ongoing maintenance", "Validity in local data",
         ("Site-adapted on " + site["site_data"] + ": " + _metrics((card.get("site_heldout") or {}).get("metrics")))
         if site else f"{NOT_AVAILABLE}: not measured at this hospital; `sentinel evaluate --data` on the site's "
         "own history measures it."),
        ("Ongoing maintenance", "Fairness in local data", _fairness(subgroups.get("site")) if site else
         f"{NOT_AVAILABLE}: not measured at this hospital."),
        ("Update schedule", "Update schedule", "A new version with each retrain; every version is in the change "
         f"log below (current {m.get('version', '-')}, trained {m.get('created', '-')})."),
        ("Update schedule", "Continued validation or fairness assessment schedule",
         "Every retrain re-runs the held-out and external validation and the subgroup figures before release."),
    ]
    return [Attribute(g, n, v) for g, n, v in rows]
