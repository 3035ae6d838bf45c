"""The sandbox EHR's own screens: pick a user and a patient, open the patient's chart with the app launched in
an iframe the EHR way (`{launch_url}?iss={BASE}/fhir&launch={id}`), and watch orders arrive."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from flask import Blueprint, abort, jsonify, redirect, render_template, request, url_for

from .. import state
from ..auth.models import EndUser
from ..users import PATIENT_SELF, USERS, USERS_BY_ID, User
from . import cds
from .patients import age_years, in_progress_encounter, patient_label, patient_name

bp = Blueprint("ehr", __name__)
ORDER_TYPES = ("ServiceRequest", "MedicationRequest")


def _launchable_clients() -> list:
    return [c for c in state.current().auth.clients.values() if c.launch_url]


@bp.get("/")
def index():
    sandbox = state.current()
    store = sandbox.store
    demo = [(pid, patient_label(store.get("Patient", pid)), _demo_kind(store.get("Patient", pid)))
            for pid in sandbox.demo_patient_ids]
    sample = [(pid, patient_label(store.get("Patient", pid))) for pid in sandbox.sample_patient_ids]
    sepsis = {pid: _sepsis_column(pid) for pid, _, _ in demo}
    return render_template("ehr/index.html", users=USERS, demo=demo, sample=sample, clients=_launchable_clients(),
                           sepsis=sepsis,
                           notes=sandbox.demo_notes)


@dataclass(frozen=True)
class SepsisColumn:
    risk: float | None  # the newest RiskAssessment's probability an app wrote back
    flag: bool  # an active Flag


def _sepsis_column(patient_id: str) -> SepsisColumn:
    """The patient list's sepsis column, from what apps wrote back (RiskAssessment, Flag), as an EHR shows it."""
    store = state.current().store
    assessments = sorted(store.in_compartment(patient_id, "RiskAssessment"),
                         key=lambda r: r.get("occurrenceDateTime") or "", reverse=True)
    risk = next((p.get("probabilityDecimal") for r in assessments[:1] for p in r.get("prediction") or []), None)
    flag = any(f.get("status") == "active" for f in store.in_compartment(patient_id, "Flag"))
    return SepsisColumn(risk, flag)


def _demo_kind(patient: dict | None) -> str:
    for tag in ((patient or {}).get("meta") or {}).get("tag", []):
        if tag.get("code") == "physionet-2019-set-b":
            return tag.get("display", "")
    return ""


@bp.get("/ehr/chart")
def chart():
    """The patient's chart: the EHR's banner, the CDS service's cards, the app in an iframe (a new launch each
    time), and orders. `card` + `link`: the user followed a card's SMART link, so the app is launched with the
    link's appContext (and the encounter as fhirContext), and the service hears the card was accepted."""
    sandbox = state.current()
    patient = sandbox.store.get("Patient", request.args.get("patient", ""))
    user = USERS_BY_ID.get(request.args.get("user", ""))
    if request.args.get("user") == PATIENT_SELF and patient is not None:
        user = User(f"Patient/{patient['id']}", "", "", None, None, "", "Patient", "The patient (portal)")
    clients = _launchable_clients()
    client = sandbox.auth.client(request.args.get("app")) if request.args.get("app") else (
        clients[0] if clients else None)
    if user is None or patient is None:
        abort(400, "Pick a user and a patient.")
    if client is None or not client.launch_url:
        abort(400, "No app is registered with a launch URL.")
    encounter_id = in_progress_encounter(patient["id"])
    app_context = request.args.get("appContext")
    if app_context is not None and request.args.get("card"):
        cds.send_feedback(request.args["card"], "accepted")
    hook = None if app_context is not None else cds.call_patient_view(patient, encounter_id, user.practitioner_id)
    launch = sandbox.auth.new_launch(client.client_id, EndUser(
        user.practitioner_id, patient["id"], encounter_id, app_context=app_context,
        fhir_context=(f"Encounter/{encounter_id}",) if app_context is not None and encounter_id else ()),
        need_patient_banner=request.args.get("app_banner") == "1")
    separator = "&" if "?" in client.launch_url else "?"
    app_url = client.launch_url + separator + urlencode({"iss": state.fhir_base(), "launch": launch.launch_id})
    encounter = sandbox.store.get("Encounter", encounter_id) if encounter_id else None
    return render_template("ehr/chart.html", user=user, patient=patient, name=patient_name(patient),
                           age=age_years(patient), encounter=encounter, client=client, app_url=app_url, hook=hook)


@bp.get("/ehr/board")
def board():
    """A user-level launch with no patient: the app opens for a unit (fhirContext names the Location), as an EHR
    would launch a unit board from its unit census screen."""
    sandbox = state.current()
    user = USERS_BY_ID.get(request.args.get("user", ""))
    unit = request.args.get("unit", "")
    clients = _launchable_clients()
    if user is None or sandbox.store.get("Location", unit.removeprefix("Location/")) is None:
        abort(400, "Pick a user and a unit.")
    if not clients:
        abort(400, "No app is registered with a launch URL.")
    client = clients[0]
    launch = sandbox.auth.new_launch(client.client_id, EndUser(user.practitioner_id, fhir_context=(unit,)))
    separator = "&" if "?" in client.launch_url else "?"
    app_url = client.launch_url + separator + urlencode({"iss": state.fhir_base(), "launch": launch.launch_id})
    return render_template("ehr/board.html", user=user, unit=unit, client=client, app_url=app_url)


@bp.post("/ehr/cds-override")
def cds_override():
    """The user set a card aside: the service hears it was overridden, with the reason picked."""
    reason = request.form.get("reason", "")
    system, _, code = reason.rpartition("|")
    cds.send_feedback(request.form.get("card", ""), "overridden",
                      {"system": system, "code": code, "display": request.form.get(f"display-{reason}") or code}
                      if code else None)
    return redirect(url_for("ehr.chart", user=request.form.get("user"), patient=request.form.get("patient")), 303)


@bp.get("/ehr/cds-jwks.json")
def cds_jwks():
    """The public key the CDS services verify this EHR's hook calls with (registered with them by URL)."""
    return jsonify(state.current().cds_key.jwks())


@bp.get("/ehr/orders")
def orders():
    """The orders placed for a patient, newest first; the chart shows this page in a self-refreshing frame."""
    sandbox = state.current()
    patient = sandbox.store.get("Patient", request.args.get("patient", ""))
    if patient is None:
        abort(404)
    rows = []
    for rtype in ORDER_TYPES:
        for order in sandbox.store.in_compartment(patient["id"], rtype):
            rows.append({"type": rtype, "id": order["id"], "status": order.get("status"),
                         "intent": order.get("intent"), "what": _order_text(order),
                         "when": order.get("authoredOn") or (order.get("meta") or {}).get("lastUpdated", ""),
                         "requester": (order.get("requester") or {}).get("display")
                         or (order.get("requester") or {}).get("reference", "")})
    rows.sort(key=lambda r: r["when"] or "", reverse=True)
    return render_template("ehr/orders.html", patient=patient, orders=rows,
                           refresh=sandbox.settings["ORDERS_REFRESH_SECONDS"])


def _order_text(order: dict) -> str:
    concept = order.get("code") or order.get("medicationCodeableConcept") or {}
    if concept.get("text"):
        return concept["text"]
    for coding in concept.get("coding") or []:
        if coding.get("display"):
            return coding["display"]
    ref = order.get("medicationReference") or {}
    return ref.get("display") or ref.get("reference") or "(not coded)"


@bp.get("/ehr/smart-style.json")
def smart_style():
    # SMART App Launch "SMART App Styling": colours and fonts the EHR would like an app to follow.
    return jsonify({"color_background": "#f6f7f9", "color_error": "#b3261e", "color_highlight": "#1d5fa8",
                    "color_modal_backdrop": "rgba(0,0,0,0.4)", "color_success": "#2e7d32", "color_text": "#1f2328",
                    "dim_border_radius": "4px", "dim_font_size": "14px", "dim_spacing_size": "16px",
                    "font_family_body": "'Liberation Sans', Arial, sans-serif",
                    "font_family_heading": "'Liberation Sans', Arial, sans-serif"})
