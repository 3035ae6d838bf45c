"""Prometheus metrics as a test reads them: the token the tests' app is made with, and the samples it scrapes."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

TOKEN = "m" * 32


def scrape(client) -> dict[tuple[str, tuple], float]:
    resp = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert resp.status_code == 200 and resp.content_type.startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(resp.get_data(as_text=True)) for s in family.samples}


def value(samples, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)

