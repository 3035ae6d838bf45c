"""The smaller holes a hospital security team found, each closed and tested: a back link through a control
character, log lines forged through /callback?error=, a /launch flood, and deeply nested JSON from the EHR."""

from __future__ import annotations

import logging
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from app import feedback
from tests.support.launch import SEPTIC, ehr_launch_url


def _begin(app, ehr, **environ):
    client = app.test_client()
    url = urlsplit(ehr_launch_url(ehr, "nurse", SEPTIC))
    return client, client.get(f"{url.path}?{url.query}", environ_base=environ or {})


@pytest.mark.parametrize("back_link", ["/\t/evil.example/x", "/\n/evil.example", "/\r\n/evil.example", "/\x0b/evil.example",
                                  "/ /evil.example", "/\x7f/evil.example"])
def test_a_back_link_with_a_control_character_is_not_a_way_off_the_app(app, launch, back_link):
    nurse = launch("nurse")
    form = nurse.client.get(f"/feedback/new?page={quote(back_link)}").get_data(as_text=True)
    assert "evil.example" not in form and "Back to where you were" not in form  # browsers drop tabs: //evil
    token = nurse.csrf()
    sent = nurse.client.post("/feedback", data={"csrf_token": token, "kind": "question", "text": "x", "page": back_link})
    assert sent.status_code == 303
    [item] = feedback.listing(app.extensions["sentinel"].engine)
    assert item.context.page is None
    assert "evil.example" not in nurse.client.get(sent.headers["Location"]).get_data(as_text=True)


def test_a_newline_in_callback_error_cannot_forge_a_log_line(app, ehr, caplog):
    client, resp = _begin(app, ehr)
    state = parse_qs(urlsplit(resp.headers["Location"]).query)["state"][0]
    forged = "access_denied\n2026-12-04 01:00:00 INFO app.audit admin signed in as Practitioner/1"
    with caplog.at_level(logging.INFO):
        page = client.get(f"/callback?state={state}&error={quote(forged)}")
    assert page.status_code == 403
    lines = [r.getMessage() for r in caplog.records]
    assert any("authorization_denied" in line for line in lines)
    assert not any("\n" in line or "admin signed in" in line for line in lines)


def test_error_details_are_logged_on_one_line_whatever_they_contain():
    from app.web.errors import one_line

    assert one_line("HTTP 400 on Patient\n2026-12-04 INFO forged\r\x1b[2J") == (
        "HTTP 400 on Patient\\n2026-12-04 INFO forged\\r\\x1b[2J")


def test_a_launch_flood_is_refused_before_it_fills_the_database(make_app, ehr):
    app = make_app(pending_launches_per_client=3, pending_launches_max=5)
    for _ in range(3):
        assert _begin(app, ehr, REMOTE_ADDR="10.0.0.1")[1].status_code == 302
    flooded = _begin(app, ehr, REMOTE_ADDR="10.0.0.1")[1]
    assert flooded.status_code == 429 and "Too many sign-ins" in flooded.get_data(as_text=True)
    for _ in range(2):  # another workstation still gets in, until the overall bound
        assert _begin(app, ehr, REMOTE_ADDR="10.0.0.2")[1].status_code == 302
    assert _begin(app, ehr, REMOTE_ADDR="10.0.0.3")[1].status_code == 429
    import sqlalchemy as sa

    from app.db import pending_launches

    with app.extensions["sentinel"].engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(pending_launches)).scalar() == 5


def test_behind_a_proxy_each_workstation_is_bounded_on_its_own(make_app, ehr):
    app = make_app(pending_launches_per_client=2, proxy_hops=1)
    proxy = {"REMOTE_ADDR": "10.0.0.9"}  # every request arrives from the TLS proxy
    for workstation in ("192.168.1.10", "192.168.1.11"):
        for _ in range(2):
            assert _begin(app, ehr, **proxy, HTTP_X_FORWARDED_FOR=workstation)[1].status_code == 302
        assert _begin(app, ehr, **proxy, HTTP_X_FORWARDED_FOR=workstation)[1].status_code == 429
    # A client cannot pick a fresh address: only the proxy's own entry (the last one) is trusted.
    spoofed = _begin(app, ehr, **proxy, HTTP_X_FORWARDED_FOR="1.2.3.4, 192.168.1.10")[1]
    assert spoofed.status_code == 429


def test_a_finished_launch_no_longer_counts_against_the_bound(make_app, launch_with):
    app = make_app(pending_launches_per_client=1)
    for _ in range(3):  # each launch completes, so the next one from the same address is let in
        assert launch_with(app, "nurse").page.status_code == 200


def test_deeply_nested_json_from_the_ehr_gives_the_clear_no_score_page(app, launch, ehr, faults):
    nurse = launch("nurse")
    faults.set(ehr, "junk", body="nested", path="/fhir/Patient")
    page = nurse.client.get(f"/patients/{SEPTIC}")
    assert page.status_code == 502  # before: RecursionError, 500
    assert "could not read" in page.get_data(as_text=True) and "no risk score is shown" in page.get_data(as_text=True)
