"""The sandbox EHR served on a free loopback port for a test (sandbox.stack.EhrServer, as the demo and the
end-to-end tests serve it): its Flask app, with the address it serves on as `base_url`."""

from __future__ import annotations

import contextlib

from sandbox.stack import EhrServer


@contextlib.contextmanager
def served_sandbox(settings: dict | None = None, *, sample_patients: bool = False):
    """The sandbox EHR (demo patients only, unless `sample_patients`) for as long as the block runs."""
    server = EhrServer({"LOAD_SAMPLE_PATIENTS": sample_patients, **(settings or {})})
    server.app.base_url = server.base_url
    try:
        yield server.app
    finally:
        server.close()
