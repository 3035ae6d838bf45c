from datetime import UTC, datetime, timedelta

import pytest

from app.smart.errors import SessionExpired, StateInvalid
from app.smart.oauth import TokenSet
from app.smart.sessions import PendingLaunch, Sealer, SessionStore

NOW = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)


@pytest.fixture
def store(engine):
    return SessionStore(engine, Sealer("k" * 40), idle=timedelta(minutes=60), max_age=timedelta(hours=12),
                        pending_ttl=timedelta(minutes=10))


def pending():
    return PendingLaunch(iss="https://ehr/fhir", launch="L1", code_verifier="v" * 50, nonce="n", endpoints={"a": 1})


def tokens(access="at-1", patient="p1"):
    return TokenSet(access_token=access, refresh_token="rt-1", expires_at=NOW + timedelta(hours=1), scope="s",
                    patient=patient, encounter="e1", id_token=None)


def test_pending_launch_is_consumed_once_and_only_by_its_browser(store):
    store.save_pending("state-1", "browser-1", pending(), NOW)
    with pytest.raises(StateInvalid):
        store.consume_pending("state-1", "another-browser", NOW)
    assert store.consume_pending("state-1", "browser-1", NOW).code_verifier == "v" * 50
    with pytest.raises(StateInvalid):  # replay
        store.consume_pending("state-1", "browser-1", NOW)


def test_pending_launch_expires(store):
    store.save_pending("state-2", "b", pending(), NOW)
    with pytest.raises(StateInvalid):
        store.consume_pending("state-2", "b", NOW + timedelta(minutes=11))


def test_secrets_are_encrypted_at_rest(store, engine):
    import sqlalchemy as sa

    store.save_pending("s", "b", pending(), NOW)
    sid, _ = store.create(iss="i", token_endpoint="t", tokens=tokens("secret-access"), user_ref="Practitioner/1",
                          user_name=None, role="nurse", now=NOW)
    with engine.connect() as conn:
        dump = " ".join(str(v) for t in ("sessions", "pending_launches")
                        for row in conn.execute(sa.text(f"SELECT * FROM {t}")) for v in row)  # noqa: S608
    assert "secret-access" not in dump and "v" * 50 not in dump and sid not in dump


def test_session_is_bound_to_its_patient_and_expires_when_idle(store):
    sid, _ = store.create(iss="i", token_endpoint="t", tokens=tokens(patient="p1"), user_ref="Practitioner/1",
                          user_name="N", role="nurse", now=NOW)
    assert store.find([sid], NOW, patient_id="p1").role == "nurse"
    assert store.find([sid], NOW, patient_id="p2") is None
    assert store.find([sid], NOW + timedelta(minutes=61)) is None


def test_two_sessions_in_one_browser_each_keep_their_patient(store):
    a, _ = store.create(iss="i", token_endpoint="t", tokens=tokens(patient="p1"), user_ref="u", user_name=None,
                        role="nurse", now=NOW)
    b, _ = store.create(iss="i", token_endpoint="t", tokens=tokens(patient="p2"), user_ref="u", user_name=None,
                        role="nurse", now=NOW + timedelta(seconds=1))
    assert store.find([b, a], NOW, patient_id="p1").patient_id == "p1"
    assert store.find([b, a], NOW, patient_id="p2").patient_id == "p2"


def test_concurrent_refresh_keeps_the_first_winner(store):
    _, session = store.create(iss="i", token_endpoint="t", tokens=tokens("old"), user_ref="u", user_name=None,
                              role="nurse", now=NOW)
    old = store.tokens(session)
    assert store.replace_tokens(session, old, tokens("new-1"))
    assert not store.replace_tokens(session, old, tokens("new-2"))
    assert store.tokens(session).access_token == "new-1"


def test_a_refresh_that_lands_between_read_and_write_is_not_overwritten(store, monkeypatch):
    _, session = store.create(iss="i", token_endpoint="t", tokens=tokens("old"), user_ref="u", user_name=None,
                              role="nurse", now=NOW)
    old = store.tokens(session)
    unseal, raced = store.sealer.unseal, []

    def unseal_while_another_request_refreshes(value):
        if not raced:
            raced.append(True)
            assert store.replace_tokens(session, old, tokens("theirs"))
        return unseal(value)

    monkeypatch.setattr(store.sealer, "unseal", unseal_while_another_request_refreshes)
    assert not store.replace_tokens(session, old, tokens("mine"))
    assert store.tokens(session).access_token == "theirs"


def test_another_instance_key_cannot_read_tokens(store, engine):
    _, session = store.create(iss="i", token_endpoint="t", tokens=tokens(), user_ref="u", user_name=None,
                              role="nurse", now=NOW)
    other = SessionStore(engine, Sealer("x" * 40), idle=timedelta(minutes=60), max_age=timedelta(hours=12),
                         pending_ttl=timedelta(minutes=10))
    with pytest.raises(SessionExpired):
        other.tokens(session)


def _last_seen(engine, session_id_hash):
    import sqlalchemy as sa

    from app.db import sessions

    with engine.connect() as conn:
        return conn.execute(sa.select(sessions.c.last_seen_at).where(sessions.c.id_hash == session_id_hash)).scalar()


def test_use_is_written_at_most_once_a_minute_and_idle_expiry_still_holds(store, engine):
    sid, session = store.create(iss="i", token_endpoint="t", tokens=tokens(), user_ref="u", user_name=None,
                                role="nurse", now=NOW)
    for seconds in (1, 30, 59):  # within the minute: read only, no write (no commit per request)
        assert store.find([sid], NOW + timedelta(seconds=seconds)) is not None
        assert _last_seen(engine, session.id_hash) == NOW
    later = NOW + timedelta(minutes=1, seconds=5)
    assert store.find([sid], later) is not None
    assert _last_seen(engine, session.id_hash) == later
    # Idle time counts from the last recorded use: 60 minutes after it the session has ended.
    assert store.find([sid], later + timedelta(minutes=59)) is not None
    assert store.find([sid], later + timedelta(minutes=59) + timedelta(minutes=61)) is None


def test_a_session_is_written_with_what_the_caller_adds_in_one_transaction(store, engine):
    import sqlalchemy as sa

    from app.audit import record
    from app.db import audit_log, sessions

    def audit(conn, session):
        record(conn, at=NOW, user_ref=session.user_ref, role=session.role, patient_id=session.patient_id,
               action="launch")

    sid, _ = store.create(iss="i", token_endpoint="t", tokens=tokens(), user_ref="u", user_name=None, role="nurse",
                          now=NOW, also=audit)
    assert store.find([sid], NOW).patient_id == "p1"

    def fails(conn, session):
        raise RuntimeError("audit could not be written")

    with pytest.raises(RuntimeError):
        store.create(iss="i", token_endpoint="t", tokens=tokens(patient="p2"), user_ref="u", user_name=None,
                     role="nurse", now=NOW, also=fails)
    with engine.connect() as conn:  # neither the session nor its audit row: both or nothing
        assert conn.execute(sa.select(sa.func.count()).select_from(sessions)).scalar() == 1
        assert conn.execute(sa.select(audit_log.c.patient_id)).scalars().all() == ["p1"]


def test_the_tokens_read_with_the_session_are_used_first_and_a_fresh_read_sees_a_refresh(store):
    sid, _ = store.create(iss="i", token_endpoint="t", tokens=tokens("at-1"), user_ref="u", user_name=None,
                          role="nurse", now=NOW)
    session = store.find([sid], NOW)
    assert store.tokens_as_read(session) == store.tokens(session)
    assert "at-1" not in repr(session)  # kept sealed, and never shown
    assert store.replace_tokens(session, store.tokens(session), tokens("at-2"))
    assert store.tokens_as_read(session).access_token == "at-1"  # as read at the start of the request
    assert store.tokens(session).access_token == "at-2"  # what a refresh that lost the race falls back to
