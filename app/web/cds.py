"""CDS Hooks over HTTP: `GET /cds-services` (discovery), `POST /cds-services/<id>` (the hook), `.../feedback`.

The EHR calls these server to server with its signed JWT (app.cds.auth), so they need no session and no CSRF token
(security.CSRF_EXEMPT). Errors are JSON: 401 with `WWW-Authenticate: Bearer` when the JWT does not verify, 403 for
a client we do not serve, 400 for a body that is not a hook call, 404 for another service id. Logs carry the
client, the hook instance, the path and the time taken, never the patient or a token.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta

from flask import Blueprint, current_app, jsonify, request, url_for

from app.cds import (
    SERVICE_ID,
    CdsAuthError,
    CdsRequestInvalid,
    JwksCache,
    Links,
    PatientView,
    discovery,
    verify,
)
from app.ops import metrics

from .guards import services

log = logging.getLogger(__name__)

bp = Blueprint("cds", __name__, url_prefix="/cds-services")

# A hook call carries the prefetch (a Patient and up to a few hundred Observations): more than the app's 64 KiB
# form limit, still bounded.
MAX_HOOK_BYTES = 4 * 1024 * 1024


@bp.before_request
def larger_body():
    request.max_content_length = MAX_HOOK_BYTES


def _public(path: str) -> str:
    base = services().settings.public_url.rstrip("/") or request.host_url.rstrip("/")
    return base + path


def _jwks() -> JwksCache:
    cache = current_app.extensions.get("cds.jwks")
    if cache is None:
        cache = current_app.extensions["cds.jwks"] = JwksCache(services().http, services().settings.cds_jwks_timeout)
    return cache


def _caller():
    s = services().settings
    return verify(request.headers.get("Authorization"), audience=_public(request.path), clients=s.cds_clients,
                  jwks=_jwks(), engine=services().engine)


def _service() -> PatientView:
    svc, s = services(), services().settings
    links = Links(launch_url=svc.registration.launch_uri(s.public_url or request.host_url),
                  transparency_url=_public(url_for("transparency.page")))
    return PatientView(svc.engine, iss_allowlist=s.iss_allowlist, links=links,
                       fresh=timedelta(minutes=s.cds_fresh_minutes),
                       lookback=timedelta(hours=s.observation_lookback_hours), model=svc.model,
                       policy=svc.policy)


def _error(status: int, code: str, message: str):
    response = jsonify({"error": code, "message": message})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    return response


@bp.errorhandler(CdsAuthError)
def refused(exc: CdsAuthError):
    log.warning("cds: call refused %s (%s)", exc.status, exc.code)
    metrics.cds_call(exc.code)
    return _error(exc.status, exc.code, exc.detail)


@bp.errorhandler(CdsRequestInvalid)
def invalid(exc: CdsRequestInvalid):
    log.info("cds: bad request: %s", exc)
    return _error(400, "invalid_request", str(exc))


@bp.get("")
def services_list():
    return jsonify(discovery())


@bp.post("/<service_id>")
def call(service_id: str):
    started = time.perf_counter()
    if service_id != SERVICE_ID:
        return _error(404, "unknown_service", f"there is no CDS service {service_id!r} here")
    caller = _caller()
    answer = _service().answer(request.get_json(silent=True), caller, services().clinical_now())
    log.info("cds: %s answered %d card(s) from %s in %d ms", caller.iss, len(answer.cards), answer.path,
             (time.perf_counter() - started) * 1000)
    metrics.cds_call("card" if answer.cards else "no_card", answer.path)
    return jsonify({"cards": answer.cards})


@bp.post("/<service_id>/feedback")
def feedback(service_id: str):
    if service_id != SERVICE_ID:
        return _error(404, "unknown_service", f"there is no CDS service {service_id!r} here")
    caller = _caller()
    recorded = _service().feedback(request.get_json(silent=True), caller, datetime.now(UTC))
    log.info("cds: feedback from %s, %d item(s) recorded", caller.iss, recorded)
    return jsonify({"recorded": recorded})
