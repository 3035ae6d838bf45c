"""Fault switches: make the sandbox misbehave the ways real EHRs do, on purpose, for tests.

Python:  faults.set(app, "status", status=503, times=2)      HTTP:  POST {BASE}/_sandbox/faults  {"kind": ...}
         faults.clear(app)                                           DELETE {BASE}/_sandbox/faults

Kinds (each may name `target`: "fhir" (default), "token", "discovery", "jwks", "authorize", or a list; `path`
to limit it to requests under a path such as "/fhir/Observation"; `times` (next N matching requests, default
until cleared) and `probability` (0..1, seeded by the FAULT_SEED setting)):

- "delay": sleep `seconds` before answering (through the SLEEP setting, so tests need not wait);
- "status": answer `status` (a 5xx, default 503) instead of the real response;
- "throttle": answer 429 with `Retry-After: retry_after` (seconds, default 1);
- "junk": answer 200 with a broken body: `body` "html" (an HTML page, as a login proxy would send),
  "text" (non-JSON with a JSON content type), "truncated" (the real JSON cut in half) or "nested" (a resource
  whose JSON nests 100,000 levels deep, as a broken or hostile proxy might send);
- "expire_tokens": at once, every access token issued so far counts as expired (refresh tokens still work);
- "reject_category_or": Observation searches with a comma in `category` get 400, as some servers do.
"""

from __future__ import annotations

import json
import random
import threading
from dataclasses import asdict, dataclass, field

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request

KINDS = ("delay", "status", "throttle", "junk", "expire_tokens", "reject_category_or")
TARGETS = ("fhir", "token", "discovery", "jwks", "authorize")
JUNK_BODIES = ("html", "text", "truncated", "nested")
NESTING = 100_000


class FaultError(ValueError):
    """A fault was described wrongly; the message says how."""


@dataclass
class Fault:
    kind: str
    target: list[str] = field(default_factory=lambda: ["fhir"])
    path: str | None = None
    times: int | None = None  # None: until cleared
    probability: float = 1.0
    seconds: float = 0.0
    status: int = 503
    retry_after: int = 1
    body: str = "html"
    fired: int = 0

    def check(self) -> None:
        if self.kind not in KINDS:
            raise FaultError(f"unknown fault kind {self.kind!r}; kinds: {', '.join(KINDS)}")
        bad = [t for t in self.target if t not in TARGETS]
        if bad or not self.target:
            raise FaultError(f"unknown target {bad!r}; targets: {', '.join(TARGETS)}")
        if self.times is not None and (not isinstance(self.times, int) or self.times < 1):
            raise FaultError("times must be a positive integer")
        if not 0 < float(self.probability) <= 1:
            raise FaultError("probability must be in (0, 1]")
        if self.kind == "status" and not 500 <= int(self.status) <= 599:
            raise FaultError("status must be a 5xx code (use 'throttle' for 429)")
        if self.kind == "delay" and not 0 < float(self.seconds) <= 600:
            raise FaultError("seconds must be in (0, 600]")
        if self.kind == "throttle" and int(self.retry_after) < 0:
            raise FaultError("retry_after must be >= 0")
        if self.kind == "junk" and self.body not in JUNK_BODIES:
            raise FaultError(f"body must be one of {', '.join(JUNK_BODIES)}")


class FaultBoard:
    """The active faults of one sandbox, shared by its request threads."""

    def __init__(self, seed: int):
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._rng = random.Random(seed)  # noqa: S311 - repeatable test faults, not security

    def add(self, fault: Fault) -> None:
        fault.check()
        with self._lock:
            self._faults.append(fault)

    def clear(self, kind: str | None = None) -> None:
        with self._lock:
            self._faults = [f for f in self._faults if kind is not None and f.kind != kind]

    def active(self) -> list[dict]:
        with self._lock:
            return [asdict(f) for f in self._faults]

    def fire(self, target: str, path: str, kinds: tuple[str, ...]) -> list[Fault]:
        """The faults of these kinds that fire for this request; each firing uses up one of its `times`."""
        fired = []
        with self._lock:
            for fault in list(self._faults):
                if fault.kind not in kinds or target not in fault.target:
                    continue
                if fault.path and not path.startswith(fault.path):
                    continue
                if fault.probability < 1 and self._rng.random() >= fault.probability:
                    continue
                fault.fired += 1
                fired.append(fault)
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times == 0:
                        self._faults.remove(fault)
        return fired


def set(app: Flask, kind: str, **options) -> dict:  # noqa: A001 - the documented API name
    """Switch a fault on (see the module docstring); returns it as stored. FaultError when malformed."""
    sandbox = app.extensions["sandbox"]
    target = options.pop("target", "fhir")
    fault = Fault(kind=kind, target=[target] if isinstance(target, str) else list(target), **options)
    if kind == "expire_tokens":
        fault.check()
        sandbox.auth.expire_all_access_tokens()
        return asdict(fault)
    sandbox.faults.add(fault)
    return asdict(fault)


def clear(app: Flask, kind: str | None = None) -> None:
    """Switch off every fault (or every fault of one kind)."""
    app.extensions["sandbox"].faults.clear(kind)


def active(app: Flask) -> list[dict]:
    return app.extensions["sandbox"].faults.active()


def category_or_rejected(app: Flask) -> bool:
    path = request.path
    return bool(app.extensions["sandbox"].faults.fire("fhir", path, ("reject_category_or",)))


# ---- the request hooks ---------------------------------------------------------------------------------------

def _target(path: str) -> str | None:
    if path.startswith("/fhir/.well-known/"):
        return "discovery"
    if path == "/fhir" or path.startswith("/fhir/"):
        return "fhir"
    return {"/auth/token": "token", "/auth/jwks": "jwks", "/auth/authorize": "authorize"}.get(path)


def _error(target: str, status: int, message: str, headers: dict | None = None) -> Response:
    if target in ("fhir", "discovery"):
        body = {"resourceType": "OperationOutcome", "issue": [
            {"severity": "error", "code": "throttled" if status == 429 else "transient", "diagnostics": message}]}
        mimetype = "application/fhir+json"
    else:
        body = {"error": "temporarily_unavailable", "error_description": message}
        mimetype = "application/json"
    return Response(json.dumps(body), status=status, mimetype=mimetype, headers=headers or {})


def _before() -> Response | None:
    target = _target(request.path)
    if target is None:
        return None
    board: FaultBoard = current_app.extensions["sandbox"].faults
    for fault in board.fire(target, request.path, ("delay", "status", "throttle", "junk")):
        if fault.kind == "delay":
            current_app.config["SLEEP"](float(fault.seconds))
        elif fault.kind == "status":
            return _error(target, int(fault.status), "Service temporarily unavailable (sandbox fault)")
        elif fault.kind == "throttle":
            return _error(target, 429, "Too many requests (sandbox fault)",
                          {"Retry-After": str(int(fault.retry_after))})
        elif fault.kind == "junk":
            g.sandbox_junk = fault.body
    return None


def _after(response: Response) -> Response:
    junk = g.pop("sandbox_junk", None)
    if junk is None:
        return response
    if junk == "html":
        return Response("<!doctype html><html><head><title>Sign in</title></head><body><h1>Your session has "
                        "ended</h1><p>Please sign in again.</p></body></html>", status=200, mimetype="text/html")
    if junk == "text":
        return Response("Service Unavailable - upstream connect error", status=200, mimetype="application/fhir+json")
    if junk == "nested":
        body = '{"resourceType": "Patient", "id": "x", "extension": ' + "[" * NESTING + "]" * NESTING + "}"
        return Response(body, status=200, mimetype="application/fhir+json")
    data = response.get_data()
    return Response(data[: max(1, len(data) // 2)], status=200, mimetype=response.mimetype)


def install(app: Flask) -> None:
    app.before_request(_before)
    app.after_request(_after)
    if app.config["FAULTS_HTTP"]:
        app.register_blueprint(bp)


bp = Blueprint("faults", __name__, url_prefix="/_sandbox")


@bp.get("/faults")
def list_faults():
    return jsonify({"faults": active(current_app)})


@bp.post("/faults")
def add_fault():
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        return jsonify({"error": "send a JSON object, e.g. {\"kind\": \"status\", \"status\": 503, \"times\": 1}"}), 400
    if data.get("clear"):
        clear(current_app, data.get("kind") if isinstance(data.get("kind"), str) else None)
        return jsonify({"faults": active(current_app)})
    options = {k: v for k, v in data.items() if k != "kind"}
    try:
        fault = set(current_app, str(data.get("kind")), **options)
    except (FaultError, TypeError, ValueError) as exc:
        return jsonify({"error": str(exc)}), 400
    return jsonify(fault), 201


@bp.delete("/faults")
def clear_faults():
    clear(current_app, request.args.get("kind"))
    return jsonify({"faults": active(current_app)})
