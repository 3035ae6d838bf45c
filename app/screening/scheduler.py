"""The demo's in-process schedule: the same cycle as `sentinel worker` runs, from a daemon thread, every interval
of the clinical clock (the demo's runs fast, so its 15-minute cycles come seconds apart). Nothing to install.

A cycle that fails (the EHR down, the token refused) is recorded by the cycle itself; the thread goes on to the
next one, so screening never stops silently. Production runs the cycle on procrastinate instead (tasks.py).
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from .cycle import Screening

log = logging.getLogger(__name__)

POLL_SECONDS = 0.5  # how often the thread looks at the clinical clock


class Scheduler:
    def __init__(self, screening: Screening, interval: timedelta, *, poll: float = POLL_SECONDS):
        self.screening, self.interval, self.poll = screening, interval, poll
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="screening-scheduler", daemon=True)
        self.cycles = 0

    def start(self) -> Scheduler:
        self.thread.start()
        return self

    def stop(self, timeout: float = 10) -> None:
        self._stop.set()
        self.thread.join(timeout)

    def _loop(self) -> None:
        due = self.screening.clock()
        while not self._stop.is_set():
            now = self.screening.clock()
            if now >= due:
                try:
                    # Recorded as due now on the wall clock (within one poll): the demo's clinical clock runs fast.
                    self.screening.run(self.screening.wall())
                    self.cycles += 1
                except Exception as exc:  # e.g. the database away: logged, and the next cycle tries again
                    log.error("screening cycle failed: %s", type(exc).__name__)
                # The next cycle is one interval after this one was due; after a cycle that overran, the next
                # starts at once (missed cycles are not run one after another).
                due = max(due + self.interval, self.screening.clock()) if self.screening.clock() > due + \
                    self.interval else due + self.interval
            self._stop.wait(self.poll)
