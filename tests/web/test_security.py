"""Security properties an IT security team checks: CSRF on every POST, session expiry, headers, cookies."""

from datetime import UTC, datetime, timedelta

import pytest

from app.web.guards import LAUNCH_COOKIE, SESSION_COOKIE
from tests.support.launch import SEPTIC

SAMPLE_ARGS = {"patient_id": SEPTIC, "alert_id": 1, "feedback_id": 1, "reply_id": 1, "kind": "confirm",
               "element": "lactate", "service_id": "sepsis-sentinel"}


def post_routes(app):
    for rule in app.url_map.iter_rules():
        if "POST" in rule.methods:
            yield rule.rule, rule.build({a: SAMPLE_ARGS[a] for a in rule.arguments}, append_unknown=False)[1]


def test_every_post_refuses_a_missing_or_foreign_csrf_token(app, launch):
    from app.web.security import CSRF_EXEMPT

    launched = launch("provider")
    routes = list(post_routes(app))
    assert len(routes) >= 6, routes
    exempt = {r.rule for r in app.url_map.iter_rules() if r.endpoint in CSRF_EXEMPT}
    assert exempt == {"/cds-services/<service_id>", "/cds-services/<service_id>/feedback"}
    for rule, url in routes:
        if rule in exempt:  # the EHR's server-to-server CDS Hooks calls: no cookie session, its signed JWT instead
            assert launched.client.post(url, json={}).status_code == 401, rule  # the session cookie is no key
            continue
        for token in (None, "forged-token"):
            data = {"csrf_token": token} if token else {}
            resp = launched.client.post(url, data=data)
            assert resp.status_code == 403, (rule, token, resp.status_code)
            assert "nothing was saved" in resp.get_data(as_text=True), rule


def test_a_session_ends_after_an_hour_idle(make_app, launch_with):
    now = [datetime.now(UTC)]
    app = make_app(clock=lambda: now[0])
    launched = launch_with(app, "nurse")
    assert launched.client.get(f"/patients/{SEPTIC}").status_code == 200
    now[0] += timedelta(minutes=61)
    resp = launched.client.get(f"/patients/{SEPTIC}")
    assert resp.status_code == 401
    assert "session has ended" in resp.get_data(as_text=True)


def test_a_session_ends_after_its_maximum_age_even_when_busy(make_app, launch_with):
    now = [datetime.now(UTC)]
    app = make_app(clock=lambda: now[0], session_max_hours=2)
    launched = launch_with(app, "nurse")
    for _ in range(3):  # active every 50 minutes
        now[0] += timedelta(minutes=50)
        status = launched.client.get("/transparency").status_code
    assert status == 200
    assert launched.client.get(f"/patients/{SEPTIC}").status_code == 401


@pytest.mark.parametrize("path", ["/", f"/patients/{SEPTIC}", "/transparency", "/feedback/new", "/nonexistent"])
def test_headers_on_every_page(make_app, launch_with, path):
    app = make_app(frame_ancestors=("https://ehr.hospital.example",))
    resp = launch_with(app, "nurse").client.get(path)
    csp = resp.headers["Content-Security-Policy"]
    assert "frame-ancestors https://ehr.hospital.example" in csp
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    assert resp.headers["Cache-Control"] == "no-store"


def test_cookies_for_an_https_iframe(make_app, launch_with):
    app = make_app(cookie_secure=True)
    launched = launch_with(app, "nurse")
    header = next(h for h in launched.callback.headers.getlist("Set-Cookie") if h.startswith(SESSION_COOKIE))
    for flag in ("Secure", "HttpOnly", "SameSite=None", "Partitioned"):
        assert flag in header, header
    # The launch cookie is deleted in the partitioned jar it was set in (else it would linger until it expires).
    gone = next(h for h in launched.callback.headers.getlist("Set-Cookie") if h.startswith(f"{LAUNCH_COOKIE}="))
    for flag in ("Max-Age=0", "Secure", "SameSite=None", "Partitioned"):
        assert flag in gone, gone
