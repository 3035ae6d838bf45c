"""The app's front door when opened outside an EHR: what it is and how to open it."""

import sqlalchemy as sa
from flask import Blueprint, render_template

from .guards import services

bp = Blueprint("home", __name__)


@bp.get("/")
def index():
    return render_template("home/index.html")


@bp.get("/healthz")
def healthz():
    """For load balancers: the process is up and the database answers."""
    with services().engine.connect() as conn:
        conn.execute(sa.text("SELECT 1"))
    return {"status": "ok"}
