"""Paged search results: a snapshot of the matching ids, read a page at a time through opaque `next` links.

Like HAPI FHIR's `?_getpages=<id>&_getpagesoffset=<n>`: the client must follow the link as given (it cannot
build page URLs itself), pages stay stable while new resources arrive, and a snapshot expires.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Snapshot:
    rtype: str
    keys: tuple[tuple[str, str], ...]  # (type, id) in result order
    client_id: str
    patient_id: str | None
    created_at: float


class Snapshots:
    def __init__(self, clock: Callable[[], float], lifetime: int):
        self._clock, self._lifetime = clock, lifetime
        self._lock = threading.Lock()
        self._items: dict[str, Snapshot] = {}

    def put(self, snapshot: Snapshot) -> str:
        sid = secrets.token_urlsafe(16)
        with self._lock:
            now = self._clock()
            self._items = {k: v for k, v in self._items.items() if now < v.created_at + self._lifetime}
            self._items[sid] = snapshot
        return sid

    def get(self, sid: str) -> Snapshot | None:
        snapshot = self._items.get(sid)
        if snapshot is None or self._clock() >= snapshot.created_at + self._lifetime:
            return None
        return snapshot
