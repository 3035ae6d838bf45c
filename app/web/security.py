"""Response headers for an app that lives in an EHR iframe, and the CSRF gate in front of every POST."""

from __future__ import annotations

from flask import Flask, request
from werkzeug.middleware.proxy_fix import ProxyFix

from .guards import CsrfRejected, cookie_session_ids, csrf_token_from_request, services

# Endpoints whose POST needs no session: the CDS Hooks calls, which the EHR makes server to server with its own
# signed JWT (app.cds.auth). Everything else must present a live session's CSRF token.
CSRF_EXEMPT: set[str] = {"cds.call", "cds.feedback"}


def init_app(app: Flask) -> None:
    settings = app.extensions["sentinel"].settings
    if settings.proxy_hops:
        # The client address from X-Forwarded-For, trusting exactly the configured proxies (more hops would let a
        # client choose its own address). Only the address: redirect URIs come from SENTINEL_PUBLIC_URL.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.proxy_hops, x_proto=0, x_host=0, x_port=0,
                                x_prefix=0)
    csp = "; ".join([
        "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:",
        "connect-src 'self'", "form-action 'self'", "base-uri 'none'", "object-src 'none'",
        "frame-ancestors " + " ".join(settings.frame_ancestors),
    ])

    @app.before_request
    def csrf_gate():
        if request.method not in ("POST", "PUT", "PATCH", "DELETE") or request.endpoint in CSRF_EXEMPT:
            return None
        svc = services()
        token = csrf_token_from_request()
        # Coarse gate: the token must belong to one of this browser's live sessions. The route's own guard then
        # checks it against the session of the patient in the URL.
        if not any(s.csrf_ok(token) for s in svc.store.live(cookie_session_ids(), svc.clock())):
            raise CsrfRejected()
        return None

    @app.after_request
    def headers(response):
        response.headers["Content-Security-Policy"] = csp
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"  # URLs carry patient ids; never send them onward
        response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
        if settings.cookie_secure:
            response.headers["Strict-Transport-Security"] = "max-age=31536000"
        if request.endpoint != "static":
            response.headers["Cache-Control"] = "no-store"
        return response

