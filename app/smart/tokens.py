"""A session's access token for FHIR calls: refreshed shortly before it expires, and once more on a 401."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta

import requests

from .oauth import refresh
from .registration import Registration
from .sessions import Session, SessionStore

REFRESH_MARGIN = timedelta(seconds=60)
MARGIN_SHARE = 4  # ... but never more than a quarter of the token's life


def refresh_margin(lifetime: timedelta | None) -> timedelta:
    """How long before expiry a token is refreshed: a minute, or a quarter of its life if that is shorter. A 60 s
    token is used for 45 s; a fixed minute would refresh it before its first read (and a refused refresh would end
    a good launch). Unknown lifetime (a session from before it was recorded): the minute."""
    if lifetime is None:
        return REFRESH_MARGIN
    return min(REFRESH_MARGIN, lifetime / MARGIN_SHARE)


class SessionTokens:
    """Implements the FHIR transport's token source: `access_token()` and `refresh()`."""

    def __init__(self, store: SessionStore, session: Session, reg: Registration, http: requests.Session,
                 timeout: tuple[float, float], clock: Callable[[], datetime]):
        self.store, self.session, self.reg, self.http, self.timeout, self.clock = (
            store, session, reg, http, timeout, clock)
        self._tokens = None
        # A page's reads run in parallel: one of them refreshes, the others wait and use the new token (a second
        # refresh with a rotated refresh token would be refused).
        self._lock = threading.Lock()

    def access_token(self) -> str:
        with self._lock:
            tokens = self._tokens or self.store.tokens_as_read(self.session)
            if tokens.expires_at - refresh_margin(tokens.lifetime) <= self.clock():
                tokens = self._refresh(tokens)
            self._tokens = tokens
            return tokens.access_token

    def refresh(self) -> str | None:
        """Called after a 401. Raises SessionExpired when the EHR will not refresh (the user must relaunch)."""
        with self._lock:
            tokens = self._refresh(self._tokens or self.store.tokens(self.session))
            self._tokens = tokens
            return tokens.access_token

    def _refresh(self, old):
        new = refresh(self.reg, self.session.token_endpoint, old, self.http, self.timeout, self.clock())
        if not self.store.replace_tokens(self.session, old, new):
            # Another request refreshed first; with rotating refresh tokens ours may now be void, so use theirs.
            return self.store.tokens(self.session)
        return new
