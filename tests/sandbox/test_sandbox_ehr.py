"""The EHR front page and chart: what a person (or Playwright) clicks to launch the app."""

from __future__ import annotations

import re

from sandbox import create_sandbox, register_client
from tests.support.sandbox_launch import APP_ID, APP_LAUNCH, FHIR, SEPTIC, open_chart


def options(page: str, select_id: str) -> list[str]:
    block = re.search(rf'<select id="{select_id}"[^>]*>(.*?)</select>', page, re.S).group(1)
    return re.findall(r'<option value="([^"]+)"', block)


def test_front_page_offers_users_then_demo_and_sample_patients(client):
    page = client.get("/").text
    assert options(page, "user") == ["nurse", "provider", "deployment", "patient-self"]  # the last: not care team
    patients = options(page, "patient")
    assert patients[0].startswith("demo-") and len(patients) == 10 + 32
    assert all(p.startswith("demo-") for p in patients[:10])
    assert "87a339d0-8cae-418e-89c7-8651e6aab3c6" in patients[10:]  # Danae Kshlerin, as on the public sandbox
    assert ">Open Sepsis Sentinel</button>" in page
    assert 'id="demo-patients"' in page and "lactate" in page


def test_chart_shows_the_banner_and_launches_the_app_in_an_iframe(client):
    page = client.get(f"/ehr/chart?user=provider&patient={SEPTIC}&app={APP_ID}").text
    assert 'id="banner"' in page and "Margaret Holloway" in page and 'id="banner-age">71 y' in page
    assert "Dr. Samuel Okafor" in page
    src = re.search(r'<iframe id="app"[^>]*src="([^"]+)"', page).group(1)
    assert src.startswith(APP_LAUNCH + "?iss=")
    launch = open_chart(client)
    assert launch["iss"] == FHIR and launch["launch"]
    assert 'id="orders"' in page


def test_chart_needs_a_user_a_patient_and_an_app(client):
    assert client.get(f"/ehr/chart?user=nobody&patient={SEPTIC}").status_code == 400
    assert client.get("/ehr/chart?user=nurse&patient=nobody").status_code == 400


def test_orders_frame_says_when_there_are_none_and_refreshes_itself(client):
    page = client.get("/ehr/orders?patient=demo-109764").text
    assert 'id="no-orders"' in page and 'http-equiv="refresh"' in page
    assert client.get("/ehr/orders?patient=nobody").status_code == 404


def test_without_a_registered_app_the_button_is_disabled():
    app = create_sandbox({"LOAD_SAMPLE_PATIENTS": False})
    page = app.test_client().get("/").text
    assert 'id="no-app"' in page and "disabled" in page
    register_client(app, "x", ["http://x.test/cb"], "http://x.test/launch")
    assert 'id="no-app"' not in app.test_client().get("/").text


def test_smart_style_url_serves_json(client):
    assert client.get("/ehr/smart-style.json").json["color_background"].startswith("#")
