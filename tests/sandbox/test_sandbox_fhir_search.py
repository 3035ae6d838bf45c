"""Observation search semantics: category and code (comma = OR), date ranges, _count, _sort and next-link
paging to the end (hl7.org/fhir/R4/search.html)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest

from tests.support.sandbox_launch import (
    BASE,
    BROAD_ID,
    BROAD_REDIRECT,
    CONF_ID,
    CONF_REDIRECT,
    CONF_SECRET,
    SEPTIC,
    START,
    authorize,
    basic,
    bearer,
    ehr_launch,
    exchange,
    open_chart,
)

CAT = "http://terminology.hl7.org/CodeSystem/observation-category"
NOW = datetime.fromtimestamp(START, UTC)


@pytest.fixture
def token(client):
    return ehr_launch(client)


def search(client, token, **params) -> dict:
    resp = client.get("/fhir/Observation?" + urlencode({"patient": SEPTIC, **params}, doseq=True),
                      headers=bearer(token))
    assert resp.status_code == 200, resp.text
    return resp.json


def read_all(client, token, first: dict) -> list[dict]:
    """Follow next links to the end, as an app must."""
    resources, bundle, pages = [], first, 0
    while True:
        pages += 1
        resources += [e["resource"] for e in bundle.get("entry", [])]
        nxt = next((link["url"] for link in bundle["link"] if link["relation"] == "next"), None)
        if not nxt:
            return resources
        assert nxt.startswith(BASE + "/fhir")
        resp = client.get(nxt[len(BASE):], headers=bearer(token))
        assert resp.status_code == 200
        bundle = resp.json
        assert pages < 100


def codes(resources) -> set[str]:
    return {c["code"] for r in resources for c in r["code"]["coding"]}


def when(resource) -> datetime:
    return datetime.fromisoformat(resource["effectiveDateTime"])


def test_category_comma_means_or(client, token):
    vitals = search(client, token, category="vital-signs", _summary="count")["total"]
    labs = search(client, token, category="laboratory", _summary="count")["total"]
    both = search(client, token, category="vital-signs,laboratory", _summary="count")["total"]
    assert vitals > 0 and labs > 0 and both == vitals + labs
    assert search(client, token, category=f"{CAT}|laboratory", _summary="count")["total"] == labs
    assert search(client, token, category="http://example.org/other|laboratory", _summary="count")["total"] == 0


def test_code_accepts_system_and_bare_codes_and_or(client, token):
    hr = search(client, token, code="http://loinc.org|8867-4", _count=200)
    assert hr["total"] > 0 and codes(e["resource"] for e in hr["entry"]) == {"8867-4"}
    assert search(client, token, code="8867-4", _summary="count")["total"] == hr["total"]
    rr = search(client, token, code="9279-1", _summary="count")["total"]
    assert search(client, token, code="8867-4,http://loinc.org|9279-1", _summary="count")["total"] == hr["total"] + rr
    # SpO2 is coded 59408-5 + 2708-6 (US Core); arterial SaO2 is 2708-6 alone: any coding matches.
    oxygen = search(client, token, code="2708-6", _summary="count")["total"]
    assert search(client, token, code="2708-6,59408-5", _summary="count")["total"] == oxygen
    assert search(client, token, code="59408-5", _summary="count")["total"] < oxygen


def test_date_ranges_with_prefixes(client, token):
    since = NOW - timedelta(hours=6)
    recent = read_all(client, token, search(client, token, date=f"ge{since:%Y-%m-%dT%H:%M:%SZ}", _count=50))
    assert recent and all(when(r) >= since for r in recent)
    everything = read_all(client, token, search(client, token, _count=200))
    assert len(recent) == sum(1 for r in everything if when(r) >= since)
    window = search(client, token, date=[f"gt{since:%Y-%m-%dT%H:%M:%SZ}", f"lt{NOW:%Y-%m-%dT%H:%M:%SZ}"],
                    _count=200)
    assert all(since < when(e["resource"]) < NOW for e in window["entry"])
    assert window["total"] == sum(1 for r in everything if since < when(r) < NOW)
    day = search(client, token, date=NOW.strftime("%Y-%m-%d"), _summary="count")["total"]
    assert day == sum(1 for r in everything if when(r).date() == NOW.date())
    assert search(client, token, date=f"le{NOW:%Y-%m-%dT%H:%M:%S}+00:00", _summary="count")["total"] == len(everything)
    assert search(client, token, date=f"sa{NOW:%Y-%m-%d}", _summary="count")["total"] == 0


@pytest.mark.parametrize("bad", ["2026-13-01", "yesterday", "ge2026-11-23T25:00:00Z", "ap2026-11-23", "ge"])
def test_malformed_dates_are_400(client, token, bad):
    resp = client.get(f"/fhir/Observation?patient={SEPTIC}&date={bad}", headers=bearer(token))
    assert resp.status_code == 400 and resp.json["resourceType"] == "OperationOutcome"


def test_count_default_cap_and_paging_to_the_end(client, token):
    first = search(client, token)
    assert len(first["entry"]) == 50 and first["total"] > 200
    assert search(client, token, _count=1000)["link"][0]["url"].endswith("_count=200")
    assert len(search(client, token, _count=1000)["entry"]) == 200
    everything = read_all(client, token, search(client, token, _count=37))
    ids = [r["id"] for r in everything]
    assert len(ids) == len(set(ids)) == first["total"]


def test_total_can_be_left_out_as_some_servers_do(sandbox_app, client, token):
    sandbox_app.config["SEARCH_TOTAL"] = False
    try:
        page = search(client, token, _count=10)
        counted = search(client, token, _summary="count")
    finally:
        sandbox_app.config["SEARCH_TOTAL"] = True
    assert "total" not in page and counted["total"] > 10


def test_sort_by_date_both_ways(client, token):
    newest = read_all(client, token, search(client, token, _sort="-date", _count=100))
    times = [when(r) for r in newest]
    assert times == sorted(times, reverse=True) and times[0] == NOW
    oldest = search(client, token, _sort="date", _count=5)["entry"]
    assert when(oldest[0]["resource"]) == min(times)


def test_latest_weight_search_as_the_app_sends_it(client, token):
    bundle = search(client, token, code="http://loinc.org|29463-7", _sort="-date", _count=1)
    (entry,) = bundle["entry"]
    assert entry["resource"]["valueQuantity"]["unit"] == "kg"


def test_unknown_parameters_are_ignored_unless_strict(client, token):
    lenient = search(client, token, category="laboratory", frobnicate="1", _count=5)
    assert "frobnicate" not in lenient["link"][0]["url"]
    outcomes = [e for e in lenient["entry"] if e["search"]["mode"] == "outcome"]
    assert outcomes[0]["resource"]["issue"][0]["severity"] == "warning"
    assert len(lenient["entry"]) == 5 + 1
    resp = client.get(f"/fhir/Observation?patient={SEPTIC}&frobnicate=1", headers={**bearer(token),
                                                                                    "Prefer": "handling=strict"})
    assert resp.status_code == 400


@pytest.mark.parametrize("query", ["code:in=http://example.org/vs", "_sort=value-quantity", "_count=-1",
                                   "category=", "code=|"])
def test_unsupported_or_malformed_searches_are_400(client, token, query):
    resp = client.get(f"/fhir/Observation?patient={SEPTIC}&{query}", headers=bearer(token))
    assert resp.status_code == 400 and resp.json["resourceType"] == "OperationOutcome"


def test_next_links_belong_to_their_authorization_and_expire(client, clock, token):
    first = search(client, token, _count=10)
    nxt = next(link["url"] for link in first["link"] if link["relation"] == "next")[len(BASE):]
    auth = authorize(client, launch=open_chart(client, app=CONF_ID)["launch"], client_id=CONF_ID,
                     redirect_uri=CONF_REDIRECT)
    other_app = exchange(client, auth, client_id=None, redirect_uri=CONF_REDIRECT,
                         headers=basic(CONF_ID, CONF_SECRET)).json
    assert client.get(nxt, headers=bearer(other_app)).status_code == 403
    assert client.get(nxt, headers=bearer(token)).status_code == 200
    clock.advance(601)
    gone = client.get(nxt, headers=bearer(token))
    assert gone.status_code == 410 and gone.json["resourceType"] == "OperationOutcome"


def test_post_search_matches_get(client, token):
    resp = client.post("/fhir/Observation/_search", data={"patient": SEPTIC, "category": "laboratory",
                                                           "_summary": "count"}, headers=bearer(token))
    assert resp.json["total"] == search(client, token, category="laboratory", _summary="count")["total"]


def test_other_searches_the_app_needs(client, token):
    for rtype in ("ServiceRequest", "MedicationRequest"):
        resp = client.get(f"/fhir/{rtype}?patient={SEPTIC}", headers=bearer(token))
        assert resp.status_code == 200 and resp.json["type"] == "searchset"
    # patient/Encounter.r reads the launch's encounter but may not search (that takes .s).
    assert client.get(f"/fhir/Encounter/{token['encounter']}", headers=bearer(token)).json["status"] == "in-progress"
    assert client.get(f"/fhir/Encounter?patient={SEPTIC}", headers=bearer(token)).status_code == 403
    broad = ehr_launch(client, scope="launch patient/Encounter.rs patient/MedicationAdministration.rs",
                       app=BROAD_ID, redirect_uri=BROAD_REDIRECT)
    (enc,) = client.get(f"/fhir/Encounter?patient={SEPTIC}&status=in-progress", headers=bearer(broad)).json["entry"]
    assert enc["resource"]["class"]["code"] == "IMP"
    resp = client.get(f"/fhir/MedicationAdministration?patient={SEPTIC}", headers=bearer(broad))
    assert resp.status_code == 200 and resp.json["total"] == 0
