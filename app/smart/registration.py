"""Our SMART registration, read from smart_launch.json: client id, launch and redirect URIs, scopes."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Registration:
    client_id: str
    client_secret: str | None  # None: a public client (PKCE only)
    launch_path: str
    redirect_path: str
    ehr_launch_scope: str
    standalone_launch_scope: str

    def redirect_uri(self, public_url: str) -> str:
        return public_url.rstrip("/") + self.redirect_path

    def launch_uri(self, public_url: str) -> str:
        return public_url.rstrip("/") + self.launch_path


def load_registration(path: str | Path, environ: dict | None = None) -> Registration:
    """Read the registration; the client secret (confidential clients) comes from the environment, never the file."""
    environ = os.environ if environ is None else environ
    data = json.loads(Path(path).read_text())
    secret_env = data.get("client_secret_env")
    secret = environ.get(secret_env) if secret_env else None
    return Registration(
        client_id=data["client_id"],
        client_secret=secret or None,
        launch_path=data.get("launch_path", "/launch"),
        redirect_path=data.get("redirect_path", "/callback"),
        ehr_launch_scope=data["ehr_launch_scope"],
        standalone_launch_scope=data["standalone_launch_scope"],
    )
