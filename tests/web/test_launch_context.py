"""SMART launch context the EHR sends for the app's display: need_patient_banner, smart_style_url (safe values
only, from the EHR's origin), and a user who is not in the care team."""

from __future__ import annotations

from urllib.parse import urlsplit

import requests
import responses

from app.smart import style
from app.smart.context import User
from tests.support.launch import SEPTIC, ehr_launch_url, follow_authorize

ISS = "https://ehr.example.org/fhir"
STYLE = "https://ehr.example.org/style.json"


def test_the_ehrs_style_is_applied_as_custom_properties_from_our_own_stylesheet(launch):
    launched = launch("nurse")
    html = launched.page.get_data(as_text=True)
    assert 'href="/ehr-style.css"' in html and "<style" not in html  # the CSP stays style-src 'self'
    css = launched.client.get("/ehr-style.css")
    body = css.get_data(as_text=True)
    assert css.status_code == 200 and css.mimetype == "text/css"
    assert "--bg: #f6f7f9;" in body and "--accent: #1d5fa8;" in body  # the sandbox EHR's smart-style.json
    assert "--font-body: 'Liberation Sans', Arial, sans-serif;" in body
    assert "--high" not in body  # the alert colours keep their meaning: never the EHR's


def test_only_safe_values_survive():
    doc = {"color_background": "#fff", "color_text": "red;} body{display:none", "color_highlight": "rgb(1, 2, 3)",
           "font_family_body": "x</style><script>", "font_family_heading": "'Open Sans', sans-serif",
           "dim_border_radius": "url(javascript:1)", "dim_font_size": "14px", "unknown": "#000"}
    assert style.safe_values(doc) == {"color_background": "#fff", "color_highlight": "rgb(1, 2, 3)",
                                      "font_family_heading": "'Open Sans', sans-serif", "dim_font_size": "14px"}
    assert style.safe_values({"font_family_body": "'Open Sans, serif"}) == {}  # unbalanced quote
    assert style.css_variables({"color_text": "}"}) == "/* no EHR style */\n"


@responses.activate
def test_the_style_is_read_only_from_the_ehrs_origin_and_bounded():
    http = requests.Session()
    responses.get(STYLE, json={"color_background": "#123456"})
    assert style.fetch_style(STYLE, ISS, http, (1, 1)) == {"color_background": "#123456"}
    assert style.fetch_style("https://elsewhere.example.com/style.json", ISS, http, (1, 1)) == {}
    assert style.fetch_style("http://ehr.example.org/style.json", ISS, http, (1, 1)) == {}  # scheme differs
    responses.get("https://ehr.example.org/big.json", body=b"{" + b" " * (style.MAX_BYTES + 10) + b"}")
    assert style.fetch_style("https://ehr.example.org/big.json", ISS, http, (1, 1)) == {}
    responses.get("https://ehr.example.org/moved.json", status=302, headers={"Location": "https://evil.example/"})
    assert style.fetch_style("https://ehr.example.org/moved.json", ISS, http, (1, 1)) == {}
    responses.get("https://ehr.example.org/junk.json", body="not json")
    assert style.fetch_style("https://ehr.example.org/junk.json", ISS, http, (1, 1)) == {}
    assert len(responses.calls) == 4  # the off-origin URLs were never requested


def _refused(app, ehr, user: str):
    client = app.test_client()
    url = urlsplit(ehr_launch_url(ehr, user, SEPTIC))
    resp = follow_authorize(client, client.get(f"{url.path}?{url.query}"))
    return client, resp, resp.get_data(as_text=True)


def test_the_patient_signed_in_through_a_portal_gets_the_care_team_page_and_no_session(app, ehr):
    client, resp, text = _refused(app, ehr, "patient-self")  # the sandbox EHR's fhirUser is Patient/<id>
    assert resp.status_code == 403 and "Sepsis Sentinel is for the care team" in text
    assert "not available to patients or their family" in text and "Unknown user" not in text
    assert client.get(f"/patients/{SEPTIC}").status_code == 401  # no session was opened


def test_a_related_person_is_refused_the_same_way(app, ehr, monkeypatch):
    from app.smart import launch as smart_launch

    # The sandbox has no RelatedPerson user; the user resolved from the launch is replaced by one.
    monkeypatch.setattr(smart_launch, "resolve_user", lambda *a, **k: User("RelatedPerson/r1", None, "read-only"))
    client, resp, text = _refused(app, ehr, "nurse")
    assert resp.status_code == 403 and "Sepsis Sentinel is for the care team" in text
    assert client.get(f"/patients/{SEPTIC}").status_code == 401
