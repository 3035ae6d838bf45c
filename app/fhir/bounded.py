"""Bounded answers from an EHR or its authorization server: a size cap, a total deadline, a nesting limit, and
no redirects, for every response the app reads.

A per-read timeout is not a deadline: a server that sends one byte a second never trips a 10 s read timeout,
and a 400 MB body is read whole into memory before JSON parsing starts. So bodies are read in chunks against a
byte cap and a clock, and parsed JSON is checked for depth (CPython's parser raises RecursionError, not
ValueError, on deep nesting, and everything that walks the document after it recurses too).

`install(session, ...)` puts the same rules on a requests.Session as a response hook, so the reads that go
through Authlib (the token endpoint) are bounded too: requests runs response hooks before it reads the body
and before it follows a redirect (requests.Session.send), so the hook reads the body itself, bounded, and
refuses any redirect: the bearer token and the authorization code are never sent on to another address.
A caller that passes `stream=True` reads the body itself (`read_body`), with its own deadline.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import requests
import urllib3

CHUNK = 64 * 1024
MAX_DEPTH = 64  # FHIR resources nest a dozen levels; Bundles of them a few more


class BoundedReadError(requests.RequestException):
    """The answer broke a bound (too big, too slow, too deep, a redirect). A RequestException, so every caller's
    existing handling of network failures (typed launch and FHIR errors) applies unchanged."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class RedirectRefused(BoundedReadError):
    pass


def read_body(resp: requests.Response, *, max_bytes: int, deadline: float,
              clock: Callable[[], float] = time.monotonic) -> bytes:
    """The body of a streamed response, refused past `max_bytes` or once `clock()` passes `deadline`.

    Reads with `read1` (whatever one receive brings, urllib3 2), not `iter_content`: a fixed-size read waits
    until the whole chunk has arrived, so a server sending a byte a second would hold it far past any deadline.
    """
    declared = resp.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        resp.close()
        raise BoundedReadError(f"answer of {int(declared)} bytes is over the {max_bytes} byte limit")
    raw = resp.raw
    read = getattr(raw, "read1", None) or raw.read
    chunks, size = [], 0
    try:
        while True:
            if clock() > deadline:
                raise BoundedReadError("answer still arriving when the time allowed ran out")
            chunk = read(CHUNK, decode_content=True)
            if not chunk:
                break
            size += len(chunk)
            if size > max_bytes:
                raise BoundedReadError(f"answer is over the {max_bytes} byte limit")
            chunks.append(chunk)
    except requests.RequestException:  # our own BoundedReadError (an OSError too, so it comes first)
        resp.close()
        raise
    except urllib3.exceptions.ReadTimeoutError:
        resp.close()
        raise requests.exceptions.ReadTimeout("read timed out while the answer arrived") from None
    except (urllib3.exceptions.ProtocolError, urllib3.exceptions.DecodeError, OSError) as exc:
        resp.close()
        raise requests.exceptions.ConnectionError(f"answer broken off: {type(exc).__name__}") from None
    body = b"".join(chunks)
    resp._content, resp._content_consumed = body, True  # resp.json() and .content now read the bounded body
    return body


def _depth_ok(doc: object, limit: int) -> bool:
    """True when `doc` nests at most `limit` containers deep. Level by level, without recursion, with exact
    type checks (what json.loads makes): about 1 ms for a page of 200 Observations."""
    level, depth = [doc], 0
    while level:
        depth += 1
        if depth > limit:
            return False
        deeper = []
        for node in level:
            for value in (node.values() if type(node) is dict else node):
                kind = type(value)
                if kind is dict or kind is list:
                    deeper.append(value)
        level = deeper
    return True


def parse_json(body: bytes, max_depth: int = MAX_DEPTH) -> object:
    """JSON, or ValueError (unreadable, or nested deeper than `max_depth`) - never RecursionError."""
    try:
        doc = json.loads(body)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    if not _depth_ok(doc, max_depth):
        raise ValueError(f"JSON nested deeper than {max_depth} levels")
    return doc


def install(session: requests.Session, *, max_bytes: int, seconds: float, max_depth: int = MAX_DEPTH) -> None:
    """Bound every response of `session` (see the module docstring). `seconds` is the total time for one
    answer's body after its headers arrived, on top of requests' own connect and read timeouts."""

    def bound(resp: requests.Response, *args, **kwargs) -> requests.Response:
        if kwargs.get("stream"):
            return resp  # the caller reads the body itself, bounded (app.fhir.transport), and judges redirects
        if resp.is_redirect or 300 <= resp.status_code < 400:
            resp.close()
            raise RedirectRefused(f"HTTP {resp.status_code} redirect refused")
        read_body(resp, max_bytes=max_bytes, deadline=time.monotonic() + seconds)
        if max_depth and resp.content.lstrip()[:1] in (b"{", b"["):
            try:
                parse_json(resp.content, max_depth)
            except ValueError as exc:
                raise BoundedReadError(str(exc)) from None
        return resp

    session.hooks["response"].append(bound)
