"""Sepsis Sentinel. `create_app` reads like a table of contents: settings, database, SMART, web."""

from __future__ import annotations

from flask import Flask

from app.config import ROOT, load_settings
from app.fhir.transport import observe_round_trips
from app.ops import logs
from app.ops import metrics as ops_metrics
from app.services import build_services, site_clock


def create_app(overrides: dict | None = None) -> Flask:
    overrides = dict(overrides or {})
    clock = overrides.pop("clock", None)
    clinical_clock = overrides.pop("clinical_clock", None)
    settings = load_settings(overrides)
    clock = clock or site_clock(settings.site_timezone)
    logs.configure(settings.log_format, settings.log_level)

    app = Flask(__name__, template_folder=str(ROOT / "templates"), static_folder=str(ROOT / "static"))
    app.config.update(SECRET_KEY=settings.secret_key, TESTING=settings.testing,
                      MAX_CONTENT_LENGTH=64 * 1024, SEND_FILE_MAX_AGE_DEFAULT=3600)
    app.extensions["sentinel"] = build_services(settings, clock)
    app.extensions["sentinel"].clinical_clock = clinical_clock
    register_operations(app)
    register_blueprints(app)
    register_template_filters(app)
    register_security(app)
    register_errorhandlers(app)
    return app


def register_blueprints(app: Flask) -> None:
    from app.web import (
        adoption,
        alerts,
        board,
        bundle,
        cds,
        chrome,
        feedback,
        home,
        jwks,
        launch,
        operations,
        patient,
        transparency,
        tuning,
    )

    for module in (home, launch, patient, alerts, bundle, feedback, transparency, tuning, adoption, jwks, chrome,
                   operations, cds, board):
        app.register_blueprint(module.bp)


def register_operations(app: Flask) -> None:
    """Request ids, access lines and metrics for every request; /livez, /readyz, /metrics."""
    from app.web import ops

    observe_round_trips(ops_metrics.fhir_request)
    ops.init_app(app)


def register_template_filters(app: Flask) -> None:
    from app.web import filters

    filters.init_app(app)


def register_security(app: Flask) -> None:
    from app.web import security

    security.init_app(app)


def register_errorhandlers(app: Flask) -> None:
    from app.web import errors

    errors.init_app(app)
