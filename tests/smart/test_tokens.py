"""The refresh margin scales with the token's life: a short-lived token is used, not refreshed before its first read."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.smart import tokens as tokens_module
from app.smart.errors import SessionExpired
from app.smart.oauth import TokenSet
from app.smart.registration import Registration
from app.smart.sessions import Sealer, SessionStore
from app.smart.tokens import SessionTokens, refresh_margin

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=ZoneInfo("America/New_York"))


@pytest.fixture
def store(engine):
    return SessionStore(engine, Sealer("k" * 40), idle=timedelta(minutes=60), max_age=timedelta(hours=12),
                        pending_ttl=timedelta(minutes=10))


def _session(store, life_s: int):
    tokens = TokenSet(access_token="at-1", refresh_token="rt-1", expires_at=NOW + timedelta(seconds=life_s),
                      scope="s", patient="p1", encounter=None, id_token=None, lifetime=timedelta(seconds=life_s))
    _sid, session = store.create(iss="https://ehr/fhir", token_endpoint="https://ehr/token", tokens=tokens,
                                 user_ref="Practitioner/1", user_name=None, role="nurse", now=NOW)
    return session


def _refused(*_args, **_kwargs):
    raise SessionExpired(detail="refresh refused")


def _source(store, session, at):
    reg = Registration(client_id="c", client_secret=None, redirect_path="/callback", launch_path="/launch",
                       ehr_launch_scope="launch", standalone_launch_scope="launch/patient")
    return SessionTokens(store, session, reg, http=None, timeout=(1, 1), clock=lambda: at)


@pytest.mark.parametrize("life_s", [60, 30])
def test_a_token_of_a_minute_or_less_is_used_without_a_refresh(store, monkeypatch, life_s):
    monkeypatch.setattr(tokens_module, "refresh", _refused)  # the EHR would refuse: a refresh must not be tried
    session = _session(store, life_s)
    assert _source(store, session, NOW + timedelta(seconds=1)).access_token() == "at-1"


def test_a_short_token_is_refreshed_in_its_last_quarter_and_a_long_one_a_minute_before(store, monkeypatch):
    calls = []
    monkeypatch.setattr(tokens_module, "refresh", lambda *a, **k: calls.append(1) or _refused())
    short = _session(store, 60)
    with pytest.raises(SessionExpired):
        _source(store, short, NOW + timedelta(seconds=46)).access_token()
    assert calls == [1]
    assert refresh_margin(timedelta(hours=1)) == timedelta(seconds=60)
    assert refresh_margin(timedelta(seconds=60)) == timedelta(seconds=15)
    assert refresh_margin(None) == timedelta(seconds=60)  # a session stored before lifetimes were
