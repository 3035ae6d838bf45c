"""What the authorization server remembers: clients, launches, authorization codes and tokens, in memory.

The record classes implement the methods Authlib's grants call (ClientMixin, AuthorizationCodeMixin, TokenMixin).
`AuthStore` holds them behind one lock, since the sandbox serves requests on several threads.
"""

from __future__ import annotations

import hmac
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from authlib.oauth2.rfc6749 import ClientMixin, TokenMixin
from authlib.oidc.core import AuthorizationCodeMixin

from . import scopes as smart_scopes

DEFAULT_CLIENT_SCOPE = ("launch launch/patient launch/encounter openid fhirUser profile online_access "
                        "offline_access patient/*.cruds user/*.cruds")


@dataclass
class Client(ClientMixin):
    client_id: str
    redirect_uris: tuple[str, ...]
    launch_url: str | None
    client_secret: str | None = None  # None: a public client
    scope: str = DEFAULT_CLIENT_SCOPE
    name: str = "Sepsis Sentinel"

    @property
    def public(self) -> bool:
        return self.client_secret is None

    def get_client_id(self):
        return self.client_id

    def get_default_redirect_uri(self):
        # SMART App Launch: redirect_uri is required on every authorization request, so there is no default.
        return None

    def get_allowed_scope(self, scope):
        return smart_scopes.grant(scope, self.scope)

    def check_redirect_uri(self, redirect_uri):
        return redirect_uri in self.redirect_uris  # exact string match, as registered

    def check_client_secret(self, client_secret):
        return self.client_secret is not None and hmac.compare_digest(self.client_secret, client_secret)

    def check_endpoint_auth_method(self, method, endpoint):
        # Public clients send no secret; confidential-symmetric clients use HTTP Basic (SMART
        # "client-confidential-symmetric").
        return method == ("none" if self.public else "client_secret_basic")

    def check_response_type(self, response_type):
        return response_type == "code"

    def check_grant_type(self, grant_type):
        return grant_type in ("authorization_code", "refresh_token")


@dataclass(frozen=True)
class EndUser:
    """Who approved, and the context they established (the EHR launch's, or the standalone picker's)."""

    practitioner_id: str
    patient_id: str | None = None
    encounter_id: str | None = None
    launch_id: str | None = None
    need_patient_banner: bool = True
    # A launch from a CDS Hooks card's SMART link: the link's appContext, returned with the token (CDS Hooks 2.0
    # Link.appContext; SMART App Launch 2 context parameters), and the FHIR resources in context (fhirContext).
    app_context: str | None = None
    fhir_context: tuple[str, ...] = ()


@dataclass
class Launch:
    """An EHR launch: the opaque `launch` handed to the app, bound to user, patient, encounter and client."""

    launch_id: str
    client_id: str
    user: EndUser
    created_at: float
    used: bool = False


@dataclass
class AuthorizationCode(AuthorizationCodeMixin):
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    user: EndUser
    code_challenge: str | None
    code_challenge_method: str | None
    nonce: str | None
    auth_time: int
    expires_at: float
    spent: bool = False
    token_ids: list[str] = field(default_factory=list)

    def get_redirect_uri(self):
        return self.redirect_uri

    def get_scope(self):
        return self.scope

    def get_nonce(self):
        return self.nonce

    def get_auth_time(self):
        return self.auth_time

    def get_acr(self):
        return None

    def get_amr(self):
        return None


@dataclass
class Token(TokenMixin):
    """One access token (and the refresh token issued with it, if any)."""

    token_id: str
    access_token: str
    refresh_token: str | None
    client_id: str
    scope: str
    user: EndUser
    aud: str  # the FHIR base the token was issued for
    issued_at: float
    expires_in: int
    serial: int  # issue order; the expired-tokens fault retires every serial up to a cutoff
    lineage: str  # the authorization code the whole refresh chain started from
    clock: Callable[[], float]
    expired_below: Callable[[], int]
    refresh_expires_at: float | None = None
    revoked: bool = False
    refresh_revoked: bool = False

    def check_client(self, client):
        return self.client_id == client.get_client_id()

    def get_scope(self):
        return self.scope

    def get_expires_in(self):
        return self.expires_in

    def is_expired(self):
        return self.clock() >= self.issued_at + self.expires_in or self.serial <= self.expired_below()

    def is_revoked(self):
        return self.revoked

    def get_user(self):
        return self.user

    def get_client(self):
        return None  # not used by the grants in use here


class AuthStore:
    """Clients, launches, codes and tokens, guarded by one lock."""

    def __init__(self, clock: Callable[[], float]):
        self.clock = clock
        self.lock = threading.RLock()
        self.clients: dict[str, Client] = {}
        self.launches: dict[str, Launch] = {}
        self.codes: dict[str, AuthorizationCode] = {}
        self.tokens: dict[str, Token] = {}  # by token_id
        self._by_access: dict[str, Token] = {}
        self._by_refresh: dict[str, Token] = {}
        self.used_nonces: set[tuple[str, str]] = set()
        self.used_jtis: dict[tuple[str, str], float] = {}  # (client, jti) -> the assertion's exp
        self.pending: dict[str, tuple[float, str, dict]] = {}  # standalone approvals waiting for the user
        self._serial = 0
        self.expired_below = 0  # tokens with serial <= this are expired (fault switch)

    # clients
    def add_client(self, client: Client) -> None:
        with self.lock:
            self.clients[client.client_id] = client

    def client(self, client_id: str | None) -> Client | None:
        return self.clients.get(client_id) if client_id else None

    def use_jti(self, client_id: str, jti: str, exp: float) -> bool:
        """Record a client assertion's jti; False if it was seen before. Entries go once their assertion expired
        (a replay after that fails on exp anyway), so the cache stays as small as five minutes of traffic."""
        with self.lock:
            now = self.clock()
            for seen, seen_exp in list(self.used_jtis.items()):
                if seen_exp <= now:
                    del self.used_jtis[seen]
            if (client_id, jti) in self.used_jtis:
                return False
            self.used_jtis[(client_id, jti)] = exp
            return True

    # launches
    def new_launch(self, client_id: str, user: EndUser, need_patient_banner: bool = False) -> Launch:
        """`need_patient_banner`: False (the default) as the chart shows its own banner around the app's iframe;
        True for a chart that does not, so the app shows one."""
        launch_id = secrets.token_urlsafe(18)
        launch = Launch(launch_id, client_id, EndUser(user.practitioner_id, user.patient_id, user.encounter_id,
                                                      launch_id, need_patient_banner=need_patient_banner,
                                                      app_context=user.app_context, fhir_context=user.fhir_context),
                        self.clock())
        with self.lock:
            self.launches[launch_id] = launch
        return launch

    def launch(self, launch_id: str | None, client_id: str | None, lifetime: int) -> Launch | None:
        """A launch that may still be used by this client, or None."""
        launch = self.launches.get(launch_id or "")
        if not launch or launch.used or launch.client_id != client_id or self.clock() > launch.created_at + lifetime:
            return None
        return launch

    # codes
    def save_code(self, code: AuthorizationCode) -> None:
        with self.lock:
            self.codes[code.code] = code
            if code.nonce:
                self.used_nonces.add((code.client_id, code.nonce))
            if code.user.launch_id and code.user.launch_id in self.launches:
                self.launches[code.user.launch_id].used = True  # a launch is good for one authorization

    def claim_code(self, code: str, client_id: str) -> AuthorizationCode | None:
        """The code if it is live and issued to this client; it is spent at once (single use, even under races).

        A second use revokes every token issued from the code (RFC 6749 10.5).
        """
        with self.lock:
            record = self.codes.get(code)
            if record is None or record.client_id != client_id:
                return None
            if record.spent:
                self.revoke_lineage(record.code)
                return None
            record.spent = True
            if self.clock() >= record.expires_at:
                return None
            return record

    # tokens
    def add_token(self, token: Token) -> None:
        with self.lock:
            self.tokens[token.token_id] = token
            self._by_access[token.access_token] = token
            if token.refresh_token:
                self._by_refresh[token.refresh_token] = token
            record = self.codes.get(token.lineage)
            if record is not None:
                record.token_ids.append(token.token_id)

    def next_serial(self) -> int:
        with self.lock:
            self._serial += 1
            return self._serial

    def by_access(self, access_token: str) -> Token | None:
        return self._by_access.get(access_token)

    def by_refresh(self, refresh_token: str) -> Token | None:
        return self._by_refresh.get(refresh_token)

    def revoke_lineage(self, lineage: str) -> None:
        with self.lock:
            for token in self.tokens.values():
                if token.lineage == lineage:
                    token.revoked = True
                    token.refresh_revoked = True

    def expire_all_access_tokens(self) -> None:
        with self.lock:
            self.expired_below = self._serial

    # standalone approvals
    def put_pending(self, params: dict, uri: str) -> str:
        txn = secrets.token_urlsafe(24)
        with self.lock:
            self.pending[txn] = (self.clock(), uri, params)
        return txn

    def take_pending(self, txn: str | None, lifetime: int) -> tuple[str, dict] | None:
        with self.lock:
            item = self.pending.pop(txn or "", None)
        if item is None or self.clock() > item[0] + lifetime:
            return None
        return item[1], item[2]
