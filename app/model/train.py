"""`sentinel train`: fit the risk model on PhysioNet 2019 set A and write the artifact and its model card.

Set A is split by patient into a training part and a held-out part. Hyper-parameters and the alert
threshold are chosen on held-out A only. Set B (another hospital) is scored once, after everything is
frozen, and only reported in the card: nothing is chosen by looking at it.

`run` reads as its steps: `load_split` (set A's features, split by patient), `fit_candidates` (each learner
setting fitted and judged on held-out A), `choose_threshold`, `model_section` (the card's model entry),
`describe_heldout` (held-out A's figures), then, frozen, `external_validation` (set B, reported only).
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from app.model import artifact, card, card_markdown
from app.model.dataset import Cohort, load_cohort
from app.model.features import FEATURE_NAMES, FEATURES, LAB_WINDOW
from app.model.learner import NEGATIVE_KEEP, Booster, fit_booster, lightgbm_version
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
# Regularised boosting, as prodrome does with LightGBM: 31-leaf trees whose leaves hold at least 1,000 rows, L2 10
# on the leaf values, half the features and 80% of the rows drawn for each tree, rate 0.05, and as many trees as
# keep improving the log-loss on a patient-disjoint slice of A's training part (early stopping). It fits less of
# hospital A's own habits, which is what transfers to another hospital. Candidates are judged on held-out A.
CANDIDATES = (
    {"learning_rate": 0.05, "num_leaves": 31, "min_child_samples": 1000, "lambda_l2": 10.0,
     "feature_fraction": 0.5, "bagging_fraction": 0.8, "bagging_freq": 1},
)
# Early stopping: trees are added until the log-loss on the stopping slice (STOPPING_FRACTION of the training
# part's patients, disjoint from the fitted ones: a row-level split would let the same stay sit on both sides)
# has not improved for STOPPING_PATIENCE trees, or STOPPING_MAX trees are reached; the best count is kept.
STOPPING_FRACTION = 0.15
STOPPING_MAX = 2000
STOPPING_PATIENCE = 50
# Features the pipeline computes but the model does not read, because on held-out A they did not help
# (bench/model_ablations.py, in the card's ablation table): per-patient baselines (the 72 h worst values of
# vital signs, and every input's deviation from its 72 h running mean), 6 h trends and 24 h variability of
# vital signs, and the spelled-out bedside physiology (6 h shock index, HR/MAP, SIRS and qSOFA criteria).
_VITALS = [k for k in MODEL_CONCEPTS if CONCEPTS[k].kind == "vital"]
UNUSED_FEATURES = frozenset(
    [f"{k}__min_{LAB_WINDOW}" for k in _VITALS] + [f"{k}__max_{LAB_WINDOW}" for k in _VITALS]
    + [f.name for f in FEATURES if f.name.endswith((f"__deviation_{LAB_WINDOW}", "__trend_6h", "__sd_24h"))]
    + ["shock_index_6h", "modified_shock_index", "sirs_criteria", "qsofa_partial"])
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


def fit(cohort: Cohort, columns: np.ndarray, params: dict, *, weights_for=None, seed: int = SEED,
        init: Booster | None = None) -> Booster:
    """Fit on the cohort's rows (`fitting_rows`) but a patient-disjoint stopping slice, adding trees while the
    slice's log-loss improves. `weights_for(cohort, keep, weights)` may re-weight rows (the site adaptation
    up-weights the site's own patients); `seed` draws the slice, the rows and the trees' samples; `init`
    continues boosting from a fitted model (the site adaptation's fine-tuning)."""
    fit_ids, stop_ids = split_patients(cohort, STOPPING_FRACTION, seed + 1)
    fitted, stopping = cohort.subset(fit_ids), cohort.subset(stop_ids)
    keep, weights = fitting_rows(fitted, seed)
    if weights_for is not None:
        weights = weights_for(fitted, keep, weights)
    # np.ix_ selects rows and columns in one copy (the full matrix of A is about 2 GB).
    return fit_booster(fitted.x[np.ix_(keep, columns)], fitted.labels[keep], weights, stopping.x[:, columns],
                       stopping.labels, params, seed=seed, max_trees=STOPPING_MAX, patience=STOPPING_PATIENCE,
                       init=init)


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
    train, held = load_split(path_a, start)
    columns = usable_columns(train)
    _say(f"{len(columns)} features used", start)
    candidates = fit_candidates(train, held, columns, start)
    best = max(candidates, key=lambda c: c["heldout_A_auroc"])  # first wins a tie
    threshold, rule = choose_threshold(best["scored"])
    u_threshold, u_value = utility_optimal(best["scored"])
    _say(f"chose {best['params']}, threshold {threshold:g} (utility-optimal on held-out A: {u_threshold:g})", start)

    out: Path = args.out or artifact.ARTIFACT_DIR
    artifact_path, sha256 = artifact.save(best["estimator"], columns, out)
    model_card = card.base_card()
    model_card["model"] = model_section(best, candidates, columns, artifact_path, sha256)
    model_card["threshold"] = {"value": threshold, "rule": rule, "target_precision": TARGET_PRECISION,
                               "utility_optimal_heldout_A": {"threshold": u_threshold, "utility": round(u_value, 4)}}
    model_card["population_means"] = train.population_means()
    model_card["change_log"] = change_log(out, model_card["model"], change_entry(args, model_card))
    model_card["data"]["split"] = SPLIT
    cohorts = [
        card.describe_cohort("A (training part)", "fitting", train.stays, train.coverage()),
        card.describe_cohort("A (held-out part)", "choosing hyper-parameters and threshold", held.stays,
                             held.coverage()),
    ]
    model = artifact.Model(best["estimator"], columns, model_card)
    describe_heldout(model_card, best["scored"], threshold, out)
    # ---- frozen: model, threshold and means are fixed above. Set B is only scored and reported from here on.
    if not args.no_external:
        cohorts += external_validation(model_card, model, args.data, u_threshold, out, start)
    model_card["data"]["cohorts"] = cohorts
    model_card["comparisons"] = card.comparisons(model_card)
    model_card["model"]["training_seconds"] = round(time.perf_counter() - start, 1)
    model_card["model"]["scoring_ms_per_patient"] = time_scoring(
        model, path_a, set(sorted(s.patient for s in held.stays)[:TIMING_PATIENTS]))
    model_card["targets"] = card.targets(model_card)
    artifact.write_card(model_card, out)
    (out / "model_card.md").write_text(card_markdown.render_markdown(model_card))
    _say("held-out A:\n" + format_table(model_card["heldout_A"]["metrics"]), start)
    _say(f"wrote {artifact_path} ({model_card['model']['size_bytes']} bytes, sha256 {sha256[:12]}...) and the card", start)
    print(f"training took {model_card['model']['training_seconds']:.1f} s (plus "
          f"{time.perf_counter() - start - model_card['model']['training_seconds']:.1f} s timing the scorer)", flush=True)
    return 0


SPLIT = (f"Set A split by patient, stratified by septic status (seed {SEED}): {1 - HELDOUT_FRACTION:.0%} to fit "
         f"(of which {STOPPING_FRACTION:.0%} of the patients only decide when to stop adding trees), "
         f"{HELDOUT_FRACTION:.0%} held out to choose hyper-parameters, the abstain rule and the threshold. "
         "Set B: reported only.")


def load_split(path_a: Path, start: float) -> tuple[Cohort, Cohort]:
    """Set A's features, split by patient into the training part and the held-out part."""
    cohort = load_cohort(path_a)
    _say(f"set A: {len(cohort.stays)} stays, {len(cohort.labels)} patient-hours, {cohort.x.shape[1]} features", start)
    train_ids, held_ids = split_patients(cohort)
    train, held = cohort.subset(train_ids), cohort.subset(held_ids)
    _say(f"split: {len(train.stays)} training stays, {len(held.stays)} held-out stays", start)
    return train, held


def fit_candidates(train: Cohort, held: Cohort, columns: np.ndarray, start: float) -> list[dict]:
    """Each candidate learner fitted on the training part and judged on held-out A (hourly AUROC)."""
    candidates = []
    for params in CANDIDATES:
        estimator = fit(train, columns, params)
        scored = score_cohort(artifact.Model(estimator, columns, {}), held)
        auroc = round(hourly_auroc(held.labels, scored.probabilities), 4)
        candidates.append({"params": params, "heldout_A_auroc": auroc, "estimator": estimator, "scored": scored,
                           "trees": int(estimator.n_iter_)})
        _say(f"candidate {params}: {estimator.n_iter_} trees, held-out A hourly AUROC {auroc}", start)
    return candidates


def model_section(best: dict, candidates: list[dict], columns: np.ndarray, artifact_path: Path, sha256: str) -> dict:
    """The card's description of the fitted model: version, file, learner and how it was chosen."""
    created = datetime.now(UTC)
    return {
        "name": "Sepsis Sentinel risk model",
        "version": f"{created:%Y.%m.%d}+{sha256[:12]}",
        "created": created.strftime("%Y-%m-%d"),
        "artifact": artifact_path.name,
        "format": "skops archive holding LightGBM's text model (numbers only; see app/model/artifact.py)",
        "sha256": sha256,
        "size_bytes": artifact_path.stat().st_size,
        "estimator": "LightGBM gradient-boosted trees (missing values handled natively), early stopping on the "
        f"log-loss of a patient-disjoint {STOPPING_FRACTION:.0%} slice of A's training part",
        "hyperparameters": {**best["params"], "trees": best["trees"]},
        "selection": [
            {"params": c["params"], "trees": c["trees"], "heldout_A_auroc": c["heldout_A_auroc"]} for c in candidates
        ] + [{"rule": "highest hourly AUROC on held-out A"}],
        "fitting_rows": f"all rows of septic stays and a {NEGATIVE_KEEP:.0%} random sample of the other rows, "
        f"weighted {1 / NEGATIVE_KEEP:g}",
        "seed": SEED,
        "learner_version": f"LightGBM {lightgbm_version()}",
        "features_used": len(columns),
        "features_total": len(FEATURE_NAMES),
    }


def change_entry(args: argparse.Namespace, model_card: dict) -> str:
    """What changed in this version, with the ablations behind it when given (they also go in the card)."""
    change = args.change
    if getattr(args, "ablations", None):
        model_card["ablations"] = json.loads(Path(args.ablations).read_text())
        change = f"{change} {ablation_summary(model_card['ablations'])}"
    return change


def describe_heldout(model_card: dict, scored: Scored, threshold: float, out: Path) -> None:
    """Held-out A's figures in the card: metrics, matched comparisons, operating points, abstention, subgroups."""
    held = scored.cohort
    table = metrics_table(scored, threshold)
    model_card["heldout_A"] = {"metrics": table, "matched_sensitivity": matched_comparisons(scored, table)}
    model_card["operating_points"] = {"heldout_A": operating_points(scored, heldout_threshold_grid(threshold))}
    model_card["abstain"]["measured"] = {"held-out A": abstention_candidates(scored, threshold)}
    model_card["subgroups"] = {"heldout_A": subgroups(scored)}
    reliability_plot(held.labels, scored.probabilities, out / "reliability_heldout_A.png",
                     "Reliability, held-out hospital A")


def external_validation(model_card: dict, model: artifact.Model, data: Path, u_threshold: float, out: Path,
                        start: float) -> list[dict]:
    """Score set B with the frozen model and threshold and report it in the card; returns B's cohort entry."""
    try:
        path_b = find_set(data, "B")
    except FileNotFoundError:
        _say("no set B found: the card will have no external validation", start)
        return []
    threshold = model.threshold
    b = load_cohort(path_b)
    b_scored = score_cohort(model, b)
    table = metrics_table(b_scored, threshold)
    model_card["external_validation"] = {
        "set": "B",
        "note": f"{len(b.stays)} stays of hospital B (the first half of the released set B), scored after the "
        "model and threshold were frozen. Reproduce with `sentinel evaluate --data training_setB.tar.gz`.",
        "metrics": table,
        "utility_at_heldout_A_utility_optimal_threshold": alert_metrics(
            b.patients, b.hours, b_scored.alerts(u_threshold), b.labels)["utility"],
        "baselines_not_beaten": where_baselines_win(table),
        "matched_sensitivity": matched_comparisons(b_scored, table),
        "reliability_plot": "reliability_B.png",
    }
    model_card["operating_points"]["B"] = operating_points(b_scored, heldout_threshold_grid(threshold))
    model_card["abstain"]["measured"]["B"] = abstention_candidates(b_scored, threshold)
    model_card["subgroups"]["B"] = subgroups(b_scored)
    reliability_plot(b.labels, b_scored.probabilities, out / "reliability_B.png", "Reliability, hospital B")
    _say("set B (external, reported only):\n" + format_table(table), start)
    return [card.describe_cohort("B", "external validation only (another hospital)", b.stays, b.coverage())]


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
