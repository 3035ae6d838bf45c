"""Real servers for the benchmarks: the sandbox EHR in its own process, the app under gunicorn, a throwaway
PostgreSQL. Loopback only; every process is started here and stopped by `Servers.stop()` (by its own id).

Used by bench/load.py and bench/footprint.py; not a benchmark itself.
"""

from __future__ import annotations

import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
BASH = shutil.which("bash") or "/bin/bash"
PG_TEST = str(ROOT / "scripts" / "pg_test.sh")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, proc: subprocess.Popen, log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: the process exited ({proc.returncode}); see {log}:\n{log.read_text()[-2000:]}")
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout:g} s; see {log}")


@dataclass
class Servers:
    ehr_url: str
    fhir_base: str
    app_url: str
    database_url: str
    workdir: Path
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    pg_dir: str | None = None

    def stop(self) -> None:
        for name in ("app", "ehr"):
            proc = self.procs.get(name)
            if proc and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        if self.pg_dir:
            subprocess.run([BASH, PG_TEST, "stop"], env={**os.environ, "PGTEST_DIR": self.pg_dir},  # noqa: S603
                           check=False, capture_output=True)

    def gunicorn_pids(self) -> tuple[int, list[int]]:
        """(master pid, worker pids) of the app."""
        master = self.procs["app"].pid
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        return master, [int(p) for p in children]


def start_postgres() -> tuple[str, str]:
    """A throwaway PostgreSQL on a private socket (scripts/pg_test.sh): (SQLAlchemy URL, its directory)."""
    out = subprocess.run([BASH, PG_TEST, "start"], capture_output=True, text=True, check=True).stdout  # noqa: S603
    values = dict(re.findall(r"export (\w+)=(\S+)", out))
    return shlex.split(values["TEST_DATABASE_URL"])[0], values["PGTEST_DIR"]


def start(*, workers: int = 2, threads: int = 8, database_url: str | None = None,
          sample_patients: bool = False, log_level: str = "WARNING") -> Servers:
    """The sandbox EHR (own process), a PostgreSQL (throwaway unless `database_url`), the app under gunicorn."""
    from app.smart import load_registration

    workdir = Path(tempfile.mkdtemp(prefix="sentinel-bench-"))
    pg_dir = None
    if database_url is None:
        database_url, pg_dir = start_postgres()
    ehr_port, app_port = free_port(), free_port()
    ehr_url, app_url = f"http://127.0.0.1:{ehr_port}", f"http://127.0.0.1:{app_port}"
    servers = Servers(ehr_url=ehr_url, fhir_base=f"{ehr_url}/fhir", app_url=app_url, database_url=database_url,
                      workdir=workdir, pg_dir=pg_dir)
    try:
        reg = load_registration(ROOT / "smart_launch.json")
        scope = " ".join(sorted(set(reg.ehr_launch_scope.split()) | set(reg.standalone_launch_scope.split())))
        ehr_log = workdir / "ehr.log"
        argv = [PYTHON, "-m", "sandbox", "--port", str(ehr_port), "--register-client", reg.client_id,
                "--redirect-uri", reg.redirect_uri(app_url), "--launch-url", reg.launch_uri(app_url), "--scope", scope]
        if not sample_patients:
            argv.append("--no-sample-patients")
        with ehr_log.open("w") as log:
            servers.procs["ehr"] = subprocess.Popen(argv, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
        env = {**os.environ, "SENTINEL_DATABASE_URL": database_url, "SENTINEL_SECRET_KEY": secrets.token_urlsafe(32),
               "SENTINEL_PUBLIC_URL": app_url, "SENTINEL_ISS_ALLOWLIST": servers.fhir_base,
               "SENTINEL_FRAME_ANCESTORS": f"'self',{ehr_url}", "SENTINEL_LOG_LEVEL": log_level,
               "SENTINEL_AUTO_MIGRATE": "false"}
        # The schema once, before the workers start (two workers migrating at once would race).
        # (`sentinel db upgrade` sets auto_migrate itself and refuses SENTINEL_AUTO_MIGRATE in the environment.)
        upgrade_env = {k: v for k, v in env.items() if k != "SENTINEL_AUTO_MIGRATE"}
        subprocess.run([PYTHON, "-m", "app.cli", "db", "upgrade"], cwd=ROOT, env=upgrade_env,  # noqa: S603
                       check=True, capture_output=True)
        app_log = workdir / "app.log"
        # `sentinel serve`, as in production: its keep-alive, hooks and metrics folder (it execs gunicorn, so the
        # pid is gunicorn's master)
        argv = [PYTHON, "-m", "app.cli", "serve", "--bind", f"127.0.0.1:{app_port}", "--workers", str(workers),
                "--threads", str(threads), "--timeout", "60"]
        with app_log.open("w") as log:
            servers.procs["app"] = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log,  # noqa: S603
                                                    stderr=subprocess.STDOUT)
        wait_for(f"{ehr_url}/fhir/metadata", servers.procs["ehr"], ehr_log)
        wait_for(f"{app_url}/healthz", servers.procs["app"], app_log)
    except BaseException:
        servers.stop()
        raise
    return servers


def rss_kib(pid: int) -> int:
    """Resident set size of one process, from /proc (KiB)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0
