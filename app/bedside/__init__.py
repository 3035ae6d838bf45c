"""The bedside page's application layer, no Flask: the page-load use case, the ordering command, and the frozen
view models with their wording. The web layer imports from here.

    ctx = PageContext.of(session)
    snapshot = take_snapshot(transport, engine, ctx, now, FetchSettings(...), model=..., policy=...)
    order, replayed = place_order(transport, engine, ctx, alert_id, element, choice, submission_id, now)

Modules: `page` (one page load, and the bundle fragment), `ordering` (placing a bundle order), `panels` (the
alert, screening, bundle and headline panels), `nursing_assessment`, `data_lists`, `banner` (what the page shows
of the record), `bundle_facts` (the bundle's Facts from FHIR), and the wording: `headline`, `abnormal`,
`timewords`, `card_summary`.
"""

from .errors import OrderInvalid
from .ordering import place_order
from .page import FetchSettings, Snapshot, bundle_only, fetch_and_map, section_order, take_snapshot
from .page_context import PageContext
from .panels import (
    AlertPanel,
    BundlePanel,
    HeadlinePanel,
    OrderCell,
    ScreeningPanel,
    alert_panel,
    bundle_panel,
    headline_panel,
    screening_panel,
)
from .timewords import clock_text

__all__ = [
    "AlertPanel", "BundlePanel", "FetchSettings", "HeadlinePanel", "OrderCell", "OrderInvalid", "PageContext",
    "ScreeningPanel", "Snapshot", "alert_panel", "bundle_only", "bundle_panel", "clock_text", "fetch_and_map",
    "headline_panel", "place_order", "screening_panel", "section_order", "take_snapshot",
]
