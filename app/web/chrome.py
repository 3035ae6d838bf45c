"""What every page's frame needs: the role's badge, the site's zone, whether to show our patient banner, the
EHR's style (safe values only, as CSS custom properties from our own origin), and the favicon."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, g, send_from_directory

from app import roles
from app.bedside.timewords import zone_text
from app.smart.style import css_variables

from .guards import any_session, services

bp = Blueprint("chrome", __name__)


@bp.app_context_processor
def frame():
    def show_patient_banner() -> bool:
        """SMART App Launch: need_patient_banner false means the EHR shows one already, so ours is hidden."""
        session = g.get("session")
        display = (session.display or {}) if session is not None else {}
        return display.get("need_patient_banner", True) is not False

    def has_ehr_style() -> bool:
        session = g.get("session")
        return bool(session is not None and (session.display or {}).get("style"))

    def may(action: str) -> bool:
        """What the templates ask instead of naming roles: may this session's user take `action`?"""
        session = g.get("session")
        return session is not None and roles.may(session.role, action)

    return {"role_badge": lambda role: roles.BADGE.get(role or "", roles.BADGE[roles.READ_ONLY]), "may": may,
            "role_keys": lambda: roles.ROLES,
            "site_zone": lambda: zone_text(services().clock()), "show_patient_banner": show_patient_banner,
            "has_ehr_style": has_ehr_style}


@bp.get("/favicon.ico")
def favicon():
    return send_from_directory(current_app.static_folder, "favicon.ico", mimetype="image/vnd.microsoft.icon",
                               max_age=86400)


@bp.get("/ehr-style.css")
@any_session
def ehr_style():
    """The launch's smart_style_url values, vetted at launch (app.smart.style), as CSS custom properties: the
    stylesheet is ours and same-origin, so the CSP stays style-src 'self' and no EHR text becomes CSS."""
    body = css_variables((g.session.display or {}).get("style") or {})
    return Response(body, mimetype="text/css", headers={"Cache-Control": "private, no-store"})
