"""Where the transport's bearer token comes from: a source it asks before each request and, after a 401, once more.

The SMART launch's tokens (`app.smart`) and the Backend Services client (`app.smart.backend`) implement it.
"""

from __future__ import annotations

from typing import Protocol


class TokenSource(Protocol):
    """Where the bearer token comes from. `refresh()` returns a new token, or None when refresh is impossible."""

    def access_token(self) -> str: ...

    def refresh(self) -> str | None: ...


class StaticToken:
    """A fixed token (the `sentinel inspect --token` case): it cannot be refreshed."""

    def __init__(self, token: str):
        self._token = token

    def access_token(self) -> str:
        return self._token

    def refresh(self) -> str | None:
        return None

    def __repr__(self) -> str:  # never show the token
        return "StaticToken(***)"
