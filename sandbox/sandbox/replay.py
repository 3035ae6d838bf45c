"""The demo's replay: each demo patient's record arrives hour by hour on a demo clock, as a bedside monitor and a
laboratory would send it, so the screening sees a patient deteriorate within minutes of the demo's start.

With the REPLAY_CLOCK setting (a callable giving the demo clock's epoch seconds) each record is placed so that
REPLAY_HOURS (30) of its last rows lie ahead of the demo's start; those Observations are held back and stored (created,
meta.lastUpdated = the server's time then) once the demo clock passes their effective time. The check runs before
every request, so nothing needs a thread. The demo patients themselves are sandbox/demo_patients' (unchanged).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime

from flask import Flask


class Replay:
    def __init__(self, clock: Callable[[], float], held: list[tuple[float, dict]]):
        self.clock = clock
        self._held = sorted(held, key=lambda item: item[0])
        self._lock = threading.Lock()
        self.released = 0

    @property
    def waiting(self) -> int:
        return len(self._held)

    def due(self) -> list[dict]:
        """The held-back resources whose time the demo clock has passed (each handed out once)."""
        now = float(self.clock())
        with self._lock:
            n = 0
            while n < len(self._held) and self._held[n][0] <= now:
                n += 1
            out, self._held = [r for _, r in self._held[:n]], self._held[n:]
            self.released += len(out)
        return out


def split(resources: list[dict], start: datetime) -> tuple[list[dict], list[tuple[float, dict]]]:
    """(visible at the demo's start, held back with the epoch time each is released at): Observations whose
    effective time is after `start` wait."""
    visible, held = [], []
    for resource in resources:
        when = resource.get("effectiveDateTime") if resource.get("resourceType") == "Observation" else None
        at = datetime.fromisoformat(when) if when else None
        if at is not None and at > start:
            held.append((at.timestamp(), resource))
        else:
            visible.append(resource)
    return visible, held


def install(app: Flask, replay: Replay) -> None:
    store = app.extensions["sandbox"].store
    clock = app.config["CLOCK"]

    def release() -> None:
        due = replay.due()
        if due:
            now_iso = datetime.fromtimestamp(float(clock()), UTC).isoformat(timespec="seconds")
            for resource in due:
                store.put(resource, now_iso)

    app.before_request(release)
