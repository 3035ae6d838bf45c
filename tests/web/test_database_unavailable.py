"""When the database does not answer, a page or a form gets 503 with a message, never a 500: htmx leaves the form
as it was (a 5xx is not swapped) and the banner shows the message. A real restart under load: tests/resilience/."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from tests.support.launch import SEPTIC
from tests.support.smtp import refuse_writes_to

TITLE = "Sepsis Sentinel&#39;s database did not answer"


@pytest.fixture
def database_down(app):
    """database_down() -> every statement now fails as a lost connection does; undone after the test."""
    engine = app.extensions["sentinel"].engine

    def fail(conn, cursor, statement, parameters, context, executemany):
        raise sa.exc.OperationalError(statement, parameters, ConnectionError("server closed the connection"))

    def down():
        sa.event.listen(engine, "before_cursor_execute", fail)

    yield down
    if sa.event.contains(engine, "before_cursor_execute", fail):
        sa.event.remove(engine, "before_cursor_execute", fail)


def test_a_screening_the_database_does_not_take_is_503_and_may_be_sent_again(launch, app):
    nurse = launch("nurse")
    token = nurse.csrf()
    form = {"submission_id": "a" * 32, "infection_source": "lung", "new_confusion": "no"}
    headers = {"HX-Request": "true", "X-CSRF-Token": token}
    undo = refuse_writes_to(app.extensions["sentinel"].engine, "nurse_screenings")
    refused = nurse.client.post(f"/patients/{SEPTIC}/screening", headers=headers, data=form)
    undo()
    text = refused.get_data(as_text=True)
    assert refused.status_code == 503 and "<html" not in text  # the message fragment, for the banner
    assert re.search(rf'role="alert" data-status="503">\s*<h1>{TITLE}</h1>\s*<p>What you sent may not have been '
                     r"saved\. What you entered is still on the page: send it again in a minute\.", text)
    again = nurse.client.post(f"/patients/{SEPTIC}/screening", headers=headers, data=form)
    assert again.status_code == 200 and "Saved at" in again.get_data(as_text=True)


def test_a_page_or_health_check_without_the_database_is_503(launch, app, database_down):
    nurse = launch("nurse")
    database_down()
    page = nurse.client.get(f"/patients/{SEPTIC}")
    assert page.status_code == 503
    assert f"<h1>{TITLE}</h1>" in page.get_data(as_text=True) and "This could not be shown" in page.get_data(
        as_text=True)
    assert nurse.client.get("/healthz").status_code == 503  # the load balancer takes this instance out
