"""The demo's clinical time: the clock the sandbox replays its records on and the app scores on."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo


class DemoClock:
    """The demo's clinical time: starts at the real time and runs `speed` hours per real minute for `fast_hours`
    (the replayed hours: the sandbox replays the records on it, and the app scores on it), then at real speed, so
    the last values age as they would on a ward. Sessions, tokens and forms keep real time."""

    def __init__(self, speed: float, zone: tzinfo | None = None, real: Callable[[], float] = time.time, *,
                 fast_hours: float = 30.0):
        if not 0 < speed <= 600:
            raise ValueError("the demo speed must be between 0 and 600 hours per minute")
        self.factor, self.zone, self.real = speed * 60.0, zone, real
        self.fast_seconds = fast_hours * 3600
        self.t0 = self.start = real()

    def epoch(self) -> float:
        elapsed = self.real() - self.t0
        fast = min(elapsed * self.factor, self.fast_seconds)
        return self.start + fast + max(0.0, elapsed - self.fast_seconds / self.factor)

    def __call__(self) -> datetime:
        return datetime.fromtimestamp(self.epoch(), self.zone or UTC)
