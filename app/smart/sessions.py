"""Server-side launch state and sessions in the database. The browser holds only opaque random ids.

Pending launches are keyed by a hash of `state` and bound to the browser by a hash of a cookie value; each is
consumed once. Sessions are keyed by a hash of the cookie id; tokens are encrypted with a key derived from the
app's secret. Nothing is kept in process memory, so any app instance can continue any launch.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken

from app.db import pending_launches, sessions

from .errors import SessionExpired, StateInvalid, TooManyLaunches
from .oauth import TokenSet

# A session's last use is written at most this often: each write is a commit (an fsync on SQLite) on every
# request. Idle expiry therefore counts from a last use at most this much behind, never ahead: a session may end
# up to a minute early, never late.
TOUCH_EVERY = timedelta(minutes=1)


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _seconds(lifetime: timedelta | None) -> int | None:
    return None if lifetime is None else int(lifetime.total_seconds())


def _lifetime(seconds: int | None) -> timedelta | None:
    return None if seconds is None else timedelta(seconds=seconds)


def new_secret() -> str:
    return secrets.token_urlsafe(32)


class Sealer:
    """Encrypts secrets at rest (Fernet) with a key derived from the app secret."""

    def __init__(self, secret_key: str):
        key = hashlib.sha256(b"sentinel-token-seal:" + secret_key.encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def seal(self, value: str | None) -> str | None:
        return None if value is None else self._fernet.encrypt(value.encode()).decode()

    def unseal(self, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return self._fernet.decrypt(value.encode()).decode()
        except InvalidToken:
            # A different SENTINEL_SECRET_KEY (e.g. instances not sharing it): the session cannot be used.
            raise SessionExpired(detail="token cannot be decrypted with this instance's key") from None


@dataclass(frozen=True)
class PendingLaunch:
    iss: str
    launch: str | None
    code_verifier: str
    nonce: str
    endpoints: dict


@dataclass(frozen=True)
class Session:
    id_hash: str
    iss: str
    token_endpoint: str
    patient_id: str
    encounter_id: str | None
    user_ref: str
    user_name: str | None
    role: str
    scope: str
    csrf_secret: str
    token_expires_at: datetime
    token_lifetime_s: int | None
    created_at: datetime
    expires_at: datetime
    last_seen_at: datetime
    # How the EHR wants the app shown: {"need_patient_banner": bool, "style": {safe smart_style_url values}}
    display: dict | None = None
    # The tokens as read with the session (still encrypted), so that a request's first FHIR call needs no second
    # read of the same row. Never shown; `SessionStore.tokens` reads them afresh (after a refresh, for instance).
    access_token_enc: str | None = field(default=None, repr=False, compare=False)
    refresh_token_enc: str | None = field(default=None, repr=False, compare=False)
    # From the launch's token response (TokenSet): a CDS card's appContext, the fhirContext references (e.g. the
    # unit of a user-level launch). Untrusted strings; whoever reads them checks what they name.
    app_context: str | None = None
    fhir_context: list | None = None

    @property
    def user(self) -> tuple[str, str]:
        """Who this session is for: the user's reference on its FHIR server (the same id on two EHRs is two people)."""
        return (self.iss, self.user_ref)

    def csrf_ok(self, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(token, self.csrf_secret)


class SessionStore:
    def __init__(self, engine: sa.Engine, sealer: Sealer, idle: timedelta, max_age: timedelta,
                 pending_ttl: timedelta, pending_per_client: int = 20, pending_max: int = 5000):
        self.engine, self.sealer = engine, sealer
        self.idle, self.max_age, self.pending_ttl = idle, max_age, pending_ttl
        self.pending_per_client, self.pending_max = pending_per_client, pending_max

    # -- pending launches -------------------------------------------------------------------------------
    def save_pending(self, state: str, browser_secret: str, pending: PendingLaunch, now: datetime,
                     client: str | None = None) -> None:
        """Store a launch until its callback. At most `pending_per_client` unfinished launches per client address
        and `pending_max` in all (TooManyLaunches otherwise): /launch needs no sign-in, so it must not be a way
        to fill the database. Finished and expired launches do not count."""
        t = pending_launches
        client_hash = _hash(f"client:{client}") if client else None
        with self.engine.begin() as conn:
            conn.execute(t.delete().where(t.c.expires_at < now))
            waiting = sa.select(sa.func.count()).select_from(t).where(t.c.used_at.is_(None))
            if client_hash is not None and conn.execute(
                    waiting.where(t.c.client_hash == client_hash)).scalar() >= self.pending_per_client:
                raise TooManyLaunches(detail="pending launches per client address at the limit")
            if conn.execute(waiting).scalar() >= self.pending_max:
                raise TooManyLaunches(detail="pending launches in all at the limit")
            conn.execute(t.insert().values(
                state_hash=_hash(state), browser_hash=_hash(browser_secret), client_hash=client_hash,
                iss=pending.iss, launch=pending.launch,
                code_verifier_enc=self.sealer.seal(pending.code_verifier), nonce=pending.nonce,
                endpoints=pending.endpoints, created_at=now, expires_at=now + self.pending_ttl))

    def consume_pending(self, state: str | None, browser_secret: str | None, now: datetime) -> PendingLaunch:
        """The launch this state belongs to, exactly once, and only in the browser that started it."""
        if not state or not browser_secret:
            raise StateInvalid(detail="state or browser binding missing")
        t = pending_launches
        with self.engine.begin() as conn:
            # Mark used first, conditionally: of two concurrent callbacks with the same state, one wins.
            claimed = conn.execute(
                t.update().where(t.c.state_hash == _hash(state), t.c.used_at.is_(None), t.c.expires_at >= now,
                                 t.c.browser_hash == _hash(browser_secret)).values(used_at=now)).rowcount
            if claimed != 1:
                raise StateInvalid(detail="state unknown, used, expired or from another browser")
            row = conn.execute(sa.select(t).where(t.c.state_hash == _hash(state))).mappings().one()
        return PendingLaunch(iss=row["iss"], launch=row["launch"],
                             code_verifier=self.sealer.unseal(row["code_verifier_enc"]), nonce=row["nonce"],
                             endpoints=row["endpoints"])

    # -- sessions ---------------------------------------------------------------------------------------
    def create(self, *, iss: str, token_endpoint: str, tokens: TokenSet, user_ref: str, user_name: str | None,
               role: str, now: datetime, display: dict | None = None,
               also: Callable[[sa.Connection, Session], None] | None = None) -> tuple[str, Session]:
        """Open a session. `also(conn, session)` writes in the same transaction (the launch's audit row), so a
        launch costs one commit here, and the session and its audit row exist together or not at all."""
        session_id = new_secret()
        values = dict(
            # patient "" is a user-level (unit board) session: bound to no patient, so no patient page accepts it
            id_hash=_hash(session_id), iss=iss, token_endpoint=token_endpoint, patient_id=tokens.patient or "",
            encounter_id=tokens.encounter, user_ref=user_ref, user_name=user_name, role=role, scope=tokens.scope,
            access_token_enc=self.sealer.seal(tokens.access_token),
            refresh_token_enc=self.sealer.seal(tokens.refresh_token), token_expires_at=tokens.expires_at,
            token_lifetime_s=_seconds(tokens.lifetime), csrf_secret=new_secret(), created_at=now, last_seen_at=now,
            expires_at=now + self.max_age, display=display, app_context=tokens.app_context,
            fhir_context=list(tokens.fhir_context) or None)
        session = self._session(values)
        with self.engine.begin() as conn:
            conn.execute(sessions.delete().where(sessions.c.expires_at < now - timedelta(days=1)))
            conn.execute(sessions.insert().values(**values))
            if also is not None:
                also(conn, session)
        return session_id, session

    @staticmethod
    def _session(row) -> Session:
        return Session(**{k: row[k] for k in Session.__dataclass_fields__})

    def _all_live(self, session_ids: list[str], now: datetime) -> list[Session]:
        if not session_ids:
            return []
        s = sessions
        hashes = [_hash(i) for i in session_ids[:16]]
        query = sa.select(s).where(s.c.id_hash.in_(hashes), s.c.ended_at.is_(None), s.c.expires_at > now,
                                   s.c.last_seen_at > now - self.idle)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(s.c.created_at.desc(), s.c.id_hash)).mappings().all()
        return [self._session(r) for r in rows]

    def live(self, session_ids: list[str], now: datetime, patient_id: str | None = None) -> list[Session]:
        """The browser's live sessions, newest first (for `patient_id`, when given). Read-only.

        Only the sessions of the user who launched last count: on a shared workstation, a session another user
        opened earlier in this browser is never chosen, even if its id is still in the cookie."""
        found = self._all_live(session_ids, now)
        if found:
            user = found[0].user
            found = [s for s in found if s.user == user]
        return [s for s in found if patient_id is None or s.patient_id == patient_id]

    def find(self, session_ids: list[str], now: datetime, patient_id: str | None = None) -> Session | None:
        """The newest live session among the browser's ids (for `patient_id`, when given); marks it in use (a
        write only when the last recorded use is TOUCH_EVERY old, so most requests only read)."""
        found = self.live(session_ids, now, patient_id)
        if not found:
            return None
        session = found[0]
        if session.last_seen_at <= now - TOUCH_EVERY:
            with self.engine.begin() as conn:
                conn.execute(sessions.update().where(sessions.c.id_hash == session.id_hash,
                                                     sessions.c.last_seen_at < now).values(last_seen_at=now))
        return session

    def _first(self, query):
        with self.engine.connect() as conn:
            return conn.execute(query.limit(1)).mappings().first()

    def tokens_as_read(self, session: Session) -> TokenSet:
        """The tokens read with the session at the start of this request; from the database if it has none."""
        if session.access_token_enc is None:
            return self.tokens(session)
        return TokenSet(access_token=self.sealer.unseal(session.access_token_enc),
                        refresh_token=self.sealer.unseal(session.refresh_token_enc),
                        expires_at=session.token_expires_at, scope=session.scope, patient=session.patient_id,
                        encounter=session.encounter_id, id_token=None, lifetime=_lifetime(session.token_lifetime_s))

    def tokens(self, session: Session) -> TokenSet:
        """The session's tokens as stored now (another request may have refreshed them)."""
        row = self._first(sa.select(sessions).where(sessions.c.id_hash == session.id_hash))
        if row is None or row["ended_at"] is not None:
            raise SessionExpired(detail="session gone")
        return TokenSet(access_token=self.sealer.unseal(row["access_token_enc"]),
                        refresh_token=self.sealer.unseal(row["refresh_token_enc"]),
                        expires_at=row["token_expires_at"], scope=row["scope"], patient=row["patient_id"],
                        encounter=row["encounter_id"], id_token=None, lifetime=_lifetime(row["token_lifetime_s"]))

    def replace_tokens(self, session: Session, old: TokenSet, new: TokenSet) -> bool:
        """Store refreshed tokens unless another request already did (compare-and-set on the old token)."""
        s = sessions
        with self.engine.begin() as conn:
            current = conn.execute(sa.select(s.c.access_token_enc).where(s.c.id_hash == session.id_hash)).scalar()
            if current is None or self.sealer.unseal(current) != old.access_token:
                return False
            # Conditional on the ciphertext just read, so of two concurrent refreshes one wins, on SQLite too
            # (which has no SELECT ... FOR UPDATE).
            return conn.execute(s.update().where(s.c.id_hash == session.id_hash, s.c.access_token_enc == current)
                                .values(access_token_enc=self.sealer.seal(new.access_token),
                                        refresh_token_enc=self.sealer.seal(new.refresh_token),
                                        token_expires_at=new.expires_at,
                                        token_lifetime_s=_seconds(new.lifetime))).rowcount == 1

    def end(self, session: Session, now: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(sessions.update().where(sessions.c.id_hash == session.id_hash).values(ended_at=now))

    def end_sessions(self, session_ids: list[str], now: datetime, *, keep_user: tuple[str, str] | None = None,
                     also: Callable[[sa.Connection, Session], None] | None = None) -> list[Session]:
        """End the live sessions among `session_ids` (all of them, or those not of `keep_user` = (iss, user_ref))
        on the server, so a copied cookie cannot bring them back. `also(conn, session)` writes in the same
        transaction for each one ended (its audit row). Returns the sessions ended."""
        ending = [s for s in self._all_live(session_ids, now) if keep_user is None or s.user != keep_user]
        if not ending:
            return []
        ended = []
        with self.engine.begin() as conn:
            for session in ending:
                done = conn.execute(sessions.update().where(sessions.c.id_hash == session.id_hash,
                                                            sessions.c.ended_at.is_(None))
                                    .values(ended_at=now)).rowcount
                if done:
                    ended.append(session)
                    if also is not None:
                        also(conn, session)
        return ended

    def ids_of_user(self, session_ids: list[str], now: datetime, user: tuple[str, str]) -> list[str]:
        """The ids (as the cookie holds them) of this user's live sessions among `session_ids`, in cookie order."""
        mine = {s.id_hash for s in self._all_live(session_ids, now) if s.user == user}
        return [i for i in session_ids if _hash(i) in mine]
