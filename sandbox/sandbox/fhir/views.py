"""The FHIR R4 REST API at `{BASE}/fhir`: metadata, discovery, read, vread, search (GET and POST _search),
paging, and create for the resources apps write. Every data request needs a bearer token whose scopes and
patient context cover it (401 with WWW-Authenticate, or 403), always answered with an OperationOutcome."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlencode

from authlib.integrations.flask_oauth2.requests import FlaskJsonRequest
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import MissingAuthorizationError, UnsupportedTokenTypeError
from flask import Blueprint, Response, current_app, request

from .. import faults, state
from ..auth.discovery import openid_configuration, smart_configuration
from ..auth.models import Token
from . import search as fhir_search
from .access import Access, required_scope
from .capability import capability_statement
from .outcome import FhirError, operation_outcome
from .pages import Snapshot
from .validation import WRITABLE, validate

bp = Blueprint("fhir", __name__, url_prefix="/fhir")
FHIR_JSON = "application/fhir+json; charset=utf-8"
_ID_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-.")


def fhir_response(body: dict | None, status: int = 200, headers: dict | None = None) -> Response:
    data = "" if body is None else json.dumps(body, ensure_ascii=False)
    return Response(data, status=status, content_type=FHIR_JSON, headers=headers or {})


def _now_iso() -> str:
    return datetime.fromtimestamp(state.current().now(), UTC).isoformat(timespec="seconds")


@bp.errorhandler(FhirError)
def _fhir_error(error: FhirError):
    return fhir_response(error.body(), error.status, error.headers)


# ---- authentication -------------------------------------------------------------------------------------------

def _challenge(error: str | None = None, description: str | None = None, scope: str | None = None) -> dict:
    parts = [f'realm="{state.fhir_base()}"']
    if error:
        parts.append(f'error="{error}"')
    if description:
        parts.append(f'error_description="{description}"')
    if scope:
        parts.append(f'scope="{scope}"')
    return {"WWW-Authenticate": "Bearer " + ", ".join(parts)}


def authenticate() -> Token:
    """The request's valid access token, or FhirError 401 (RFC 6750 section 3)."""
    sandbox = state.current()
    try:
        token = sandbox.protector.validate_request(scopes=None, request=FlaskJsonRequest(request))
    except MissingAuthorizationError:
        raise FhirError(401, "This request needs an access token (Authorization: Bearer ...).", "login",
                        _challenge()) from None
    except UnsupportedTokenTypeError:
        raise FhirError(401, "Only Bearer access tokens are accepted.", "login",
                        _challenge("invalid_request", "Bearer token required")) from None
    except OAuth2Error:
        raise FhirError(401, "The access token is invalid or has expired.", "expired",
                        _challenge("invalid_token", "The access token is invalid or has expired")) from None
    if token.aud != state.fhir_base():
        raise FhirError(401, "The access token was issued for another server.", "login",
                        _challenge("invalid_token", "The access token audience is not this server")) from None
    return token


def _access(token: Token) -> Access:
    return Access.of(token.scope, token.user.patient_id)


def _forbidden(rtype: str, interaction: str, token: Token, why: str) -> FhirError:
    needed = required_scope(rtype, interaction, token.user.patient_id, _access(token).system)
    return FhirError(403, why, "forbidden", _challenge("insufficient_scope", why, needed))


# ---- public documents ------------------------------------------------------------------------------------------

@bp.get("/.well-known/smart-configuration")
def smart_config():
    return Response(json.dumps(smart_configuration(state.base_url())), content_type="application/json")


@bp.get("/.well-known/openid-configuration")
def openid_config():
    return Response(json.dumps(openid_configuration(state.base_url())), content_type="application/json")


@bp.get("/metadata")
def metadata():
    return fhir_response(capability_statement(state.base_url(), state.current().store.types(), _now_iso()))


# ---- read ----------------------------------------------------------------------------------------------------

def _check_type(rtype: str) -> None:
    if not rtype[:1].isupper() or not rtype.isalpha():
        raise FhirError(404, f"Unknown resource type {rtype!r}.", "not-supported")


def _check_id(rid: str) -> None:
    if not (0 < len(rid) <= 64 and set(rid) <= _ID_CHARS):
        raise FhirError(400, f"{rid!r} is not a valid FHIR id.", "value")


def _read(rtype: str, rid: str) -> dict:
    _check_type(rtype)
    _check_id(rid)
    token = authenticate()
    access = _access(token)
    if not access.scopes_for(rtype, "r"):
        raise _forbidden(rtype, "r", token, f"The access token's scopes do not allow reading {rtype}.")
    resource = state.current().store.get(rtype, rid)
    if resource is None:
        raise FhirError(404, f"{rtype}/{rid} is not known.", "not-found")
    if not access.allows(resource, "r", state.fhir_base()):
        raise _forbidden(rtype, "r", token, f"{rtype}/{rid} is outside the access token's patient or scopes.")
    return resource


def _version_headers(resource: dict) -> dict:
    meta = resource.get("meta") or {}
    headers = {"ETag": f'W/"{meta.get("versionId", "1")}"'}
    if meta.get("lastUpdated"):
        try:
            when = datetime.fromisoformat(meta["lastUpdated"].replace("Z", "+00:00"))
            headers["Last-Modified"] = when.astimezone(UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")
        except ValueError:
            pass
    return headers


@bp.get("/<rtype>/<rid>")
def read(rtype: str, rid: str):
    resource = _read(rtype, rid)
    return fhir_response(resource, headers=_version_headers(resource))


@bp.get("/<rtype>/<rid>/_history/<vid>")
def vread(rtype: str, rid: str, vid: str):
    resource = _read(rtype, rid)
    if str((resource.get("meta") or {}).get("versionId", "1")) != vid:
        raise FhirError(404, f"{rtype}/{rid} has no version {vid!r}.", "not-found")
    return fhir_response(resource, headers=_version_headers(resource))


# ---- search --------------------------------------------------------------------------------------------------

def _strict() -> bool:
    prefer = request.headers.get("Prefer", "")
    return any(p.strip() == "handling=strict" for p in prefer.split(","))


def _reference_ids(values: list[str]) -> list[tuple[str | None, str]]:
    out = []
    for value in values:
        if "/" in value:
            rtype, rid = value.rstrip("/").rsplit("/", 1)
            out.append((rtype.rsplit("/", 1)[-1], rid))
        else:
            out.append((None, value))
    return out


def _entry(resource: dict) -> dict:
    return {"fullUrl": f"{state.fhir_base()}/{resource['resourceType']}/{resource['id']}", "resource": resource,
            "search": {"mode": "match"}}


def _bundle(total: int, entries: list[dict], links: list[tuple[str, str]], *, force_total: bool = False) -> dict:
    bundle = {"resourceType": "Bundle", "id": str(uuid.uuid4()), "meta": {"lastUpdated": _now_iso()},
              "type": "searchset", "total": total, "link": [{"relation": r, "url": u} for r, u in links],
              "entry": entries}
    if not entries:
        del bundle["entry"]  # FHIR JSON: arrays are never empty; an empty page has no entry element
    if not (force_total or state.current().settings["SEARCH_TOTAL"]):
        del bundle["total"]
    return bundle


def _ignored_warning(ignored: list[str]) -> list[dict]:
    """R4 search.html, "Handling errors": a server may say in the Bundle which parameters it did not use."""
    if not ignored:
        return []
    outcome = operation_outcome(f"Ignored unknown search parameter(s): {', '.join(sorted(set(ignored)))}",
                                "not-supported", "warning")
    return [{"resource": outcome, "search": {"mode": "outcome"}}]


def _page_link(sid: str, offset: int, count: int) -> str:
    return f"{state.fhir_base()}?" + urlencode({"_getpages": sid, "_getpagesoffset": offset, "_count": count})


def _search(rtype: str, pairs: list[tuple[str, str]]) -> Response:
    _check_type(rtype)
    sandbox = state.current()
    settings = sandbox.settings
    token = authenticate()
    access = _access(token)
    if not access.scopes_for(rtype, "s"):
        raise _forbidden(rtype, "s", token, f"The access token's scopes do not allow searching {rtype}.")
    try:
        query = fhir_search.parse(rtype, pairs, strict=_strict(), page_default=settings["SEARCH_PAGE_DEFAULT"],
                                  page_max=settings["SEARCH_PAGE_MAX"])
    except fhir_search.SearchError as exc:
        raise FhirError(400, exc.message, exc.code) from None
    if rtype == "Observation" and any(fhir_search.has_unescaped(raw, ",") for name, raw in pairs
                                      if name.partition(":")[0] == "category"):
        if faults.category_or_rejected(current_app):
            raise FhirError(400, "Searching several categories at once (comma) is not supported; search one "
                                 "category at a time.", "not-supported")
    base = state.fhir_base()
    store = sandbox.store
    patient_id = token.user.patient_id
    if access.user_level(rtype, "s"):
        named = [rid for t, rid in _reference_ids(query.values_of("patient")) if t in (None, "Patient")]
        if named:  # narrow to the named patients' compartments before matching
            candidates = [r for pid in dict.fromkeys(named) for r in store.in_compartment(pid, rtype)]
        else:
            candidates = store.all_of(rtype)
    else:
        for t, rid in _reference_ids(query.values_of("patient") + query.values_of("subject")):
            if t in (None, "Patient") and rid != patient_id:
                raise _forbidden(rtype, "s", token, "The access token is for another patient.")
        candidates = store.in_compartment(patient_id or "", rtype)
    matched = query.order([r for r in candidates if query.matches(r, base) and access.allows(r, "s", base)])
    self_link = f"{base}/{rtype}" + (f"?{urlencode(query.used)}" if query.used else "")
    if query.summary_count or query.count == 0:
        return fhir_response(_bundle(len(matched), [], [("self", self_link)], force_total=True))
    links = [("self", self_link)]
    if len(matched) > query.count:
        sid = sandbox.snapshots.put(Snapshot(rtype, tuple((r["resourceType"], r["id"]) for r in matched),
                                             token.client_id, patient_id, sandbox.now()))
        links.append(("next", _page_link(sid, query.count, query.count)))
    entries = [_entry(r) for r in matched[:query.count]] + _ignored_warning(query.ignored)
    return fhir_response(_bundle(len(matched), entries, links))


@bp.get("/<rtype>")
def search_get(rtype: str):
    return _search(rtype, list(request.args.items(multi=True)))


@bp.post("/<rtype>/_search")
def search_post(rtype: str):
    if request.mimetype != "application/x-www-form-urlencoded":
        raise FhirError(415, "POST _search takes application/x-www-form-urlencoded parameters.", "not-supported")
    return _search(rtype, list(request.args.items(multi=True)) + list(request.form.items(multi=True)))


@bp.get("")
def system_get():
    if "_getpages" not in request.args:
        raise FhirError(400, "System-level search is not supported; search a resource type.", "not-supported")
    sandbox = state.current()
    token = authenticate()
    snapshot = sandbox.snapshots.get(request.args.get("_getpages", ""))
    if snapshot is None:
        raise FhirError(410, "This search page has expired; run the search again.", "not-found")
    if snapshot.client_id != token.client_id or snapshot.patient_id != token.user.patient_id:
        raise FhirError(403, "This search page belongs to another authorization.", "forbidden")
    access = _access(token)
    if not access.scopes_for(snapshot.rtype, "s"):
        raise _forbidden(snapshot.rtype, "s", token, f"The access token's scopes do not allow searching "
                                                     f"{snapshot.rtype}.")
    try:
        offset = int(request.args.get("_getpagesoffset", "0"))
        count = min(int(request.args.get("_count", sandbox.settings["SEARCH_PAGE_DEFAULT"])),
                    sandbox.settings["SEARCH_PAGE_MAX"])
    except ValueError:
        raise FhirError(400, "_getpagesoffset and _count must be integers.", "value") from None
    if offset < 0 or count < 1:
        raise FhirError(400, "_getpagesoffset must be >= 0 and _count >= 1.", "value")
    base = state.fhir_base()
    resources = [sandbox.store.get(t, i) for t, i in snapshot.keys[offset:offset + count]]
    entries = [_entry(r) for r in resources if r is not None and access.allows(r, "s", base)]
    sid = request.args["_getpages"]
    links = [("self", _page_link(sid, offset, count))]
    if offset > 0:
        links.append(("previous", _page_link(sid, max(0, offset - count), count)))
    if offset + count < len(snapshot.keys):
        links.append(("next", _page_link(sid, offset + count, count)))
    return fhir_response(_bundle(len(snapshot.keys), entries, links))


# ---- create --------------------------------------------------------------------------------------------------

@bp.post("/<rtype>")
def create(rtype: str):
    _check_type(rtype)
    sandbox = state.current()
    token = authenticate()
    if rtype not in WRITABLE:
        raise FhirError(405, f"Creating {rtype} is not supported here; this server accepts "
                             f"{', '.join(sorted(WRITABLE))}.", "not-supported")
    access = _access(token)
    if not access.scopes_for(rtype, "c"):
        raise _forbidden(rtype, "c", token, f"The access token's scopes do not allow creating {rtype}.")
    if request.mimetype not in ("application/fhir+json", "application/json"):
        raise FhirError(415, "Send the resource as application/fhir+json.", "not-supported")
    body = request.get_json(silent=True)
    base = state.fhir_base()
    subject = validate(body, rtype, sandbox.store, base)
    if not access.allows(body, "c", base):
        raise _forbidden(rtype, "c", token, f"The access token may not create a {rtype} for Patient/{subject}.")
    condition = request.headers.get("If-None-Exist")
    if condition:
        existing = _conditional_match(rtype, condition, access, base)
        if existing is not None:
            return fhir_response(existing, 200, _version_headers(existing))
    with sandbox.store.lock:
        stored = sandbox.store.create(body, _now_iso())
    headers = {"Location": f"{base}/{rtype}/{stored['id']}/_history/1", **_version_headers(stored)}
    prefer = request.headers.get("Prefer", "")
    if "return=minimal" in prefer:
        return fhir_response(None, 201, headers)
    if "return=OperationOutcome" in prefer:
        return fhir_response(operation_outcome(f"Created {rtype}/{stored['id']}", "informational",
                                               "information"), 201, headers)
    return fhir_response(stored, 201, headers)


def _conditional_match(rtype: str, condition: str, access: Access, base: str) -> dict | None:
    sandbox = state.current()
    try:
        query = fhir_search.parse(rtype, parse_qsl(condition, keep_blank_values=True), strict=True,
                                  page_default=2, page_max=2)
    except fhir_search.SearchError as exc:
        raise FhirError(400, f"If-None-Exist: {exc.message}", exc.code) from None
    found = [r for r in sandbox.store.all_of(rtype) if query.matches(r, base) and access.allows(r, "s", base)]
    if len(found) > 1:
        raise FhirError(412, "If-None-Exist matches more than one resource.", "duplicate")
    return found[0] if found else None


@bp.route("/<rtype>/<rid>", methods=["PUT", "PATCH", "DELETE"])
def not_supported(rtype: str, rid: str):
    raise FhirError(405, f"{request.method} is not supported by this server.", "not-supported")
