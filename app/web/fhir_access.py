"""A FHIR transport for the current session: the launched EHR's base, the session's tokens, site timeouts."""

from __future__ import annotations

from app.fhir import Transport
from app.smart import Session
from app.smart.tokens import SessionTokens

from .guards import services


def transport_for(session: Session) -> Transport:
    svc = services()
    st = svc.settings
    tokens = SessionTokens(svc.store, session, svc.registration, svc.http,
                           (st.fhir_connect_timeout, st.fhir_read_timeout), svc.clock)
    return Transport(session.iss, tokens, session=svc.http, connect_timeout=st.fhir_connect_timeout,
                     read_timeout=st.fhir_read_timeout, time_budget=st.fhir_time_budget,
                     max_bytes=st.fhir_max_response_bytes, max_entries=st.fhir_max_entries_per_page)
