"""Sepsis Sentinel under gunicorn, started exactly as production starts it (`sentinel serve`), on a loopback port:
its worker pids, its log, and a stop by its own pid."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

import requests

from app.config import ROOT

from .waiting import free_port, wait_for

# One secret per launching process: every instance it starts signs sessions alike, as instances behind one
# balancer do, and no two runs share one.
SECRET_KEY = secrets.token_urlsafe(32)


def children(pid: int) -> list[int]:
    """Live child processes of `pid`, from /proc (no ps needed)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended while we looked
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return sorted(found)


def rss_kib(pid: int) -> int:
    """Resident set size of one process, from /proc (KiB)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class AppProcess:
    """`sentinel serve` (gunicorn) for the EHR `ehr` (anything with `base_url` and `fhir_base`) on `database_url`,
    migrated first as a deployment does. `env` adds or overrides SENTINEL_* settings; `timeout` is gunicorn's."""

    def __init__(self, ehr, database_url: str, log_path: Path, *, workers: int = 2, threads: int | None = None,
                 port: int = 0, env: dict | None = None, timeout: int | None = None, log_level: str = "WARNING",
                 wait: bool = True):
        """Start it; with wait=False, call `wait_ready()` later (two apps boot faster side by side)."""
        from app import db

        engine = db.make_engine(database_url)
        db.upgrade(engine)  # the deployment step, before instances start (two workers migrating would race)
        engine.dispose()
        port = port or free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.database_url = database_url
        self.workers_wanted = workers
        self.log_path = log_path
        environ = {**os.environ, "SENTINEL_DATABASE_URL": database_url, "SENTINEL_SECRET_KEY": SECRET_KEY,
                   "SENTINEL_PUBLIC_URL": self.url, "SENTINEL_ISS_ALLOWLIST": ehr.fhir_base,
                   "SENTINEL_FRAME_ANCESTORS": f"'self',{ehr.base_url}", "SENTINEL_AUTO_MIGRATE": "false",
                   "SENTINEL_LOG_LEVEL": log_level, **(env or {})}
        # `sentinel serve` execs gunicorn, so this pid is gunicorn's master
        argv = [sys.executable, "-m", "app.cli", "serve", "--bind", f"127.0.0.1:{port}", "--workers", str(workers)]
        if threads is not None:
            argv += ["--threads", str(threads)]
        if timeout is not None:
            argv += ["--timeout", str(timeout)]
        self._log = open(log_path, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(argv, cwd=ROOT, env=environ, stdout=self._log,  # noqa: S603 - fixed argv
                                     stderr=subprocess.STDOUT)
        if wait:
            self.wait_ready()

    def wait_ready(self, timeout: float = 90) -> None:
        try:
            wait_for(self._ready, timeout, f"the app to answer /healthz (log: {self.log_path})", every=0.2)
        except (TimeoutError, RuntimeError):
            self.stop()
            raise

    def register_with(self, ehr) -> None:
        """Make this app the one the in-process EHR `ehr` launches (its launch and redirect URIs)."""
        from . import register_app

        register_app(ehr.app, self.url)

    def _ready(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {self.proc.returncode}; see {self.log_path}")
        try:
            return requests.get(f"{self.url}/healthz", timeout=5).status_code == 200 and \
                len(self.workers()) == self.workers_wanted
        except requests.RequestException:  # not listening yet
            return False

    def workers(self) -> list[int]:
        return children(self.proc.pid)

    def log_text(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # gunicorn's quick shutdown: the run is over
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()
