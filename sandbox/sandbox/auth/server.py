"""The SMART App Launch 2.0 authorization server, built from Authlib's server components.

Authlib does RFC 6749 (authorization code and refresh grants, client authentication, error responses), RFC 7636
(PKCE, here S256 only: SMART servers "SHALL NOT support the plain method"), OpenID Connect (the id_token) and
RFC 7662 (introspection). This module adds what SMART adds: `aud` must be this FHIR base, an EHR launch
(`launch` scope) must carry a live `launch` id, and the token response carries the launch context.
"""

from __future__ import annotations

import secrets

from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.oauth2.rfc6749 import InvalidRequestError, InvalidScopeError, OAuth2Error, OAuth2Request, grants
from authlib.oauth2.rfc6750 import BearerTokenValidator
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from authlib.oidc.core import OpenIDCode

from .. import state
from ..users import USERS_BY_ID
from . import scopes as smart_scopes
from .backend import AUTH_METHOD, BackendServicesGrant, authenticate_private_key_jwt
from .models import AuthorizationCode, EndUser, Token

TOKEN_AUTH_METHODS = ["client_secret_basic", "none"]


def fhir_user_url(practitioner_id: str) -> str:
    """The user's fhirUser; a user who is not a Practitioner (the patient themself) is stored as "Patient/<id>"."""
    relative = practitioner_id if "/" in practitioner_id else f"Practitioner/{practitioner_id}"
    if state.current().settings["FHIR_USER"] == "relative":
        return relative  # as the public SMART sandbox sends it
    return f"{state.fhir_base()}/{relative}"


def _context(user: EndUser) -> dict:
    """Launch context parameters for the token response (SMART "Launch context arrives with your access_token")."""
    out: dict = {}
    if user.patient_id:
        out["patient"] = user.patient_id
    if user.encounter_id:
        out["encounter"] = user.encounter_id
    out["need_patient_banner"] = user.need_patient_banner
    out["smart_style_url"] = f"{state.base_url()}/ehr/smart-style.json"
    if user.app_context is not None:
        out["appContext"] = user.app_context
    if user.fhir_context:
        out["fhirContext"] = [{"reference": ref} for ref in user.fhir_context]
    return out


def narrow_to_context(scope: str, user: EndUser) -> str:
    """Drop what the established context cannot support: patient scopes without a patient, and context hints."""
    kept = []
    for s in smart_scopes.split(scope):
        clinical = smart_scopes.parse_clinical(s)
        if (clinical and clinical.context == "patient" or s == "launch/patient") and not user.patient_id:
            continue
        if s == "launch/encounter" and not user.encounter_id:
            continue
        if s == "launch" and not user.launch_id:
            continue
        kept.append(s)
    return " ".join(kept)


class SandboxAuthorizationServer(AuthorizationServer):
    def create_oauth2_request(self, request):
        # A standalone approval replays the stored authorization request, already an OAuth2Request.
        if isinstance(request, OAuth2Request):
            return request
        return super().create_oauth2_request(request)


class S256CodeChallenge(CodeChallenge):
    """PKCE is required of every client, and only S256 (SMART App Launch 2.0, "Considerations for PKCE")."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant, redirect_uri):
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("PKCE is required: send code_challenge and code_challenge_method=S256.")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("code_challenge_method must be S256; plain is not supported.")
        super().validate_code_challenge(grant, redirect_uri)


class SmartOpenIDCode(OpenIDCode):
    """The id_token: RS256 with the sandbox key; iss is the FHIR base, aud the client, fhirUser the user."""

    def exists_nonce(self, nonce, request):
        return (request.payload.client_id, nonce) in state.current().auth.used_nonces

    def resolve_client_private_key(self, client):
        return state.current().key.key

    def get_client_algorithm(self, client):
        return "RS256"

    def get_encode_header(self, client):
        return state.current().key.header()

    def get_client_claims(self, client):
        sandbox = state.current()
        now = int(sandbox.now())
        return {"iss": state.fhir_base(), "aud": client.client_id, "iat": now,
                "exp": now + sandbox.settings["ID_TOKEN_LIFETIME"]}

    def generate_user_info(self, user, scope):
        claims = {"sub": user.practitioner_id}
        granted = smart_scopes.split(scope)
        if "fhirUser" in granted:
            claims["fhirUser"] = fhir_user_url(user.practitioner_id)
        if "profile" in granted and user.practitioner_id in USERS_BY_ID:
            claims["name"] = USERS_BY_ID[user.practitioner_id].name
        return claims


class SmartAuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = TOKEN_AUTH_METHODS

    def validate_authorization_request(self):
        redirect_uri = super().validate_authorization_request()
        try:
            self._validate_smart()
        except OAuth2Error as error:  # after the redirect_uri is known good, errors go back to the client
            error.redirect_uri = redirect_uri
            raise
        return redirect_uri

    def _validate_smart(self):
        sandbox = state.current()
        data = self.request.payload.data
        if not data.get("state"):
            raise InvalidRequestError("Missing 'state' (SMART App Launch requires it).")
        aud = data.get("aud")
        if not aud:
            raise InvalidRequestError("Missing 'aud': send this server's FHIR base URL.")
        if aud.rstrip("/") != state.fhir_base():
            raise InvalidRequestError("'aud' is not this server's FHIR base URL.")
        requested = smart_scopes.split(self.request.payload.scope)
        launch_id = data.get("launch")
        self.request.smart_launch = None
        if "launch" in requested:
            if not launch_id:
                raise InvalidRequestError("Missing 'launch': the 'launch' scope is for an EHR launch.")
            launch = sandbox.auth.launch(launch_id, self.request.payload.client_id,
                                         sandbox.settings["LAUNCH_LIFETIME"])
            if launch is None:
                raise InvalidRequestError("The 'launch' is unknown, expired, already used or for another app.")
            self.request.smart_launch = launch
        elif launch_id:
            raise InvalidScopeError("A 'launch' parameter needs the 'launch' scope.")

    def save_authorization_code(self, code, request):
        sandbox = state.current()
        user: EndUser = request.user
        now = sandbox.now()
        data = request.payload.data
        sandbox.auth.save_code(AuthorizationCode(
            code=code, client_id=request.client.client_id, redirect_uri=request.payload.redirect_uri,
            scope=narrow_to_context(request.scope, user), user=user,
            code_challenge=data.get("code_challenge"), code_challenge_method=data.get("code_challenge_method"),
            nonce=data.get("nonce"), auth_time=int(now), expires_at=now + sandbox.settings["AUTH_CODE_LIFETIME"],
        ))

    def query_authorization_code(self, code, client):
        return state.current().auth.claim_code(code, client.client_id)

    def delete_authorization_code(self, authorization_code):
        pass  # spent when claimed, so that a second use can be recognised (RFC 6749 10.5)

    def authenticate_user(self, authorization_code):
        return authorization_code.user

    def create_token_response(self):
        status, token, headers = super().create_token_response()
        token.update(_context(self.request.user))
        return status, token, headers


class SmartRefreshTokenGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = TOKEN_AUTH_METHODS

    @property
    def INCLUDE_NEW_REFRESH_TOKEN(self):  # noqa: N802 - Authlib's attribute name
        return state.current().settings["ROTATE_REFRESH_TOKENS"]

    def authenticate_refresh_token(self, refresh_token):
        sandbox = state.current()
        token = sandbox.auth.by_refresh(refresh_token)
        if token is None:
            return None
        if token.refresh_revoked:
            # A retired refresh token came back: someone kept a copy. Revoke the whole chain
            # (OAuth 2.0 Security BCP, RFC 9700 section 4.14).
            sandbox.auth.revoke_lineage(token.lineage)
            return None
        if token.refresh_expires_at is not None and sandbox.now() >= token.refresh_expires_at:
            return None
        return token

    def authenticate_user(self, refresh_token):
        return refresh_token.user

    def revoke_old_credential(self, refresh_token):
        if self.INCLUDE_NEW_REFRESH_TOKEN:
            refresh_token.refresh_revoked = True

    def create_token_response(self):
        status, token, headers = super().create_token_response()
        token.update(_context(self.request.user))
        return status, token, headers


class SmartIntrospection(IntrospectionEndpoint):
    """RFC 7662 for access tokens, for confidential clients (HTTP Basic), about their own tokens."""

    CLIENT_AUTH_METHODS = ["client_secret_basic"]

    def query_token(self, token_string, token_type_hint):
        return state.current().auth.by_access(token_string)

    def check_permission(self, token, client, request):
        return token.client_id == client.client_id

    def introspect_token(self, token):
        out = {"active": True, "client_id": token.client_id, "scope": token.scope, "token_type": "Bearer",
               "iat": int(token.issued_at), "exp": int(token.issued_at + token.expires_in),
               "sub": token.user.practitioner_id, "iss": state.fhir_base(), "aud": token.aud,
               "fhirUser": fhir_user_url(token.user.practitioner_id)}
        out.update({k: v for k, v in _context(token.user).items() if k in ("patient", "encounter")})
        return out


class SandboxBearerValidator(BearerTokenValidator):
    def authenticate_token(self, token_string):
        return state.current().auth.by_access(token_string)


def _generate_token(grant_type, client, user=None, scope=None, expires_in=None, include_refresh_token=True):
    sandbox = state.current()
    granted = client.get_allowed_scope(scope)
    if granted is None:
        raise InvalidScopeError()
    lifetime = sandbox.settings["BACKEND_TOKEN_LIFETIME" if grant_type == "client_credentials" else
                                "ACCESS_TOKEN_LIFETIME"]
    token = {"token_type": "Bearer", "access_token": secrets.token_urlsafe(32), "expires_in": lifetime,
             "scope": granted}
    # SMART: a refresh token only when online_access or offline_access was granted.
    if include_refresh_token and smart_scopes.REFRESH_SCOPES & set(smart_scopes.split(granted)):
        token["refresh_token"] = secrets.token_urlsafe(48)
    return token


def _save_token(token: dict, request) -> None:
    sandbox = state.current()
    now = sandbox.now()
    user = request.user
    if request.payload.grant_type == "client_credentials":
        # Backend Services: no user and no patient; each token is its own lineage (there is nothing to refresh).
        lineage = "system:" + secrets.token_hex(8)
        user = EndUser(practitioner_id=f"system:{request.client.client_id}", need_patient_banner=False)
    elif request.authorization_code is not None:
        lineage = request.authorization_code.code
    else:
        lineage = request.refresh_token.lineage
    auth = sandbox.auth
    refresh = token.get("refresh_token")
    auth.add_token(Token(
        token_id=secrets.token_hex(12), access_token=token["access_token"], refresh_token=refresh,
        client_id=request.client.client_id, scope=token["scope"], user=user, aud=state.fhir_base(),
        issued_at=now, expires_in=token["expires_in"], serial=auth.next_serial(), lineage=lineage,
        clock=sandbox.clock, expired_below=lambda: auth.expired_below,
        refresh_expires_at=now + sandbox.settings["REFRESH_TOKEN_LIFETIME"] if refresh else None,
    ))


def build(app, sandbox) -> None:
    """Create the Authlib server and resource protector for this sandbox app."""
    server = SandboxAuthorizationServer()
    server.init_app(app, query_client=sandbox.auth.client, save_token=_save_token)
    server.register_token_generator("default", _generate_token)
    server.register_grant(SmartAuthorizationCodeGrant, [S256CodeChallenge(required=True), SmartOpenIDCode()])
    server.register_grant(SmartRefreshTokenGrant)
    server.register_client_auth_method(AUTH_METHOD, authenticate_private_key_jwt)
    server.register_grant(BackendServicesGrant)
    server.register_endpoint(SmartIntrospection)
    protector = ResourceProtector()
    protector.register_token_validator(SandboxBearerValidator())
    sandbox.auth_server = server
    sandbox.protector = protector
