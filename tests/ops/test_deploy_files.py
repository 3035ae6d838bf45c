"""The Dockerfile and compose.yaml cannot be built or run here (no base image can be pulled), so this checks what
can be checked: they parse, run the project's own install script, and agree with the settings and the probes."""

from __future__ import annotations

import re
import shlex
from dataclasses import fields
from pathlib import Path

import yaml
from flask import Flask

from app.config import PREFIX, Settings
from app.web.ops import bp as ops_blueprint

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text())
DOCKERFILE = (ROOT / "Dockerfile").read_text()
SETTINGS = {PREFIX + f.name.upper() for f in fields(Settings)}


def instructions(name: str) -> list[str]:
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    return [line.split(None, 1)[1] for line in text.splitlines() if line.startswith(name + " ")]


def test_the_image_installs_with_the_script_and_lock_file_ci_uses():
    runs = " ".join(instructions("RUN"))
    assert "scripts/bootstrap.sh" in runs
    copied = [shlex.split(c)[:-1] for c in instructions("COPY")]
    assert ["constraints.txt"] == [p for c in copied for p in c if p == "constraints.txt"]
    for source in (p for c in copied for p in c):
        assert (ROOT / source).exists(), source
    assert instructions("USER") == ["sentinel"]


def test_the_image_serves_on_the_port_it_exposes_and_checks_liveness():
    assert instructions("EXPOSE") == ["8000"]
    cmd = instructions("CMD")[0]
    assert '"sentinel", "serve", "--bind", "0.0.0.0:8000"' in cmd
    assert "/livez" in instructions("HEALTHCHECK")[0]
    env = " ".join(instructions("ENV"))
    assert "SENTINEL_LOG_FORMAT=json" in env and "SENTINEL_AUTO_MIGRATE=false" in env


def test_compose_names_the_app_the_worker_and_postgresql():
    services = COMPOSE["services"]
    assert {"app", "worker", "db", "migrate"} <= set(services)
    assert services["worker"]["command"] == ["sentinel", "worker"]
    assert services["migrate"]["command"] == ["sentinel", "db", "upgrade"]
    assert services["db"]["image"].startswith("postgres:")
    assert "pgdata:/var/lib/postgresql/data" in services["db"]["volumes"]


def test_the_app_service_publishes_the_port_it_binds_and_probes_readiness():
    app = COMPOSE["services"]["app"]
    bind = app["command"][app["command"].index("--bind") + 1]
    assert app["command"][:2] == ["sentinel", "serve"]
    published = [p.rsplit(":", 1)[-1] for p in app["ports"]]
    assert published == [bind.rsplit(":", 1)[-1]]
    assert all(p.startswith("127.0.0.1:") for p in app["ports"])  # behind the TLS proxy, never bare
    probe = " ".join(app["healthcheck"]["test"])
    assert f"http://127.0.0.1:{published[0]}/readyz" in probe
    flask_app = Flask(__name__)
    flask_app.register_blueprint(ops_blueprint)
    assert {"/livez", "/readyz", "/metrics"} <= {rule.rule for rule in flask_app.url_map.iter_rules()}


def test_every_variable_compose_sets_is_a_setting():
    names = set()
    for service in COMPOSE["services"].values():
        names |= {k for k in (service.get("environment") or {}) if k.startswith(PREFIX)}
    assert names and names <= SETTINGS, sorted(names - SETTINGS)
    env = COMPOSE["services"]["app"]["environment"]
    assert env["SENTINEL_LOG_FORMAT"] == "json" and env["SENTINEL_AUTO_MIGRATE"] == "false"
    assert int(env["SENTINEL_KEEPALIVE_SECONDS"]) > 60
    # `sentinel db upgrade` refuses SENTINEL_AUTO_MIGRATE (it sets it itself)
    assert "SENTINEL_AUTO_MIGRATE" not in COMPOSE["services"]["migrate"]["environment"]


def test_the_dockerignore_keeps_the_local_venv_and_data_out_of_the_image():
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".venv", ".git", "instance", "artifacts"} <= set(ignored)
