"""The model card as `model_card.md`: the same facts as `model_card.json`, for a reader without the app."""

from __future__ import annotations

from app.model.measurement import CONCEPTS, MODEL_CONCEPTS


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
        f"{m['estimator']} with {m['hyperparameters']}, seed {m['seed']}, "
        f"{m.get('learner_version') or 'scikit-learn ' + str(m.get('sklearn_version'))}. "
        f"Training took {m['training_seconds']:.0f} s; scoring one patient (features, probability and stars) "
        f"takes {m['scoring_ms_per_patient']['median']:.2f} ms (median; {m['scoring_ms_per_patient']['how']}).",
        "",
    ]
    return "\n".join(lines)
