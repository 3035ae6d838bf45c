"""Read a FHIR search across its pages: page cap, loop guard, and `next` links checked against the base.

A `next` link that leaves the FHIR base (origin and path) is never requested, so the token is never sent
to it; the result says the data may be incomplete rather than truncating silently.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import urljoin

from .errors import FhirBadResponse
from .transport import Transport, on_base

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SearchResult:
    """The resources of every page read, and notes (clinician-readable) when something may be missing."""

    resources: tuple[dict, ...]
    notes: tuple[str, ...] = ()
    complete: bool = True
    pages: int = 0
    server_time: str | None = None  # the first page's Bundle.meta.lastUpdated: the server's clock at the search


@dataclass(frozen=True)
class Found:
    """What a resource module made of one search: its plain values, and the search's notes (clinician-readable)."""

    records: tuple
    notes: tuple[str, ...] = ()


def _next_link(bundle: dict) -> object:
    links = bundle.get("link")
    if not isinstance(links, list):
        return None
    for link in links:
        if isinstance(link, dict) and link.get("relation") == "next":
            return link.get("url")
    return None


def _entries(bundle: dict, kind: str, max_entries: int) -> tuple[list[dict], list[str]]:
    """Resources of a searchset page, and notes for error-level OperationOutcomes the server put in it. A page
    with more than `max_entries` entries is refused (we ask for a few hundred; thousands is a broken server)."""
    entries = bundle.get("entry", [])
    if not isinstance(entries, list):
        raise FhirBadResponse(detail=f"{kind} search Bundle.entry is not a list")
    if len(entries) > max_entries:
        raise FhirBadResponse(detail=f"{kind} search page has {len(entries)} entries, over the {max_entries} limit")
    resources, notes = [], []
    for entry in entries:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            continue
        if resource.get("resourceType") == "OperationOutcome":
            issues = resource.get("issue") if isinstance(resource.get("issue"), list) else []
            severities = {i.get("severity") for i in issues if isinstance(i, dict)}
            codes = sorted(str(i.get("code"))[:40] for i in issues if isinstance(i, dict))
            log.info("FHIR %s search carried an OperationOutcome: %s", kind, ",".join(codes))
            if severities & {"error", "fatal"}:
                notes.append("The EHR reported a problem with part of the search, so some results may be missing.")
            continue
        resources.append(resource)
    return resources, notes


def search(transport: Transport, resource_type: str, params: dict, *, max_pages: int = 20,
           follow: bool = True, headers: dict | None = None) -> SearchResult:
    """Run one search and follow its `next` links (at most `max_pages` pages, never the same URL twice).

    `follow=False` reads the first page only, on purpose (e.g. `_count=1&_sort=-date` for the latest value).
    `headers` go with the search itself (the `next` links are the server's own).
    """
    bundle = transport.get_json(resource_type, params, expect="Bundle", headers=headers)
    meta = bundle.get("meta") if isinstance(bundle.get("meta"), dict) else {}
    server_time = meta.get("lastUpdated") if isinstance(meta.get("lastUpdated"), str) else None
    seen = {transport.last_url} if transport.last_url else set()
    resources: list[dict] = []
    ids: set[tuple[str, str]] = set()
    notes: list[str] = []
    complete = True
    pages = 0
    while True:
        pages += 1
        page, page_notes = _entries(bundle, resource_type, transport.max_entries)
        if page_notes:
            complete = False
            notes.extend(n for n in page_notes if n not in notes)
        for resource in page:
            key = (str(resource.get("resourceType")), str(resource.get("id")))
            if resource.get("id") is not None and key in ids:
                continue  # the same resource on two pages (offset paging over changing data): keep one
            ids.add(key)
            resources.append(resource)
        nxt = _next_link(bundle)
        if nxt is None or not follow:
            break
        if not isinstance(nxt, str) or not nxt.strip():
            complete = False
            notes.append("The EHR's list of results was cut short (an unreadable link to the next page), "
                         "so some results may be missing.")
            break
        url = urljoin(transport.base + "/", nxt.strip())
        if not on_base(url, transport.base):
            log.warning("FHIR %s search: next link leaves the FHIR base; not followed", resource_type)
            complete = False
            notes.append("The EHR pointed to more results on another server; Sepsis Sentinel did not follow "
                         "that link, so some results may be missing.")
            break
        if url in seen:
            log.warning("FHIR %s search: next link repeats an earlier page; paging stopped", resource_type)
            complete = False
            notes.append("The EHR's list of results looped back on itself; Sepsis Sentinel stopped reading "
                         "there, so some results may be missing.")
            break
        if pages >= max_pages:
            log.warning("FHIR %s search: page cap of %d reached", resource_type, max_pages)
            complete = False
            notes.append(f"There were more results than Sepsis Sentinel reads ({max_pages} pages); "
                         "the rest were not read.")
            break
        seen.add(url)
        bundle = transport.get_json(url, expect="Bundle")
        if transport.last_url:
            seen.add(transport.last_url)
    return SearchResult(tuple(resources), tuple(notes), complete, pages, server_time)
