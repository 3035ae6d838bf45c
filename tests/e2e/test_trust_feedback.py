"""A nurse asks a question with the feedback button; the deployment team answers it in the inbox; the nurse sees
the answer at the next launch. In Debian's Chromium, inside the sandbox EHR's iframe, each user in their own
browser context."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from app import feedback
from tests.support.e2e import open_chart, screenshot
from tests.support.smtp import refuse_writes_to

PATIENT = "demo-102421"


@pytest.fixture
def new_page(browser: Browser, stack):
    """A page in a browser context of its own (another person at another workstation)."""
    contexts = []

    def _new() -> Page:
        context = browser.new_context(base_url=stack.ehr_url)
        contexts.append(context)
        return context.new_page()

    yield _new
    for context in contexts:
        context.close()


def test_a_question_is_answered_and_seen_at_the_next_launch(page: Page, new_page, stack):
    question = "Why does the score stay high when her lactate came down?"
    answer = "The model also weighs the falling blood pressure and rising respiratory rate; see the starred inputs."

    # The nurse asks, from the patient's page.
    app = open_chart(page, "nurse", PATIENT)
    app.get_by_role("link", name="Send feedback").click()
    form = app.locator("#feedback-form")
    expect(form).to_be_visible()
    expect(form.locator("#feedback-context")).to_contain_text(PATIENT)
    form.get_by_label("question").check()
    form.get_by_label("Your message").fill(question)
    screenshot(page, "trust-feedback-form")
    form.get_by_role("button", name="Send").click()
    expect(app.locator("#feedback-sent")).to_contain_text("Sent")
    sent_id = int(re.search(r"#(\d+)", app.locator("#feedback-sent").inner_text()).group(1))
    assert feedback.get(stack.app.extensions["sentinel"].engine, sent_id).text == question

    # The deployment team answers from the inbox.
    team_page = new_page()
    team = open_chart(team_page, "deployment", PATIENT)
    team.get_by_role("link", name="Feedback inbox").click()
    row = team.locator(f"#inbox-row-{sent_id}")
    expect(row).to_contain_text("question")
    expect(row).to_contain_text("new")
    screenshot(team_page, "trust-inbox")
    row.get_by_role("link", name=f"#{sent_id}").click()
    expect(team.locator("#thread-text")).to_have_text(question)
    team.get_by_label("Reply").fill(answer)
    team.get_by_role("button", name="Send reply").click()
    expect(team.locator("#thread-status")).to_have_text("answered")
    expect(team.locator("#feedback-thread")).to_contain_text(answer)
    screenshot(team_page, "trust-inbox-answered")

    # The nurse's next launch: the answer is waiting, on whatever page the app opens.
    nurse_again = new_page()
    app = open_chart(nurse_again, "nurse", PATIENT)
    notice = app.locator("#feedback-answers article")
    expect(notice).to_contain_text("The deployment team answered your question")
    expect(notice).to_contain_text(answer)
    screenshot(nurse_again, "trust-answer-at-next-launch")
    notice.get_by_role("button", name="Mark as read").click()
    expect(app.locator("#feedback-answers article")).to_have_count(0)
    app.locator("#transparency-link").click()  # and it stays read on other pages
    expect(app.locator("#data-handling")).to_be_visible()
    expect(app.locator("#feedback-answers article")).to_have_count(0)


def test_when_saving_fails_the_text_stays_and_the_page_says_not_saved(page: Page, stack):
    app = open_chart(page, "nurse", PATIENT)
    app.get_by_role("link", name="Send feedback").click()
    typed = "The alert fired twice for the same episode."
    app.get_by_label("Your message").fill(typed)
    app.get_by_label("problem").check()
    restore = refuse_writes_to(stack.app.extensions["sentinel"].engine, "feedback")
    try:
        app.get_by_role("button", name="Send").click()
        expect(app.locator("#request-failed")).to_contain_text("Not saved")
    finally:
        restore()
    expect(app.get_by_label("Your message")).to_have_value(typed)
    screenshot(page, "trust-feedback-not-saved")
    app.get_by_role("button", name="Send").click()  # the database is back: sending again works
    expect(app.locator("#feedback-sent")).to_contain_text("Sent")
    expect(app.locator("#request-failed")).to_be_hidden()
