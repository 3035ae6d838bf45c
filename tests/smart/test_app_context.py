"""appContext and fhirContext from the token response: kept when sane, ignored otherwise (untrusted input), and the
alert an appContext names read back only when it is well formed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.cds.cards import alert_of, app_context
from app.smart.oauth import MAX_APP_CONTEXT, _token_set

NOW = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
BASE = {"access_token": "a", "token_type": "Bearer", "patient": "p1", "encounter": "e1"}


def test_app_context_and_fhir_context_are_kept():
    tokens = _token_set({**BASE, "appContext": '{"alert":7}',
                         "fhirContext": [{"reference": "Encounter/e1"}, {"reference": "https://x/y"},
                                         {"type": "Encounter"}, "junk"]}, NOW)
    assert tokens.app_context == '{"alert":7}'
    assert tokens.fhir_context == ("Encounter/e1",)


@pytest.mark.parametrize("value", [{"alert": 7}, 7, "", "x" * (MAX_APP_CONTEXT + 1)])
def test_an_app_context_that_is_not_a_bounded_string_is_ignored(value):
    assert _token_set({**BASE, "appContext": value}, NOW).app_context is None


def test_a_refresh_without_them_keeps_the_launchs():
    first = _token_set({**BASE, "appContext": '{"alert":7}', "fhirContext": [{"reference": "Encounter/e1"}]}, NOW)
    again = _token_set({"access_token": "b", "token_type": "Bearer"}, NOW, previous=first)
    assert (again.app_context, again.fhir_context) == ('{"alert":7}', ("Encounter/e1",))


@pytest.mark.parametrize("text, alert", [(app_context(12), 12), ('{"alert": "12"}', None), ('{"alert": true}', None),
                                         ("[12]", None), ("not json", None), (None, None), ('{"alert": -1}', None),
                                         ('{"alert": 99999999999}', None)])
def test_the_alert_an_app_context_names(text, alert):
    assert alert_of(text) == alert
