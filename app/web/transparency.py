"""The transparency page: who made the model and from what data, how well it does where it was never trained,
what the stars mean, its limits, and how this deployment handles patient data. Rendered from the model card.

Open to anyone (it holds no patient data); a launched user keeps their header, notices and feedback button.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from flask import Blueprint, abort, g, render_template, send_file

from app.alerts import thresholds
from app.bedside.card_summary import plain_summary
from app.model.hti1 import source_attributes

from .guards import cookie_session_ids, services
from .model_card import current_card, model_dir

bp = Blueprint("transparency", __name__, url_prefix="/transparency")

# Reliability diagrams `sentinel train` writes next to the card: set B's is named in the card
# (external_validation.reliability_plot); held-out A's has a fixed name (app/model/train.py).
HELDOUT_A_PLOT = "reliability_heldout_A.png"


@dataclass(frozen=True)
class Plot:
    key: str  # URL part
    title: str
    filename: str


def reliability_plots(card: dict, directory: Path) -> list[Plot]:
    """The reliability PNGs that the card names and that exist, set B (never seen) first."""
    plots = []
    external = card.get("external_validation") or {}
    if external.get("reliability_plot"):
        plots.append(Plot("B", "Hospital B, never seen in training", Path(external["reliability_plot"]).name))
    plots.append(Plot("heldout_A", "Held-out patients of hospital A", HELDOUT_A_PLOT))
    return [p for p in plots if (directory / p.filename).is_file()]


@dataclass(frozen=True)
class Stored:
    """One line of the data-handling table."""

    what: str
    where: str
    kept: str


def data_handling(settings, dialect: str) -> list[Stored]:
    """What this deployment stores, where and for how long, from its settings and its tables (app/db.py,
    app/alerts/store.py, thresholds.py, app/nursing/form.py, app/bundle/orders.py, app/feedback/store.py). Keep in step with the
    tables: a test fails when a table is not named here."""
    hours, idle = settings.session_max_hours, settings.session_idle_minutes
    db = "the site's database (" + ("SQLite file on the app server" if dialect == "sqlite" else
                                    "PostgreSQL server run by the site") + ")"
    return [
        Stored("Vital signs, laboratory results, age and sex",
               "read from the EHR over FHIR each time a page opens; held in the app's memory while that page is built",
               "not stored, except with an alert (next line) and in the screening window (below)"),
        Stored("Each alert: patient and encounter id, care unit, when it was raised, the risk, threshold and model "
               "version, the signs of organ dysfunction and every vital sign and laboratory value (with its time) the "
               "model was given (not age or sex); "
               "each decision, pause and order proposal with who made it, when, and any reason or note; nurse "
               "screening answers", f"{db}, tables alerts, alert_events, bundle_orders and nurse_screenings",
               "kept; no automatic deletion (it is the record of what the app showed and what was decided)"),
        Stored("Your session: patient id, encounter id, your user reference, name and role, the EHR's access "
               "tokens (encrypted), and the launch's context (a card's alert id, the unit)", f"{db}, table sessions",
               f"usable for at most {hours} h, or until {idle} min without use; the row is deleted a day after it "
               "expires (at the next launch)"),
        Stored("A launch in progress (state, PKCE verifier, encrypted)", f"{db}, table pending_launches",
               f"{settings.pending_launch_minutes} min; used once, deleted after expiry at the next launch"),
        Stored("Audit trail: who (user reference, role) did what, to which patient id, when",
               f"{db}, table audit_log", "kept; no automatic deletion (the site's record-keeping policy applies)"),
        Stored("Feedback: your text, the page, patient id, alert id and model version, your user reference and "
               "role; the deployment team's replies", f"{db}, tables feedback and feedback_replies",
               "kept until the site deletes it; no automatic deletion"),
        Stored("Site alert threshold: each value, who set it, when and why", f"{db}, table site_thresholds",
               "kept (it is the change history)"),
        Stored("Background screening: for each patient on the screened units, the vital signs and laboratory values "
               "(value and time) of the model's time window, birth date and sex, and when they were last read; every "
               "risk score or abstention with its time (screening and chart opens), and each screening cycle's counts",
               f"{db}, tables screening_windows, risk_scores and screening_cycles",
               "the window holds only the model's look-back (older values are dropped at each read) and is "
               "replaced at every cycle; scores and cycles are kept (they are the risk over time)"),
        Stored("CDS Hooks (cards in the EHR's chart): each card returned (its id, the EHR, the patient id, the alert "
               "id, when), the EHR's feedback on it (accepted or overridden, the reason and comment the EHR sends), "
               "and the id of each signed call the EHR made", f"{db}, tables cds_cards, cds_feedback and cds_jtis",
               "cards and feedback are kept (they are the adoption figures); a call's id is deleted once the call's "
               "token has expired"),
        Stored("E-mail to the deployment team", "the site's mail server",
               "type, number and a link only: no text, no patient id"),
        Stored("Browser cookies", "your browser", "an opaque random id per open chart; no patient data"),
        Stored("Application logs", "the app server", "ids, counts and timings; never names, values or tokens"),
    ]


def _optional_session() -> None:
    """Show the launched user's header and notices when there is a session; none is needed."""
    svc = services()
    live = svc.store.live(cookie_session_ids(), svc.clock())
    g.session = live[0] if live else None


def _site_threshold(card: dict | None):
    default = (card or {}).get("threshold", {}).get("value")
    if default is None:
        return None, []
    svc, session = services(), g.get("session")
    # Thresholds are per EHR: the launched one's, or without a launch the only allow-listed one's. With several
    # EHRs and no launch, the model card's threshold (what applies until a site sets its own).
    listed = {i.rstrip("/") for i in svc.settings.iss_allowlist}
    iss = session.iss if session else (next(iter(listed)) if len(listed) == 1 else None)
    if iss is None:
        return thresholds.SiteThreshold(value=float(default), version=0, set_by=None, set_at=None, reason=None), []
    return thresholds.current(svc.engine, float(default), iss=iss), thresholds.history(svc.engine, iss=iss)


@bp.get("")
def page():
    _optional_session()
    card = current_card()
    svc = services()
    current, history = _site_threshold(card)
    return render_template("transparency/page.html", card=card, summary=plain_summary(card) if card else None,
                           plots=reliability_plots(card, model_dir()) if card else [],
                           handling=data_handling(svc.settings, svc.engine.dialect.name),
                           site_threshold=current, threshold_history=history,
                           source_attributes=source_attributes(card) if card else [])


@bp.get("/reliability/<key>.png")
def reliability(key: str):
    """A reliability diagram from the model directory; only files the card names are served."""
    card = current_card()
    if card is None:
        abort(404)
    directory = model_dir()
    for plot in reliability_plots(card, directory):
        if plot.key == key:
            return send_file(directory / plot.filename, mimetype="image/png", max_age=3600)
    abort(404)
