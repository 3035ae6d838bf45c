"""`sentinel train`: fit the risk model on PhysioNet 2019 set A and write the artifact and its model card.

Set A is split by patient into a training part and a held-out part. Hyper-parameters and the alert
threshold are chosen on held-out A only. Set B (another hospital) is scored once, after everything is
frozen, and only reported in the card: nothing is chosen by looking at it.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import sklearn
from sklearn.ensemble import HistGradientBoostingClassifier

from app.model import artifact, card, card_markdown
from app.model.baselines import CLOCK
from app.model.dataset import Cohort, load_cohort
from app.model.features import FEATURE_NAMES, FEATURES, LAB_WINDOW
from app.model.measurement import CONCEPTS, MODEL_CONCEPTS
from app.model.metrics import alert_metrics, hourly_auroc, reliability_plot
from app.model.physionet import find_set, read_stays
from app.model.scoring import score
from app.model.validation import (
    TABLE_THRESHOLDS,
    THRESHOLD_GRID,
    Scored,
    abstention_candidates,
    format_table,
    matched_comparisons,
    metrics_table,
    operating_points,
    score_cohort,
    subgroups,
    where_baselines_win,
)

SEED = 20190805
HELDOUT_FRACTION = 0.2
# Rows of never-septic patients kept for fitting; kept rows are weighted 1/KEEP, so probabilities stay
# calibrated. Halves the fitting time at no measurable cost on held-out A.
NEGATIVE_KEEP = 1 / 3
BASE_PARAMS = {"learning_rate": 0.1, "max_iter": 200, "l2_regularization": 1.0, "early_stopping": False,
               "random_state": SEED}
# The learner of the first release: small trees, large leaves, a fixed 200 trees (kept to measure against).
PREVIOUS_PARAMS = {"max_leaf_nodes": 7, "min_samples_leaf": 2000}
# Regularised boosting: a slower rate, stronger L2, large leaves, half the features considered at each split,
# and as many trees as keep improving the log-loss on a patient-disjoint slice of A's training part (early
# stopping). It fits less of hospital A's own habits, which is what transfers to another hospital.
CANDIDATES = (
    {"learning_rate": 0.06, "max_leaf_nodes": 15, "min_samples_leaf": 1000, "l2_regularization": 10.0,
     "max_features": 0.5},
)
# Early stopping: trees are added until the log-loss on the stopping slice (STOPPING_FRACTION of the training
# part's patients, disjoint from the fitted ones: a row-level split would let the same stay sit on both sides)
# has not improved for STOPPING_PATIENCE trees, or STOPPING_MAX trees are reached.
STOPPING_FRACTION = 0.15
STOPPING_MAX = 600
STOPPING_PATIENCE = 20
# Per-patient baselines (the 72 h worst values of vital signs, and every input's deviation from its 72 h running
# mean): the pipeline computes them, but on held-out A they did not help (bench/model_ablations.py: hourly AUROC
# 0.8028 without against 0.8018 with, AUPRC 0.111 against 0.102), so the model does not read them.
_VITALS = [k for k in MODEL_CONCEPTS if CONCEPTS[k].kind == "vital"]
UNUSED_FEATURES = frozenset(
    [f"{k}__min_{LAB_WINDOW}" for k in _VITALS] + [f"{k}__max_{LAB_WINDOW}" for k in _VITALS]
    + [f.name for f in FEATURES if f.name.endswith(f"__deviation_{LAB_WINDOW}")])
TARGET_PRECISION = 0.30  # patient-level; TREWS's 38% of evaluated alerts confirmed is the bar clinicians know
MIN_ALERTED = 30  # thresholds alerting fewer held-out patients than this are too noisy to judge precision
TIMING_PATIENTS = 200


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, type=Path,
                        help="folder with training_setA (folder or .tar.gz) and, for the external report, training_setB")
    parser.add_argument("--out", type=Path, default=None,
                        help="where to write the artifact and model card (default: model_artifacts/; with "
                        f"--site-data: {site_default()})")
    parser.add_argument("--site-data", type=Path,
                        help="a hospital's own history (PhysioNet format: folder or .tar.gz): write a site-adapted "
                        "model, chosen on a patient-disjoint split of it, next to (never over) the shipped one")
    parser.add_argument("--base-model", type=Path, default=artifact.ARTIFACT_DIR,
                        help="with --site-data: the model to adapt (default: the shipped model_artifacts/)")
    parser.add_argument("--ablations", type=Path,
                        help="JSON written by bench/model_ablations.py, recorded in the card's ablation table")
    parser.add_argument("--no-external", action="store_true", help="do not score set B for the card")
    parser.add_argument("--change", default="Retrained with `sentinel train`.",
                        help="what changed in this version, for the card's change log (the transparency page shows it)")


def site_default() -> Path:
    return Path("site_model")


def _say(message: str, start: float) -> None:
    print(f"[{time.perf_counter() - start:6.1f}s] {message}", flush=True)


def usable_columns(cohort: Cohort) -> np.ndarray:
    """Feature columns the model reads: measured at least once in the fitting data (a feature never measured
    cannot be learnt), and not in UNUSED_FEATURES."""
    measured = ~np.all(np.isnan(cohort.x), axis=0)
    unused = np.array([name in UNUSED_FEATURES for name in FEATURE_NAMES])
    return np.flatnonzero(measured & ~unused)


def split_patients(cohort: Cohort, fraction: float = HELDOUT_FRACTION, seed: int = SEED) -> tuple[set, set]:
    """Patient-level split of a cohort, stratified by septic status: (training ids, held-out ids)."""
    rng = np.random.default_rng(seed)
    held: set[str] = set()
    for septic in (True, False):
        ids = np.array(sorted(s.patient for s in cohort.stays if s.septic == septic))
        ids = rng.permutation(ids)
        held |= set(ids[: int(round(fraction * len(ids)))].tolist())
    return {s.patient for s in cohort.stays} - held, held


def fitting_rows(cohort: Cohort, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """Rows used for fitting and their weights: all rows of septic stays, a weighted sample of the rest."""
    septic_ids = {s.patient for s in cohort.stays if s.septic}
    septic_row = np.isin(cohort.patients, list(septic_ids))
    rng = np.random.default_rng(seed)
    keep = septic_row | (rng.random(len(septic_row)) < NEGATIVE_KEEP)
    weights = np.where(septic_row, 1.0, 1.0 / NEGATIVE_KEEP)
    return keep, weights[keep]


def fit(cohort: Cohort, columns: np.ndarray, params: dict, *, early_stopping: bool = True,
        weights_for=None) -> HistGradientBoostingClassifier:
    """Fit on the cohort's rows (`fitting_rows`); with `early_stopping`, on all but a patient-disjoint slice,
    adding trees while the slice's log-loss improves (scikit-learn's early stopping on that slice). `weights_for(cohort, keep, weights)` may re-weight rows
    (the site adaptation up-weights the site's own patients)."""
    if not early_stopping:
        keep, weights = fitting_rows(cohort)
        if weights_for is not None:
            weights = weights_for(cohort, keep, weights)
        model = HistGradientBoostingClassifier(**{**BASE_PARAMS, **params})
        return model.fit(cohort.x[np.ix_(keep, columns)], cohort.labels[keep], sample_weight=weights)
    fit_ids, stop_ids = split_patients(cohort, STOPPING_FRACTION, SEED + 1)
    fitted, stopping = cohort.subset(fit_ids), cohort.subset(stop_ids)
    keep, weights = fitting_rows(fitted)
    if weights_for is not None:
        weights = weights_for(fitted, keep, weights)
    model = HistGradientBoostingClassifier(**{
        **BASE_PARAMS, **params, "max_iter": STOPPING_MAX, "early_stopping": True, "scoring": "loss",
        "n_iter_no_change": STOPPING_PATIENCE})
    # np.ix_ selects rows and columns in one copy (the full matrix of A is about 2 GB).
    return model.fit(fitted.x[np.ix_(keep, columns)], fitted.labels[keep], sample_weight=weights,
                     X_val=stopping.x[:, columns], y_val=stopping.labels)


def choose_threshold(scored: Scored) -> tuple[float, str]:
    """Lowest threshold on the grid whose patient-level precision on held-out A is >= TARGET_PRECISION and
    stays so at every higher grid threshold that still alerts >= MIN_ALERTED patients: the most sensitive
    threshold meeting the TREWS precision, not a lucky blip of the precision curve."""
    c = scored.cohort
    points = [(t, alert_metrics(c.patients, c.hours, scored.alerts(t), c.labels)) for t in THRESHOLD_GRID]
    judged = [(t, p) for t, p in points if p["alerted_patients"] >= MIN_ALERTED]
    for i, (t, _) in enumerate(judged):
        if all(p["precision"] >= TARGET_PRECISION for _, p in judged[i:]):
            return t, (
                f"the most sensitive threshold (grid {THRESHOLD_GRID[0]:g}-{THRESHOLD_GRID[-1]:g} in steps of "
                f"0.005) whose patient-level precision on held-out A is at least {TARGET_PRECISION:g} and stays so "
                f"at every higher threshold alerting at least {MIN_ALERTED} patients. Chosen on held-out A only."
            )
    best = max(points, key=lambda tp: tp[1]["utility"])[0]
    return best, (
        f"no threshold reached patient-level precision {TARGET_PRECISION:g} on held-out A; fell back to the "
        "threshold with the highest normalized utility on held-out A."
    )


def utility_optimal(scored: Scored) -> tuple[float, float]:
    c = scored.cohort
    utilities = [(t, alert_metrics(c.patients, c.hours, scored.alerts(t), c.labels)["utility"]) for t in THRESHOLD_GRID]
    return max(utilities, key=lambda tu: tu[1])


def time_scoring(model: artifact.Model, path: Path, patients: set[str]) -> dict:
    """Median and 95th centile wall time of `score` (features, probability, stars) at each stay's last hour."""
    stays = list(read_stays(path, patients=patients))
    times = []
    for stay in stays[:3]:
        score(stay.measurements, stay.times[-1], model=model)  # warm-up
    for stay in stays:
        at = stay.times[-1]
        start = time.perf_counter()
        score(stay.measurements, at, model=model)
        times.append((time.perf_counter() - start) * 1000)
    return {
        "median": round(float(np.median(times)), 3),
        "p95": round(float(np.percentile(times, 95)), 3),
        "how": f"wall time of score() at the last hour of {len(stays)} held-out set A stays (all their "
        "measurements), measured by `sentinel train` on its machine after a warm-up",
    }


def heldout_threshold_grid(threshold: float) -> tuple[float, ...]:
    """The tuning page's thresholds, with the chosen one among them."""
    return tuple(sorted(set(TABLE_THRESHOLDS) | {threshold}))


def run(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    path_a = find_set(args.data, "A")
    cohort = load_cohort(path_a)
    _say(f"set A: {len(cohort.stays)} stays, {len(cohort.labels)} patient-hours, {cohort.x.shape[1]} features", start)
    train_ids, held_ids = split_patients(cohort)
    train, held = cohort.subset(train_ids), cohort.subset(held_ids)
    columns = usable_columns(train)
    _say(f"split: {len(train.stays)} training stays, {len(held.stays)} held-out stays; {len(columns)} features used", start)

    candidates = []
    for params in CANDIDATES:
        estimator = fit(train, columns, params)
        probe = artifact.Model(estimator, columns, {})
        scored = score_cohort(probe, held)
        auroc = round(hourly_auroc(held.labels, scored.probabilities), 4)
        candidates.append({"params": params, "heldout_A_auroc": auroc, "estimator": estimator, "scored": scored,
                           "trees": int(estimator.n_iter_)})
        _say(f"candidate {params}: {estimator.n_iter_} trees, held-out A hourly AUROC {auroc}", start)
    best = max(candidates, key=lambda c: c["heldout_A_auroc"])  # first wins a tie
    threshold, rule = choose_threshold(best["scored"])
    u_threshold, u_value = utility_optimal(best["scored"])
    _say(f"chose {best['params']}, threshold {threshold:g} (utility-optimal on held-out A: {u_threshold:g})", start)

    out: Path = args.out or artifact.ARTIFACT_DIR
    artifact_path, sha256 = artifact.save(best["estimator"], columns, out)
    created = datetime.now(UTC)
    model_card = card.base_card()
    model_card["model"] = {
        "name": "Sepsis Sentinel risk model",
        "version": f"{created:%Y.%m.%d}+{sha256[:12]}",
        "created": created.strftime("%Y-%m-%d"),
        "artifact": artifact_path.name,
        "format": "skops (only trusted types are loaded; see app/model/artifact.py)",
        "sha256": sha256,
        "size_bytes": artifact_path.stat().st_size,
        "estimator": "scikit-learn HistGradientBoostingClassifier (missing values handled natively), early "
        f"stopping on the log-loss of a patient-disjoint {STOPPING_FRACTION:.0%} slice of A's training part",
        "hyperparameters": {**BASE_PARAMS, **best["params"], "max_iter": best["trees"]},
        "selection": [
            {"params": c["params"], "trees": c["trees"], "heldout_A_auroc": c["heldout_A_auroc"]} for c in candidates
        ] + [{"rule": "highest hourly AUROC on held-out A"}],
        "fitting_rows": f"all rows of septic stays and a {NEGATIVE_KEEP:.0%} random sample of the other rows, "
        f"weighted {1 / NEGATIVE_KEEP:g}",
        "seed": SEED,
        "sklearn_version": sklearn.__version__,
        "features_used": len(columns),
        "features_total": len(FEATURE_NAMES),
    }
    model_card["threshold"] = {"value": threshold, "rule": rule, "target_precision": TARGET_PRECISION,
                               "utility_optimal_heldout_A": {"threshold": u_threshold, "utility": round(u_value, 4)}}
    model_card["population_means"] = train.population_means()
    change = args.change
    if getattr(args, "ablations", None):
        model_card["ablations"] = json.loads(Path(args.ablations).read_text())
        change = f"{change} {ablation_summary(model_card['ablations'])}"
    model_card["change_log"] = change_log(out, model_card["model"], change)
    model_card["data"]["split"] = (
        f"Set A split by patient, stratified by septic status (seed {SEED}): {1 - HELDOUT_FRACTION:.0%} to fit "
        f"(of which {STOPPING_FRACTION:.0%} of the patients only decide when to stop adding trees), "
        f"{HELDOUT_FRACTION:.0%} held out to choose hyper-parameters, the abstain rule and the threshold. "
        "Set B: reported only."
    )
    cohorts = [
        card.describe_cohort("A (training part)", "fitting", train.stays, train.coverage()),
        card.describe_cohort("A (held-out part)", "choosing hyper-parameters and threshold", held.stays,
                             held.coverage()),
    ]
    model = artifact.Model(best["estimator"], columns, model_card)
    held_scored = best["scored"]
    held_table = metrics_table(held_scored, threshold)
    grid = heldout_threshold_grid(threshold)
    model_card["heldout_A"] = {"metrics": held_table, "matched_sensitivity": matched_comparisons(held_scored, held_table)}
    model_card["operating_points"] = {"heldout_A": operating_points(held_scored, grid)}
    model_card["abstain"]["measured"] = {"held-out A": abstention_candidates(held_scored, threshold)}
    model_card["subgroups"] = {"heldout_A": subgroups(held_scored)}
    reliability_plot(held.labels, held_scored.probabilities, out / "reliability_heldout_A.png",
                     "Reliability, held-out hospital A")

    # ---- frozen: model, threshold and means are fixed above. Set B is only scored and reported from here on.
    if not args.no_external:
        try:
            path_b = find_set(args.data, "B")
        except FileNotFoundError:
            path_b = None
            _say("no set B found: the card will have no external validation", start)
        if path_b is not None:
            b = load_cohort(path_b)
            cohorts.append(card.describe_cohort("B", "external validation only (another hospital)", b.stays,
                                                b.coverage()))
            b_scored = score_cohort(model, b)
            table = metrics_table(b_scored, threshold)
            model_card["external_validation"] = {
                "set": "B",
                "note": f"{len(b.stays)} stays of hospital B (the first half of the released set B), scored "
                "after the model and threshold were frozen. Reproduce with `sentinel evaluate --data "
                "training_setB.tar.gz`.",
                "metrics": table,
                "utility_at_heldout_A_utility_optimal_threshold": alert_metrics(
                    b.patients, b.hours, b_scored.alerts(u_threshold), b.labels)["utility"],
                "baselines_not_beaten": where_baselines_win(table),
                "matched_sensitivity": matched_comparisons(b_scored, table),
                "reliability_plot": "reliability_B.png",
            }
            model_card["operating_points"]["B"] = operating_points(b_scored, grid)
            model_card["abstain"]["measured"]["B"] = abstention_candidates(b_scored, threshold)
            model_card["subgroups"]["B"] = subgroups(b_scored)
            reliability_plot(b.labels, b_scored.probabilities, out / "reliability_B.png", "Reliability, hospital B")
            _say("set B (external, reported only):\n" + format_table(table), start)
    model_card["data"]["cohorts"] = cohorts
    model_card["comparisons"] = comparisons(model_card)
    model_card["model"]["training_seconds"] = round(time.perf_counter() - start, 1)
    model_card["model"]["scoring_ms_per_patient"] = time_scoring(
        model, path_a, set(sorted(held_ids)[:TIMING_PATIENTS]))
    model_card["targets"] = targets(model_card)
    artifact.write_card(model_card, out)
    (out / "model_card.md").write_text(card_markdown.render_markdown(model_card))
    _say("held-out A:\n" + format_table(model_card["heldout_A"]["metrics"]), start)
    _say(f"wrote {artifact_path} ({model_card['model']['size_bytes']} bytes, sha256 {sha256[:12]}...) and the card", start)
    print(f"training took {model_card['model']['training_seconds']:.1f} s (plus {time.perf_counter() - start - model_card['model']['training_seconds']:.1f} s timing the scorer)", flush=True)
    return 0


def ablation_summary(ablations: dict) -> str:
    """The ablations behind a version, for its change-log entry: each kept or dropped, held-out A and B AUROC."""
    parts = [f"{r['variant']} ({r['kept']}): held-out A AUROC {r['heldout_A']['auroc']}, B {r['B']['auroc']}"
             for r in ablations.get("rows", [])]
    return ("Ablations, chosen on held-out A (B reported only): " + "; ".join(parts) + ".") if parts else ""


def change_log(out: Path, model: dict, change: str) -> list[dict]:
    """This version's entry, newest first, then the entries of the card it replaces (a retrain keeps history)."""
    try:
        earlier = artifact.read_card(out).get("change_log") or []
    except artifact.ModelArtifactError:
        earlier = []
    entry = {"version": model["version"], "date": model["created"], "changes": change}
    return [entry] + [e for e in earlier if isinstance(e, dict) and e.get("version") != model["version"]]


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
        "The first release of this model (2026-11-23) on the same B stays: AUROC 0.759, utility 0.077, "
        "sensitivity 0.187 at precision 0.539 (threshold 0.1).",
        "prodrome (open peer on PyPI), same A to B transfer, as reported by its authors: AUROC 0.802, utility 0.247.",
        "Epic Sepsis Model, external validation (Wong et al., JAMA Intern Med 2021; hospitalised adults, a "
        "different label): AUROC 0.63, sensitivity 33%, precision 12%.",
        "TREWS (Adams et al., Nat Med 2022; prospective, all inpatients, a different label): 82% of sepsis cases "
        "alerted, 38% of evaluated alerts confirmed.",
        "These are different populations and definitions: the comparison is indicative, not head to head.",
    ]

