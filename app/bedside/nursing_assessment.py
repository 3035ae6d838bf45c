"""The nursing assessment as the page shows it: the risk in words, the measurements table with its flags and
stars, the vitals' sparklines, and what is missing for a score. Frozen values; the wording of each row comes from
`app.bedside.abnormal` (the limits) and `app.bedside.timewords` (when)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.alerts.findings import UnscoredFinding, scored_without, unscored_finding
from app.alerts.policy import Assessment, display_unit
from app.fhir import Mapped, MappingResult
from app.model import ABSTAIN_RULE, CONCEPTS, Abstain, Risk
from app.model.scoring import MAX_AGE_H, REQUIRED

from . import abnormal
from .headline import RISK_WORDS
from .timewords import clock_text

KEY_VITALS = ("heart_rate", "resp_rate", "sbp", "map", "temperature", "spo2")
TREND_HOURS = 24
LIMIT_LINES = {"sbp": 90.0, "map": 65.0}  # drawn on the sparkline: the organ-dysfunction limits


@dataclass(frozen=True)
class Row:
    """One line of the measurements table: the newest value of a concept the model was given."""

    concept: str
    label: str
    value_text: str
    unit: str
    time: datetime | None
    starred: bool
    count: int  # values of this concept used
    flag: str | None = None  # "high" | "low": outside the bedside limits (app.bedside.abnormal)
    reason: str | None = None  # for a starred row, why it matters in words: "RR 30, rising"

    @property
    def shown_first(self) -> bool:
        """In the collapsed table: the starred and the abnormal values."""
        return self.starred or self.flag is not None


@dataclass(frozen=True)
class Sparkline:
    concept: str
    label: str
    unit: str
    points: str  # SVG polyline points, drawn server-side (CSP allows no inline script or style)
    last_x: float
    last_y: float
    low: float
    high: float
    last: float
    last_time: datetime
    count: int
    limit_y: float | None = None
    limit: float | None = None
    width: int = 160
    height: int = 36


@dataclass(frozen=True)
class MissingInput:
    label: str
    text: str


@dataclass(frozen=True)
class NursingAssessment:
    patient_id: str
    level: str
    words: str
    probability: float | None  # None whenever the model did not give a number
    threshold: float | None
    threshold_version: int | None
    model_version: str | None
    signs: tuple
    sign_window_hours: float
    rows: tuple[Row, ...]
    sparklines: tuple[Sparkline, ...]
    missing: tuple[MissingInput, ...]
    unavailable_reason: str | None
    abstain_rule: str
    finding: UnscoredFinding | None = None  # signs of organ dysfunction or shock while there is no score
    scored_without: tuple[str, ...] = ()  # expected measurements a score was made without (partial data)
    demographics: str | None = None  # "age 67, sex female": what the model was given besides measurements

    @property
    def scored(self) -> bool:
        """The model gave a number: only then are rows "used by the model" and starred."""
        return self.probability is not None

    @property
    def rows_first(self) -> tuple[Row, ...]:
        return tuple(r for r in self.rows if r.shown_first)

    @property
    def reasons(self) -> tuple[str, ...]:
        return tuple(r.reason for r in self.rows if r.reason)


def value_text(concept: str, value: float) -> str:
    """A value as the tables show it: four significant digits, whole numbers from 1000 up."""
    return f"{value:.4g}" if abs(value) < 1000 else f"{value:.0f}"


def sex_words(value: float) -> str:
    """The model's 0/1 sex input in words (FHIR administrative gender: 1 = male)."""
    return "male" if value >= 0.5 else "female"


def demographics_text(used: Iterable[Mapped]) -> str | None:
    """ "age 67, sex female": the model's inputs from the patient record rather than a measurement."""
    found = {m.measurement.concept: m.measurement.value for m in used
             if CONCEPTS[m.measurement.concept].kind == "demographic"}
    parts = ([f"age {int(found['age'])}"] if "age" in found else []) + (
        [f"sex {sex_words(found['sex_male'])}"] if "sex_male" in found else [])
    return ", ".join(parts) or None


def _rows(used: Iterable[Mapped], risk: Risk | None, now: datetime) -> tuple[Row, ...]:
    """The newest value of each measured model input, with its flag and, when starred, why in words.
    Demographics are not measurements: they are named once beside the table (`demographics_text`)."""
    by_concept: dict[str, list[Mapped]] = defaultdict(list)
    for mapped in used:
        by_concept[mapped.measurement.concept].append(mapped)
    starred = risk.starred if risk else frozenset()
    order = {c: i for i, c in enumerate(CONCEPTS)}
    kind_order = {"vital": 0, "lab": 1}
    rows = []
    for concept, items in by_concept.items():
        if not CONCEPTS[concept].model_input or CONCEPTS[concept].kind == "demographic":
            continue  # body weight: used by the bundle, not by the model; age and sex: named beside the table
        latest = max(items, key=lambda x: x.measurement.time).measurement
        points = [(m.measurement.time, m.measurement.value) for m in items]
        star = concept in starred
        rows.append(Row(concept, CONCEPTS[concept].label, value_text(concept, latest.value), display_unit(concept),
                        latest.time, star, len(items), abnormal.flag(concept, latest.value),
                        abnormal.reason(concept, CONCEPTS[concept].label, points, now) if star else None))
    rows.sort(key=lambda r: (kind_order.get(CONCEPTS[r.concept].kind, 3), order[r.concept]))
    return tuple(rows)


def sparkline(concept: str, points: list[tuple[datetime, float]], now: datetime, width: int = 160,
              height: int = 36) -> Sparkline | None:
    """Inline SVG coordinates for one vital over the last TREND_HOURS hours (x = time, y = value)."""
    start = now - timedelta(hours=TREND_HOURS)
    pts = sorted((t, v) for t, v in points if start <= t <= now)
    if len(pts) < 2:
        return None
    values = [v for _, v in pts]
    limit = LIMIT_LINES.get(concept)
    low, high = min(values), max(values)
    span_low, span_high = min(low, limit) if limit else low, max(high, limit) if limit else high
    if span_high - span_low < 1e-9:
        span_low, span_high = span_low - 1, span_high + 1
    pad = 3

    def xy(t: datetime, v: float) -> tuple[float, float]:
        x = pad + (width - 2 * pad) * ((t - start).total_seconds() / (TREND_HOURS * 3600))
        y = pad + (height - 2 * pad) * (1 - (v - span_low) / (span_high - span_low))
        return round(x, 1), round(y, 1)

    coords = [xy(t, v) for t, v in pts]
    last_t, last_v = pts[-1]
    return Sparkline(concept, CONCEPTS[concept].label, display_unit(concept),
                     " ".join(f"{x},{y}" for x, y in coords), coords[-1][0], coords[-1][1], low, high, last_v, last_t,
                     len(pts), xy(start, limit)[1] if limit else None, limit, width, height)


def _missing(abstain: Abstain, mapping: MappingResult, now: datetime,
             lookback_hours: float) -> tuple[MissingInput, ...]:
    """What is missing or too old, with when it was last seen, and why a newer value was not used."""
    out = []
    for miss in abstain.missing:
        group = next((g for g in REQUIRED if g[0] == miss.concept), (miss.concept,))
        refused = sorted((r for r in mapping.rejected if r.concept in group and r.time is not None),
                         key=lambda r: r.time, reverse=True)
        if miss.reason == "too old" and miss.last_seen is not None:
            text = f"last measured {clock_text(miss.last_seen, now)}, more than {MAX_AGE_H:g} hours ago"
        else:
            text = f"not measured in the last {lookback_hours:g} hours"
        if refused and (miss.last_seen is None or refused[0].time > miss.last_seen):
            text += f"; a value from {clock_text(refused[0].time, now)} was not used ({refused[0].text})"
        out.append(MissingInput(miss.label, text))
    return tuple(out)


def nursing_assessment(patient_id: str, verdict: Assessment, mapping: MappingResult, now: datetime, *,
                       threshold_version: int | None, lookback_hours: float) -> NursingAssessment:
    used = mapping.used
    series: dict[str, list[tuple[datetime, float]]] = defaultdict(list)
    for mapped in used:
        if mapped.measurement.concept in KEY_VITALS:
            series[mapped.measurement.concept].append((mapped.measurement.time, mapped.measurement.value))
    lines = tuple(s for c in KEY_VITALS if (s := sparkline(c, series.get(c, []), now)) is not None)
    risk = verdict.risk
    return NursingAssessment(
        patient_id=patient_id, level=verdict.level, words=RISK_WORDS[verdict.level],
        probability=risk.probability if risk else None, threshold=verdict.threshold,
        threshold_version=threshold_version, model_version=(risk.model_version if risk else
                                                            verdict.abstain.model_version if verdict.abstain
                                                            else None),
        signs=verdict.signs, sign_window_hours=verdict.policy.sign_window.total_seconds() / 3600,
        rows=_rows(used, risk, now), sparklines=lines, demographics=demographics_text(used) if risk else None,
        missing=_missing(verdict.abstain, mapping, now, lookback_hours) if verdict.abstain else (),
        unavailable_reason=verdict.unavailable_reason, abstain_rule=ABSTAIN_RULE,
        finding=unscored_finding(verdict), scored_without=scored_without(verdict))
