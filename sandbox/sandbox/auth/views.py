"""The authorization server's HTTP endpoints under `{BASE}/auth/`: authorize (GET and POST), the standalone
sign-in decision, token, jwks and introspect."""

from __future__ import annotations

from authlib.oauth2.rfc6749 import OAuth2Error, OAuth2Request
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from flask import Blueprint, Response, jsonify, redirect, render_template, request

from .. import state
from ..ehr.patients import in_progress_encounter, patient_label
from ..users import USERS, USERS_BY_ID
from . import scopes as smart_scopes
from .models import EndUser

bp = Blueprint("auth", __name__, url_prefix="/auth")


def _error_page(error: OAuth2Error, status: int = 400):
    """RFC 6749 4.1.2.1: without a verified client and redirect_uri, the error is shown, never redirected."""
    return render_template("auth/error.html", error=error.error, description=error.description), status


def _error_response(error: OAuth2Error):
    if error.redirect_uri:
        _status, _body, headers = error()
        return redirect(dict(headers)["Location"], code=302)
    return _error_page(error)


def _needs_patient(scope: str | None) -> bool:
    requested = smart_scopes.split(scope)
    return "launch/patient" in requested or smart_scopes.has_patient_scopes(scope)


@bp.route("/authorize", methods=["GET", "POST"])
def authorize():
    """EHR launch: approve at once as the EHR user who opened the app. Standalone: show sign-in and picker."""
    sandbox = state.current()
    server = sandbox.auth_server
    launch = sandbox.auth.launch(request.values.get("launch"), request.values.get("client_id"),
                                 sandbox.settings["LAUNCH_LIFETIME"])
    try:
        grant = server.get_consent_grant(end_user=launch.user if launch else None)
    except OAuth2Error as error:
        return _error_response(error)
    launch = grant.request.smart_launch
    if launch is not None:
        return server.create_authorization_response(grant_user=launch.user, grant=grant)
    txn = sandbox.auth.put_pending(dict(request.values.items()), request.url)
    client = grant.request.client
    scope = request.values.get("scope")
    return render_template("auth/login.html", txn=txn, client=client, users=USERS,
                           needs_patient=_needs_patient(scope), patients=_patient_choices(),
                           scopes=smart_scopes.split(grant.request.scope))


def _patient_choices() -> list[tuple[str, str]]:
    sandbox = state.current()
    ids = sandbox.demo_patient_ids + sandbox.sample_patient_ids
    return [(pid, patient_label(sandbox.store.get("Patient", pid))) for pid in ids]


@bp.post("/authorize/decision")
def decide():
    """The standalone sign-in form: replay the stored authorization request with the chosen user and patient."""
    sandbox = state.current()
    server = sandbox.auth_server
    pending = sandbox.auth.take_pending(request.form.get("txn"), sandbox.settings["LAUNCH_LIFETIME"])
    if pending is None:
        return render_template("auth/error.html", error="expired",
                               description="This sign-in page has expired or was already used. Start again "
                                           "from the app."), 400
    uri, params = pending
    oauth_request = OAuth2Request("POST", uri, headers=request.headers)
    oauth_request.payload = BasicOAuth2Payload(params)
    user = None
    if request.form.get("decision") == "allow":
        practitioner = request.form.get("user", "")
        patient = request.form.get("patient") or None
        if practitioner not in USERS_BY_ID:
            return render_template("auth/error.html", error="invalid_user", description="Pick a user."), 400
        if _needs_patient(params.get("scope")):
            if not patient or sandbox.store.get("Patient", patient) is None:
                return render_template("auth/error.html", error="invalid_patient",
                                       description="Pick a patient."), 400
        else:
            patient = None
        user = EndUser(practitioner, patient, in_progress_encounter(patient) if patient else None,
                       launch_id=None, need_patient_banner=True)
    try:
        grant = server.get_consent_grant(request=oauth_request, end_user=user)
    except OAuth2Error as error:
        return _error_response(error)
    return server.create_authorization_response(request=oauth_request, grant_user=user, grant=grant)


@bp.post("/token")
def token():
    return state.current().auth_server.create_token_response()


@bp.get("/jwks")
def jwks():
    return jsonify(state.current().key.jwks())


@bp.post("/introspect")
def introspect():
    response = state.current().auth_server.create_endpoint_response("introspection")
    return response if isinstance(response, Response) else jsonify({"active": False})
