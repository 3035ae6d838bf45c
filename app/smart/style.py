"""The EHR's launch styling (SMART App Launch 2.0, "Styling": `smart_style_url` in the token response), reduced
to values that cannot carry anything but a colour, a size or a font name.

The style document is fetched once at launch, only from the EHR's own origin (the `iss` scheme, host and port:
our HTTP session must not be pointed elsewhere by a token response), with the app's hardened HTTP session, its
timeouts, no redirects, and at most MAX_BYTES read. Each property is checked against a strict pattern and kept
only if it matches; nothing of the document ever becomes CSS text except those values, written by
`css_variables` as custom properties. Colours that carry clinical meaning (alert red, watch amber) stay ours.
"""

from __future__ import annotations

import json
import logging
import re
from urllib.parse import urlsplit

import requests

log = logging.getLogger(__name__)

MAX_BYTES = 32 * 1024
COLOR = re.compile(r"#[0-9a-fA-F]{3,8}|rgba?\(\s*\d{1,3}%?(\s*,\s*\d{1,3}%?){2}(\s*,\s*(0|1|0?\.\d+))?\s*\)")
DIMENSION = re.compile(r"\d{1,3}(\.\d{1,3})?(px|em|rem|%)")
FONT = re.compile(r"[A-Za-z0-9 ,'\"-]{1,120}")
# SMART style property -> (our CSS custom property, pattern)
PROPERTIES = {
    "color_background": ("--bg", COLOR),
    "color_text": ("--ink", COLOR),
    "color_highlight": ("--accent", COLOR),
    "dim_border_radius": ("--radius", DIMENSION),
    "dim_font_size": ("--font-size", DIMENSION),
    "font_family_body": ("--font-body", FONT),
    "font_family_heading": ("--font-heading", FONT),
}


def _origin(url: str) -> tuple[str, str, int | None] | None:
    try:
        parts = urlsplit(url)
        port = parts.port or {"https": 443, "http": 80}.get(parts.scheme)
    except ValueError:
        return None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return None
    return parts.scheme, parts.hostname.lower(), port


def safe_values(doc: object) -> dict[str, str]:
    """The style document's properties we use, each kept only if its whole value matches its pattern."""
    if not isinstance(doc, dict):
        return {}
    out = {}
    for name, (_, pattern) in PROPERTIES.items():
        value = doc.get(name)
        if isinstance(value, str) and pattern.fullmatch(value.strip()):
            value = value.strip()
            if pattern is FONT and (value.count('"') % 2 or value.count("'") % 2):
                continue  # an unbalanced quote would swallow the next declaration
            out[name] = value
    return out


def fetch_style(url: object, iss: str, http: requests.Session, timeout: tuple[float, float]) -> dict[str, str]:
    """The safe values of the style at `url`, or {} when there is none, it is elsewhere, too big or unreadable.
    Styling is a courtesy: it never fails a launch."""
    if not isinstance(url, str) or not url:
        return {}
    if _origin(url) is None or _origin(url) != _origin(iss):
        log.info("smart_style_url ignored: not on the EHR's origin")
        return {}
    try:
        with http.get(url, timeout=timeout, stream=True, allow_redirects=False,
                      headers={"Accept": "application/json"}) as resp:
            if resp.status_code != 200:
                log.info("smart_style_url ignored: status %s", resp.status_code)
                return {}
            body = resp.raw.read(MAX_BYTES + 1, decode_content=True)
    except requests.RequestException as exc:
        log.info("smart_style_url ignored: %s", type(exc).__name__)
        return {}
    if len(body) > MAX_BYTES:
        log.info("smart_style_url ignored: larger than %d bytes", MAX_BYTES)
        return {}
    try:
        return safe_values(json.loads(body))
    except ValueError:
        log.info("smart_style_url ignored: not JSON")
        return {}


def css_variables(values: dict[str, str]) -> str:
    """`:root { --bg: #fff; ... }` from values `safe_values` kept (checked again: the stored JSON is data)."""
    kept = safe_values(values)
    lines = [f"  {PROPERTIES[name][0]}: {value};" for name, value in kept.items()]
    return ":root {\n" + "\n".join(lines) + "\n}\n" if lines else "/* no EHR style */\n"
