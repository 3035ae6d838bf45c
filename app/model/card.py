"""The model card: what the model is, what it was trained on, how well it does, and where it must not be trusted.

`model_card.json` is read by `load_model` (sha256, threshold, population means), by the transparency
page and by the site-tuning page; `render_markdown` turns it into the human-readable `model_card.md`.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence

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
        "mean; the shipped model does not read it: no gain on held-out A)",
        "per_lab": f"last value, hours since it, change from the previous value, min/max over {LAB_WINDOW}, "
        f"last minus the {LAB_WINDOW} min and max",
        "per_demographic": "the value (age in years, male sex 0/1)",
        "derived": "shock index (HR/SBP), pulse pressure, SpO2/FiO2, BUN/creatinine, hours since any lab, "
        f"partial SOFA (platelets, bilirubin, creatinine, MAP < 70) now and its rise over the best values of the "
        f"last {LAB_WINDOW} (24h for MAP), hours since ICU admission (ICULOS in training, the Encounter live)",
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


# ---------------------------------------------------------------------------------------------- markdown


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.3f}"
    return str(v)


def _metrics_md(rows: list[dict]) -> list[str]:
    out = [
        "| | AUROC | AUPRC | utility | sensitivity | precision | alerts / patient-day | median lead (h) | ECE |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        out.append(
            f"| {r['name']} | {_fmt(r['auroc'])} | {_fmt(r['auprc'])} | {_fmt(r['utility'])} | "
            f"{_fmt(r['sensitivity'])} | {_fmt(r['precision'])} | {_fmt(r['alerts_per_patient_day'])} | "
            f"{_fmt(r['median_lead_time_h'])} | {_fmt(r.get('ece'))} |"
        )
    return out


def _matched_md(rows: list[dict]) -> list[str]:
    out = [
        "| baseline | its sensitivity | its precision | its alerts / patient-day | model threshold | model sensitivity "
        "| model precision | model alerts / patient-day | model sensitivity at its precision (threshold) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        at_precision = ("not reachable" if r.get("model_threshold_at_precision") is None else
                        f"{_fmt(r['model_sensitivity_at_precision'])} ({r['model_threshold_at_precision']:g})")
        if r["model_threshold"] is None:
            out.append(f"| {r['baseline']} | {_fmt(r['baseline_sensitivity'])} | {_fmt(r['baseline_precision'])} | "
                       f"{_fmt(r['baseline_alerts_per_patient_day'])} | not reachable | | | | {at_precision} |")
            continue
        out.append(
            f"| {r['baseline']} | {_fmt(r['baseline_sensitivity'])} | {_fmt(r['baseline_precision'])} | "
            f"{_fmt(r['baseline_alerts_per_patient_day'])} | {r['model_threshold']:g} | {_fmt(r['model_sensitivity'])} | "
            f"{_fmt(r['model_precision'])} | {_fmt(r['model_alerts_per_patient_day'])} | {at_precision} |"
        )
    return out


def _points_md(rows: list[dict], chosen: float) -> list[str]:
    out = [
        "| threshold | sensitivity | precision | alerts / patient-day | median lead (h) | utility | alerted patients |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        mark = " **(chosen)**" if abs(r["threshold"] - chosen) < 1e-9 else ""
        out.append(
            f"| {r['threshold']:g}{mark} | {_fmt(r['sensitivity'])} | {_fmt(r['precision'])} | "
            f"{_fmt(r['alerts_per_patient_day'])} | {_fmt(r['median_lead_time_h'])} | {_fmt(r['utility'])} | "
            f"{r['alerted_patients']} |"
        )
    return out


def _site_md(card: dict) -> list[str]:
    """A site-adapted model says so first: on what, how, and how every candidate did on the site's own split."""
    site = card.get("site_adaptation")
    if not site:
        return []
    out = ["## Site-adapted model", "",
           f"Adapted from {site['base_model']} to the history in `{site['site_data']}` by **{site['method']}** "
           f"({site['how']}). Split: {site['split']} Rule: {site['rule']}.", "",
           "| candidate | AUROC | AUPRC | log-loss |", "|---|---:|---:|---:|"]
    out += [f"| {c['name']} | {_fmt(c['auroc'])} | {_fmt(c['auprc'])} | {_fmt(c['log_loss'])} |"
            for c in site["candidates"]]
    held = card.get("site_heldout")
    if held:
        out += ["", "On the site's choosing part, at the chosen threshold:", ""] + _metrics_md(held["metrics"])
        out += [""] + _lift_md(held["metrics"]) + _matched_md(held["matched_sensitivity"])
    return out + [""]


def _lift_md(rows: list[dict]) -> list[str]:
    lift = rows[0].get("utility_lift_over_clock")
    if lift is None:
        return []
    return [f"Utility as lift over the ICU clock baseline (alert whenever the ICU hour is at least 48, no "
            f"physiology): {lift:+.3f}.", ""]


def _abstention_md(measured: dict | None) -> list[str]:
    """How each candidate abstain rule did (chosen on held-out A, B reported)."""
    if not measured:
        return []
    out = ["Candidate rules, measured at the shipped threshold (partial: rows the full-vital-set rule would "
           "remove but this rule scores):", "",
           "| rule | set | hours removed | septic hours removed | sensitivity | utility | partial rows | "
           "partial observed rate | partial mean predicted | partial ECE |",
           "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for where, rules in measured.items():
        for name, r in rules.items():
            out.append(f"| {name} | {where} | {_fmt(r['hours_removed'])} | {_fmt(r['septic_hours_removed'])} | "
                       f"{_fmt(r['sensitivity'])} | {_fmt(r['utility'])} | {r['partial_rows']} | "
                       f"{_fmt(r.get('partial_observed_rate'))} | {_fmt(r.get('partial_mean_predicted'))} | "
                       f"{_fmt(r.get('partial_ece'))} |")
    return out + [""]


def _ablations_md(ablations: dict | None) -> list[str]:
    """The feature and learner ablations behind this version (chosen on held-out A; B reported only)."""
    if not ablations:
        return []
    out = ["", "## Ablations", "", ablations["how"], "",
           "| variant | kept | held-out A AUROC | held-out A AUPRC | held-out A sensitivity at precision >= 0.30 "
           "| B AUROC | B AUPRC | B sensitivity (same threshold) |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in ablations["rows"]:
        h, b = r["heldout_A"], r["B"]
        out.append(f"| {r['variant']} | {r['kept']} | {_fmt(h['auroc'])} | {_fmt(h['auprc'])} | "
                   f"{_fmt(h['sensitivity'])} | {_fmt(b['auroc'])} | {_fmt(b['auprc'])} | {_fmt(b['sensitivity'])} |")
    return out


def render_markdown(card: dict) -> str:
    """A human-readable rendering of the card (what the transparency page shows)."""
    m, thr = card["model"], card["threshold"]
    lines = [
        f"# {m.get('name', 'Sepsis Sentinel risk model')}: model card",
        "",
        f"Version **{m['version']}**, trained {m['created']}. Artifact `{m['artifact']}`, sha256 `{m['sha256']}`.",
        "",
        "## Intended use",
        "",
        card["intended_use"],
        "",
    ]
    lines += _site_md(card)
    lines += [
        "## Data",
        "",
        f"{card['data']['source']['name']} (version {card['data']['source']['version']}), "
        f"<{card['data']['source']['url']}>, {card['data']['source']['licence']}.",
        "",
        "| set | role | patients | patient-hours | septic patients | median age (IQR) | male | units of care |",
        "|---|---|---:|---:|---:|---|---:|---|",
    ]
    for h in card["data"]["cohorts"]:
        age = h["age_years"]
        iqr = f"{age['iqr'][0]}-{age['iqr'][1]}" if age["iqr"] else "-"
        units = ", ".join(f"{k} {v}" for k, v in h["units_of_care"].items())
        lines.append(
            f"| {h['set']} | {h['role']} | {h['patients']} | {h['patient_hours']} | {h['septic_patients']} "
            f"({h['septic_fraction']:.1%}) | {age['median']} ({iqr}) | {h['male_fraction']:.1%} | {units} |"
        )
    lines += ["", card["data"]["split"], ""]
    cohorts = card["data"]["cohorts"]
    lines += [
        "How often each input is measured (per 100 patient-hours; age and sex per 100 stays), and values "
        "dropped as implausible:",
        "",
        "| input | " + " | ".join(h["set"] for h in cohorts) + " | dropped (" + ", ".join(h["set"] for h in cohorts) + ") |",
        "|---|" + "---:|" * len(cohorts) + "---|",
    ]
    for concept in MODEL_CONCEPTS:
        cells = " | ".join(f"{h['measurements_per_100_patient_hours'].get(concept, 0):.1f}" for h in cohorts)
        dropped = ", ".join(str(h["implausible_values_dropped"].get(concept, 0)) for h in cohorts)
        lines.append(f"| {CONCEPTS[concept].label} | {cells} | {dropped} |")
    lines += ["", "Cite:", ""] + [f"- {c}" for c in card["data"]["source"]["citation"]]
    lines += ["", "## Label", "", card["label"], "", "## Inputs and features", ""]
    f = card["features"]
    lines.append("Inputs: " + ", ".join(f"{i['label']} ({i['unit']})" for i in f["inputs"]) + ".")
    lines += [
        "",
        f"- Each vital sign: {f['per_vital_sign']}.",
        f"- Each lab: {f['per_lab']}.",
        f"- Age and sex: {f['per_demographic']}.",
        f"- Derived: {f['derived']}.",
        f"- {f['windows'].capitalize()}.",
        f"- Not inputs: {', '.join(f['not_inputs'])}.",
        f"- {len(f['names'])} features in all; the model reads {m['features_used']} (the rest are never "
        "measured in its fitting data, or were dropped in the ablations: see the ablation table).",
        "",
        "## Performance on hospital B (never used for any choice)",
        "",
    ]
    ext = card.get("external_validation")
    if ext:
        lines += [ext["note"], ""] + _metrics_md(ext["metrics"]) + [""] + _lift_md(ext["metrics"])
        u = card["threshold"]["utility_optimal_heldout_A"]
        lines += [
            f"At the threshold that maximised utility on held-out A ({u['threshold']:g}, utility {u['utility']:.3f} "
            f"there), the normalized utility on B is {ext['utility_at_heldout_A_utility_optimal_threshold']:.3f}.",
            "",
        ]
        if ext.get("baselines_not_beaten"):
            lines += ["Where a baseline does as well as or better than the model (at the model's chosen threshold):", ""]
            lines += [f"- {n}" for n in ext["baselines_not_beaten"]] + [""]
        else:
            lines += ["The model beats every baseline on every headline metric.", ""]
        lines += [
            "The model at the same sensitivity as each baseline (highest threshold at least as sensitive) and at "
            "the same precision (lowest threshold at least as precise); a comparison, not a choice:",
            "",
        ] + _matched_md(ext["matched_sensitivity"]) + [""]
    else:
        lines += ["Not computed (set B was not available at training time).", ""]
    lines += ["## Held-out hospital A (used to choose hyper-parameters and threshold)", ""]
    lines += _metrics_md(card["heldout_A"]["metrics"]) + [""] + _lift_md(card["heldout_A"]["metrics"])
    lines += ["At matched sensitivity and matched precision:", ""] + _matched_md(card["heldout_A"]["matched_sensitivity"]) + [""]
    lines += [
        "Sensitivity: septic patients alerted before t_sepsis. Precision: alerted patients (any hour) who are "
        "septic. Alerts per patient-day count alert episodes (rising edges). Lead time: t_sepsis minus the first "
        "alert. Utility: PhysioNet 2019 normalized utility. ECE: expected calibration error (10 bins).",
        "",
        "## Threshold",
        "",
        f"**{thr['value']:g}**: {thr['rule']}",
        "",
        "Operating points on held-out A (for choosing):",
        "",
    ]
    lines += _points_md(card["operating_points"]["heldout_A"], thr["value"]) + [""]
    if card["operating_points"].get("B"):
        lines += ["The same thresholds on hospital B (reported, not used):", ""]
        lines += _points_md(card["operating_points"]["B"], thr["value"]) + [""]
    lines += [
        "## When the model abstains",
        "",
        card["abstain"]["rule"],
        "",
    ]
    lines += _abstention_md(card["abstain"].get("measured"))
    lines += [
        "## Starred inputs",
        "",
        card["stars"]["rule"],
        "",
        "## Known limits",
        "",
    ]
    lines += [f"- {x}" for x in card["known_limits"]]
    lines += ["", "## Targets", "", "| target | goal | measured | met |", "|---|---|---:|---|"]
    lines += [f"| {t['target']} | {t['goal']} | {_fmt(t['measured'])} | {'yes' if t['met'] else 'no'} |"
              for t in card["targets"]]
    lines += ["", "## Comparisons", ""] + [f"- {x}" for x in card["comparisons"]]
    lines += _ablations_md(card.get("ablations"))
    if card.get("change_log"):
        lines += ["", "## Change log", ""] + [f"- {c['date']}: version {c['version']}. {c['changes']}"
                                              for c in card["change_log"]]
    lines += [
        "",
        "## Training",
        "",
        f"{m['estimator']} with {m['hyperparameters']}, seed {m['seed']}, scikit-learn {m['sklearn_version']}. "
        f"Training took {m['training_seconds']:.0f} s; scoring one patient (features, probability and stars) "
        f"takes {m['scoring_ms_per_patient']['median']:.2f} ms (median; {m['scoring_ms_per_patient']['how']}).",
        "",
    ]
    return "\n".join(lines)
