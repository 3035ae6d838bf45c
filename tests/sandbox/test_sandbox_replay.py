"""The demo's replay clock and the benchmark's census, as the sandbox builds them at start."""

from __future__ import annotations

from datetime import UTC, datetime

from sandbox import create_sandbox
from sandbox.census import records


class DemoClock:
    def __init__(self, start: float):
        self.now = start

    def __call__(self) -> float:
        return self.now


def test_the_last_hours_of_each_record_arrive_as_the_demo_clock_passes_them():
    start = datetime(2026, 11, 23, 14, 0, tzinfo=UTC).timestamp()
    clock = DemoClock(start)
    app = create_sandbox({"REPLAY_CLOCK": clock, "REPLAY_HOURS": 8, "LOAD_SAMPLE_PATIENTS": False,
                          "CLOCK": lambda: start + 5})
    sandbox = app.extensions["sandbox"]
    observations = sandbox.store.all_of("Observation")
    assert observations and max(o["effectiveDateTime"] for o in observations) <= "2026-11-23T14:00:00+00:00"
    waiting = sandbox.replay.waiting
    clock.now += 3 * 3600
    with app.test_request_context():
        app.preprocess_request()  # what every request does first
    arrived = [o for o in sandbox.store.all_of("Observation") if o["effectiveDateTime"] > "2026-11-23T14:00:00+00:00"]
    assert arrived and max(o["effectiveDateTime"] for o in arrived) <= "2026-11-23T17:00:00+00:00"
    assert {o["meta"]["lastUpdated"] for o in arrived} == {"2026-11-23T14:00:05+00:00"}  # the server's time then
    assert 0 < sandbox.replay.waiting < waiting
    clock.now += 6 * 3600
    with app.test_request_context():
        app.preprocess_request()
    assert sandbox.replay.waiting == 0


def test_without_a_replay_clock_every_record_ends_now():
    app = create_sandbox({"LOAD_SAMPLE_PATIENTS": False})
    assert app.extensions["sandbox"].replay is None


def test_the_benchmark_census_comes_from_set_b_with_synthetic_names():
    found = records(3, 12)
    assert [r["id"][:7] for r in found] == ["census-"] * 3 and all(r["source"]["set"] == "B" for r in found)
    assert all(len(r["rows"]) <= 12 and r["name"]["family"].startswith("Patient") for r in found)
