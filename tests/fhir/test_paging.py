"""Paging: page cap, loop guard, and `next` links that must stay on the FHIR base (the token never leaves it)."""

from __future__ import annotations

import responses

from app.fhir.paging import search
from tests.support.fhir import BASE, PATIENT, TOKEN, bundle, obs

SEARCH = f"{BASE}/Observation"


def page_url(n: int) -> str:
    return f"{BASE}?_getpages=abc&_getpagesoffset={n}"


@responses.activate
def test_follows_next_links_across_pages(transport):
    responses.add(responses.GET, SEARCH, json=bundle([obs("8867-4", 80, "/min", oid="a")], next_url=page_url(1)))
    responses.add(responses.GET, page_url(1), json=bundle([obs("8867-4", 81, "/min", oid="b")],
                                                          next_url=page_url(2)))
    responses.add(responses.GET, page_url(2), json=bundle([obs("8867-4", 82, "/min", oid="c")]))
    result = search(transport, "Observation", {"patient": PATIENT})
    assert [r["id"] for r in result.resources] == ["a", "b", "c"]
    assert result.complete and result.notes == () and result.pages == 3
    assert all(c.request.headers["Authorization"] == f"Bearer {TOKEN}" for c in responses.calls)


@responses.activate
def test_a_paging_loop_is_stopped_and_reported(transport):
    responses.add(responses.GET, SEARCH, json=bundle([obs("8867-4", 80, "/min", oid="a")], next_url=page_url(1)))
    responses.add(responses.GET, page_url(1), json=bundle([obs("8867-4", 81, "/min", oid="b")],
                                                          next_url=page_url(2)))
    responses.add(responses.GET, page_url(2), json=bundle([obs("8867-4", 82, "/min", oid="c")],
                                                          next_url=page_url(1)))  # back to page 1
    result = search(transport, "Observation", {"patient": PATIENT})
    assert [r["id"] for r in result.resources] == ["a", "b", "c"]
    assert not result.complete
    assert result.notes == ("The EHR's list of results looped back on itself; Sepsis Sentinel stopped reading "
                            "there, so some results may be missing.",)
    assert len(responses.calls) == 3


@responses.activate
def test_a_next_link_pointing_at_itself_is_a_loop(transport):
    first = f"{SEARCH}?patient={PATIENT}"
    responses.add(responses.GET, SEARCH, json=bundle([obs("8867-4", 80, "/min", oid="a")], next_url=first))
    result = search(transport, "Observation", {"patient": PATIENT})
    assert not result.complete and "looped" in result.notes[0]
    assert len(responses.calls) == 1


@responses.activate
def test_a_next_link_to_another_host_is_not_followed_and_gets_no_token(transport):
    foreign = "https://attacker.example.com/fhir/r4?page=2"
    responses.add(responses.GET, SEARCH, json=bundle([obs("8867-4", 80, "/min", oid="a")], next_url=foreign))
    trap = responses.add(responses.GET, foreign, json=bundle([]))
    result = search(transport, "Observation", {"patient": PATIENT})
    assert trap.call_count == 0
    assert all("attacker" not in c.request.url for c in responses.calls)
    assert [r["id"] for r in result.resources] == ["a"]
    assert not result.complete
    assert result.notes == ("The EHR pointed to more results on another server; Sepsis Sentinel did not follow "
                            "that link, so some results may be missing.",)


@responses.activate
def test_a_next_link_outside_the_base_path_on_the_same_host_is_not_followed(transport):
    outside = "https://ehr.example.org/admin/export?page=2"
    responses.add(responses.GET, SEARCH, json=bundle([], next_url=outside))
    trap = responses.add(responses.GET, outside, json=bundle([]))
    result = search(transport, "Observation", {"patient": PATIENT})
    assert trap.call_count == 0 and not result.complete


@responses.activate
def test_relative_next_links_are_resolved_against_the_base(transport):
    responses.add(responses.GET, SEARCH, json=bundle([obs("8867-4", 80, "/min", oid="a")],
                                                     next_url="Observation?page=2"))
    responses.add(responses.GET, f"{SEARCH}?page=2", json=bundle([obs("8867-4", 81, "/min", oid="b")]))
    result = search(transport, "Observation", {"patient": PATIENT})
    assert [r["id"] for r in result.resources] == ["a", "b"] and result.complete


@responses.activate
def test_the_page_cap_stops_paging_and_says_so(transport):
    responses.add(responses.GET, SEARCH, json=bundle([obs("8867-4", 80, "/min", oid="p0")], next_url=page_url(1)))
    for n in range(1, 10):
        responses.add(responses.GET, page_url(n), json=bundle([obs("8867-4", 80, "/min", oid=f"p{n}")],
                                                              next_url=page_url(n + 1)))
    result = search(transport, "Observation", {"patient": PATIENT}, max_pages=3)
    assert len(result.resources) == 3 and result.pages == 3 and len(responses.calls) == 3
    assert not result.complete and "(3 pages)" in result.notes[0]


@responses.activate
def test_the_same_resource_on_two_pages_is_kept_once(transport):
    responses.add(responses.GET, SEARCH, json=bundle([obs("8867-4", 80, "/min", oid="a")], next_url=page_url(1)))
    responses.add(responses.GET, page_url(1), json=bundle([obs("8867-4", 80, "/min", oid="a"),
                                                           obs("8867-4", 81, "/min", oid="b")]))
    result = search(transport, "Observation", {"patient": PATIENT})
    assert [r["id"] for r in result.resources] == ["a", "b"]


@responses.activate
def test_an_error_outcome_inside_the_bundle_marks_the_result_incomplete(transport):
    outcome = {"resourceType": "OperationOutcome", "id": "oo",
               "issue": [{"severity": "error", "code": "too-costly", "diagnostics": "for Patient pat-1"}]}
    responses.add(responses.GET, SEARCH, json=bundle([obs("8867-4", 80, "/min", oid="a"), outcome]))
    result = search(transport, "Observation", {"patient": PATIENT})
    assert [r["id"] for r in result.resources] == ["a"]
    assert not result.complete and "some results may be missing" in result.notes[0]


@responses.activate
def test_first_page_only_when_asked_is_complete_and_quiet(transport, caplog):
    responses.add(responses.GET, SEARCH, json=bundle([obs("29463-7", 70, "kg", oid="w")], next_url=page_url(1)))
    result = search(transport, "Observation", {"_count": "1"}, follow=False)
    assert [r["id"] for r in result.resources] == ["w"] and result.complete and result.notes == ()
    assert len(responses.calls) == 1 and "page cap" not in caplog.text
