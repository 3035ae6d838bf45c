"""Which measured values a clinician would call abnormal, and the few words that say why a starred one matters.

The limits are the adult bedside ones that sepsis screens use (SIRS: HR > 90, RR > 20, temperature < 36 or
> 38 °C, WBC < 4 or > 12; qSOFA: RR >= 22, SBP <= 100; SEP-1 organ dysfunction: MAP < 65, lactate > 2,
creatinine > 2, bilirubin > 2, platelets < 100, INR > 1.5) and, for other labs, common adult reference
intervals. They decide only what the collapsed measurement table shows first; the model and the alert policy
never read them. A trend is "rising" or "falling" when the newest value differs from the first of the last
TREND_HOURS by more than TREND_CHANGE of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

# concept: (lowest normal, highest normal); None = no limit on that side
NORMAL: dict[str, tuple[float | None, float | None]] = {
    "heart_rate": (50, 90), "resp_rate": (10, 20), "temperature": (36.0, 38.0), "sbp": (100, 180),
    "map": (65, 110), "dbp": (50, 100), "spo2": (92, None), "etco2": (35, 45),
    "lactate": (None, 2.0), "creatinine": (None, 1.2), "bilirubin_total": (None, 1.2), "platelets": (150, 450),
    "wbc": (4.0, 12.0), "inr": (None, 1.5), "ph": (7.35, 7.45), "paco2": (35, 45), "bicarbonate": (22, 29),
    "base_excess": (-3, 3), "bun": (None, 20), "glucose": (70, 180), "potassium": (3.5, 5.0),
    "chloride": (98, 107), "hemoglobin": (11.5, None), "hematocrit": (34, None), "fio2": (None, 0.4),
    "troponin_i": (None, 0.04), "ast": (None, 40), "alkaline_phosphatase": (None, 130), "calcium": (8.5, 10.5),
    "magnesium": (1.7, 2.4), "phosphate": (2.5, 4.5), "ptt": (None, 40), "fibrinogen": (200, None),
    "bilirubin_direct": (None, 0.3), "sao2": (92, None),
}
SHORT = {"heart_rate": "HR", "resp_rate": "RR", "sbp": "SBP", "map": "MAP", "dbp": "DBP", "temperature": "Temp",
         "spo2": "SpO2", "wbc": "WBC", "bilirubin_total": "Bilirubin", "creatinine": "Creatinine"}
TREND_HOURS = 6
TREND_CHANGE = 0.05


def flag(concept: str, value: float) -> str | None:
    """ "high" or "low" when outside the bedside limits, else None (and None for concepts without limits)."""
    low, high = NORMAL.get(concept, (None, None))
    if low is not None and value < low:
        return "low"
    if high is not None and value > high:
        return "high"
    return None


def trend(points: Sequence[tuple[datetime, float]], now: datetime) -> str | None:
    """ "rising", "falling" or "steady" over the last TREND_HOURS; None with fewer than two values there."""
    recent = sorted((t, v) for t, v in points if now - timedelta(hours=TREND_HOURS) <= t <= now)
    if len(recent) < 2:
        return None
    first, last = recent[0][1], recent[-1][1]
    if abs(last - first) <= TREND_CHANGE * max(abs(first), 1e-9):
        return "steady"
    return "rising" if last > first else "falling"


def number(value: float) -> str:
    return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"


def reason(concept: str, label: str, points: Sequence[tuple[datetime, float]], now: datetime) -> str:
    """Why a starred value matters, in a few words: "RR 30, rising", "Lactate 4.1, high"."""
    latest = max(points)[1]
    words = [f"{SHORT.get(concept, label)} {number(latest)}"]
    direction = trend(points, now)
    high_or_low = flag(concept, latest)
    if direction in ("rising", "falling"):
        words.append(direction)
    elif high_or_low or direction:
        words.append(high_or_low or direction)
    return ", ".join(words)
