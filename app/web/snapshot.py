"""The bedside page's one FHIR read, for the blueprints that render the page or a part of it: the patient page,
and the action forms whose errors come back inside the whole page when htmx is not there."""

from __future__ import annotations

import dataclasses

from flask import g, render_template

from app.bedside import FetchSettings, take_snapshot
from app.ops import metrics

from .guards import services
from .scope import context


def fetch_settings() -> FetchSettings:
    st = services().settings
    return FetchSettings(lookback_hours=st.observation_lookback_hours, page_size=st.page_size, max_pages=st.max_pages)


def take(with_bundle: bool = True):
    """The launched patient's snapshot, scored with the services' model and alert policy."""
    svc = services()
    snapshot = take_snapshot(svc.transport_for(g.session), svc.engine, context(), svc.clinical_now(), fetch_settings(),
                             model=svc.model, policy=svc.policy, with_bundle=with_bundle)
    metrics.assessment(snapshot.assessment.level)
    return snapshot


def page_with(status: int, **panels):
    """Without htmx, a form with errors comes back inside the whole page (status 422), its input kept."""
    snapshot = dataclasses.replace(take(), **panels)
    return render_template("patient/page.html", view=snapshot, notice=None), status
