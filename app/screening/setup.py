"""The screening as a deployment runs it: built from the app's services and settings, with the backend token."""

from __future__ import annotations

from datetime import timedelta

from app.fhir import TokenSource, Transport

from .cycle import Screening, ScreeningSettings


class NotConfigured(RuntimeError):
    """Screening cannot run with these settings; the message says which to set."""


def screening_for(services, token_source: TokenSource | None, fhir_base: str, *, model=None) -> Screening:
    """A Screening of `fhir_base` with the app's engine, model, alert policy and clocks. A Transport per patient
    (its time budget covers one patient) on the app's one HTTP session."""
    st = services.settings
    if not st.screen_locations:
        raise NotConfigured("SENTINEL_SCREEN_LOCATIONS names no Location to screen (e.g. Location/icu-4)")
    if token_source is None or not fhir_base:
        raise NotConfigured("screening needs the SMART Backend Services client: set SENTINEL_BACKEND_CLIENT_ID, "
                            "SENTINEL_BACKEND_FHIR_BASE and its key")
    settings = ScreeningSettings(iss=fhir_base.strip().rstrip("/"), locations=tuple(st.screen_locations),
                                 lookback_hours=st.observation_lookback_hours, page_size=st.page_size,
                                 max_pages=st.max_pages)

    def transport() -> Transport:
        return Transport(settings.iss, token_source, session=services.http, connect_timeout=st.fhir_connect_timeout,
                         read_timeout=st.fhir_read_timeout, time_budget=st.fhir_time_budget)

    after_score = None
    if st.writeback:
        from app import writeback

        lookback = timedelta(hours=st.observation_lookback_hours)

        def after_score(transport, scope, window, assessed, before, now):
            writeback.write(transport, scope, assessed, before, now,
                            writeback.basis_ids(window.observations, now, lookback))

    return Screening(services.engine, settings, transport, model=model, policy=services.policy,
                     clock=services.clinical_now, after_score=after_score)
