"""Operations endpoints and the per-request bookkeeping behind the logs and metrics.

- `/livez`: the process answers (liveness: restart the container when it fails).
- `/readyz`: database reachable, migrations current, model verified (readiness: route traffic here only then).
- `/healthz`: unchanged, the database answers (for balancers already pointed at it).
- `/metrics`: Prometheus text format, only with `Authorization: Bearer $SENTINEL_METRICS_TOKEN`; 404 without a
  configured token. A token, not a second port: gunicorn then serves one port, the demo and the test client
  behave the same, Prometheus sends bearer tokens natively, and no endpoint depends on which interface the
  request came in on. Block /metrics at the public proxy as well if you can.

Every request gets an id (a safe incoming X-Request-ID, else a new one, echoed in the response) that every log
line written while it is served carries, one access line with route, status and duration, and a metrics sample.
"""

from __future__ import annotations

import hmac
import logging
import time

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request

from app.ops import logs, probes
from app.ops import metrics as ops_metrics

bp = Blueprint("ops", __name__)
access_log = logging.getLogger("app.access")
QUIET_ROUTES = frozenset({"/livez", "/readyz", "/healthz", "/metrics"})  # probed every few seconds: DEBUG only
UNMATCHED = "<unmatched>"  # a 404 or 405 before routing: never the raw path, which a scanner chooses


@bp.get("/livez")
def livez():
    return {"status": "live"}


@bp.get("/readyz")
def readyz():
    svc = current_app.extensions["sentinel"]
    checks = probes.database(svc.engine)
    if svc.model is not None:  # a model set by the deployment or a test
        checks.append(probes.Check("model", True, "provided"))
    else:
        checks.append(probes.model(svc.model_dir))
    ready = all(c.ok for c in checks)
    body = {"status": "ready" if ready else "not ready",
            "checks": {c.name: {"ok": c.ok, "detail": c.detail} for c in checks}}
    return jsonify(body), 200 if ready else 503


@bp.get("/metrics")
def metrics():
    token = current_app.extensions["sentinel"].settings.metrics_token
    if not token:
        return {"error": "metrics are off: set SENTINEL_METRICS_TOKEN"}, 404
    sent = request.headers.get("Authorization", "")
    if not hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
        return {"error": "metrics need the bearer token"}, 401, {"WWW-Authenticate": 'Bearer realm="metrics"'}
    body = ops_metrics.exposition(current_app.extensions["sentinel"].engine)
    return Response(body, mimetype=None, content_type=ops_metrics.CONTENT_TYPE)


def _route() -> str:
    return request.url_rule.rule if request.url_rule is not None else UNMATCHED


def _begin() -> None:
    g.ops_started = time.perf_counter()
    g.ops_request_id = logs.request_id_from(request.headers.get("X-Request-ID"))
    g.ops_context = logs.bind_request(g.ops_request_id, _route())


def _finish(response: Response) -> Response:
    started = g.get("ops_started")
    if started is None:
        return response
    seconds = time.perf_counter() - started
    route, status = _route(), response.status_code
    response.headers["X-Request-ID"] = g.ops_request_id
    level = logging.DEBUG if route in QUIET_ROUTES else logging.INFO
    access_log.log(level, "%s %s -> %d in %d ms", request.method, route, status, seconds * 1000,
                   extra={"method": request.method, "status": status, "duration_ms": round(seconds * 1000, 1)})
    ops_metrics.http_request(route, request.method, status, seconds)
    return response


def _end(_exc) -> None:
    context = g.pop("ops_context", None)
    if context is not None:
        logs.unbind(context)


def init_app(app: Flask) -> None:
    """Register first, so the request id is bound before any other hook runs and the access line sees the
    final response (after_request hooks run in reverse order of registration)."""
    app.before_request(_begin)
    app.after_request(_finish)
    app.teardown_request(_end)
    app.register_blueprint(bp)
