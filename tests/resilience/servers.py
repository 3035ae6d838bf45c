"""Real servers for the resilience tests and `bench/faults.py`, each of which a test can break on purpose.

- `Postgres`: scripts/pg_test.sh's throwaway server (private unix socket), which can be stopped, started and
  restarted mid-run (`pg_ctl -m fast`).
- `Ehr`: the sandbox EHR in this process on a fixed loopback port, with its fault switches; `down()` closes the
  port (connection refused) and `up()` serves again on the same address, so the app's `iss` stays valid.
- `App`: Sepsis Sentinel under gunicorn, started exactly as `sentinel serve` starts it; its worker pids.
- `Browser`: one clinician after a real EHR launch, sending what the page's htmx forms send.

Loopback only. Every wait polls a condition against a deadline.
"""

from __future__ import annotations

import copy
import html
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import requests
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[2]
PG_TEST = ROOT / "scripts" / "pg_test.sh"
SEPTIC = "demo-102421"  # raises an alert with the shipped model (sandbox/demo_patients/README.md)
OTHER_SEPTIC = "demo-108952"  # so does this one
FHIR_TIME_BUDGET = 5.0  # SENTINEL_FHIR_TIME_BUDGET of the tests' shared app (the default is 20 s)


def wait_for(condition: Callable[[], object], timeout: float, what: str, every: float = 0.05):
    """Poll `condition` until it returns something truthy; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(every)  # polling interval, bounded by the deadline above


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- PostgreSQL ------------------------------------------------------------------------------------------------

def pg_bin() -> Path | None:
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name)
                      if p.parent.name.isdigit() else 0)
    return versions[-1] if versions else None


def postgres_available() -> str | None:
    """None when a throwaway PostgreSQL can be started here, else why not."""
    if pg_bin() is None:
        return "PostgreSQL is not installed (scripts/test.sh installs it)"
    if os.getuid() == 0 and shutil.which("runuser") is None:
        return "running as root without runuser"
    return None


class Postgres:
    """A throwaway PostgreSQL (scripts/pg_test.sh) this process may stop and restart; `close()` removes it."""

    def __init__(self):
        out = subprocess.run([str(PG_TEST), "start"], capture_output=True, text=True, check=True,  # noqa: S603
                             timeout=120).stdout
        values = dict(line.split(" ", 1)[1].split("=", 1) for line in out.strip().splitlines())
        self.dir = values["PGTEST_DIR"]
        self.url = values["TEST_DATABASE_URL"].strip("'")
        self._made = 0

    def _ctl(self, *args: str) -> None:
        as_pg = ["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else []
        # -l: the server's output goes to its log, so no pipe of ours stays open behind it
        subprocess.run([*as_pg, str(pg_bin() / "pg_ctl"), "-D", f"{self.dir}/data", "-l", f"{self.dir}/server.log",  # noqa: S603
                        "-w", "-t", "60", *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=90)

    def stop_server(self, mode: str = "fast") -> None:
        self._ctl("-m", mode, "stop")

    def start_server(self) -> None:
        # pg_ctl start does not reuse the options of the last start (pg_ctl restart does): pass them again
        argv = shlex.split(Path(self.dir, "data", "postmaster.opts").read_text())[1:]  # after the postgres binary
        options = [a for i, a in enumerate(argv) if a != "-D" and (i == 0 or argv[i - 1] != "-D")]
        self._ctl("-o", shlex.join(options), "start")

    def running(self) -> bool:
        as_pg = ["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else []
        return subprocess.run([*as_pg, str(pg_bin() / "pg_ctl"), "-D", f"{self.dir}/data", "status"],  # noqa: S603
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30).returncode == 0

    def restart(self, mode: str = "fast") -> None:
        self._ctl("-m", mode, "restart")

    def database(self, prefix: str = "resilience") -> str:
        """A new, empty database on this server; its SQLAlchemy URL."""
        self._made += 1
        name = f"{prefix}_{os.getpid()}_{self._made}"
        engine = sa.create_engine(self.url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
        return self.url.replace("/app_test?", f"/{name}?")

    def close(self) -> None:
        subprocess.run([str(PG_TEST), "stop"], env={**os.environ, "PGTEST_DIR": self.dir}, check=False,  # noqa: S603
                       timeout=120)


# -- the sandbox EHR -------------------------------------------------------------------------------------------

class Ehr:
    """The sandbox EHR on one loopback port; `down()` refuses connections there until `up()`."""

    def __init__(self, settings: dict | None = None):
        from sandbox import create_sandbox

        self.app = create_sandbox({"LOAD_SAMPLE_PATIENTS": False, **(settings or {})})
        self.port = 0
        self._server = None
        self._thread: threading.Thread | None = None
        self.up()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.app.config["SANDBOX_BASE_URL"] = self.base_url
        self.fhir_base = f"{self.base_url}/fhir"

    def up(self) -> None:
        from werkzeug.serving import make_server

        from app.demo import PathOnlyRequestHandler

        self._server = make_server("127.0.0.1", self.port, self.app, threaded=True,
                                   request_handler=PathOnlyRequestHandler)
        self.port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def down(self) -> None:
        """Stop serving and close the listening socket: the app now gets "connection refused"."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=10)
            self._server = None

    @property
    def is_up(self) -> bool:
        return self._server is not None

    def close(self) -> None:
        self.down()


# -- the app under gunicorn ------------------------------------------------------------------------------------

def _children(pid: int) -> list[int]:
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


class App:
    """Sepsis Sentinel under gunicorn, started by `sentinel serve` (the production command) on a free port."""

    def __init__(self, ehr: Ehr, database_url: str, log_path: Path, *, workers: int = 2, threads: int | None = None,
                 env: dict | None = None, wait: bool = True):
        """Start it; with wait=False, call `wait_ready()` later (two apps boot faster side by side)."""
        from app import db

        engine = db.make_engine(database_url)
        db.upgrade(engine)  # the deployment step, before instances start
        engine.dispose()
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.database_url = database_url
        self.workers_wanted = workers
        self.log_path = log_path
        environ = {**os.environ, "SENTINEL_DATABASE_URL": database_url, "SENTINEL_SECRET_KEY": "r" * 40,
                   "SENTINEL_PUBLIC_URL": self.url, "SENTINEL_ISS_ALLOWLIST": ehr.fhir_base,
                   "SENTINEL_FRAME_ANCESTORS": f"'self',{ehr.base_url}", "SENTINEL_AUTO_MIGRATE": "false",
                   "SENTINEL_LOG_LEVEL": "WARNING", **(env or {})}
        argv = [sys.executable, "-m", "app.cli", "serve", "--bind", f"127.0.0.1:{port}", "--workers", str(workers)]
        if threads is not None:
            argv += ["--threads", str(threads)]
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

    def register_with(self, ehr: Ehr) -> None:
        """Make this app the one the EHR launches (its launch and redirect URIs under our client id)."""
        from app.smart import load_registration
        from sandbox import register_client

        reg = load_registration(ROOT / "smart_launch.json")
        register_client(ehr.app, reg.client_id, [reg.redirect_uri(self.url)], reg.launch_uri(self.url),
                        scope=f"{reg.ehr_launch_scope} {reg.standalone_launch_scope}")

    def _ready(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {self.proc.returncode}; see {self.log_path}")
        try:
            return requests.get(f"{self.url}/healthz", timeout=5).status_code == 200 and \
                len(self.workers()) == self.workers_wanted
        except requests.RequestException:  # not listening yet
            return False

    def workers(self) -> list[int]:
        return _children(self.proc.pid)

    def log_text(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # gunicorn's quick shutdown: the test is over
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()


# -- a clinician's browser -------------------------------------------------------------------------------------

def sid() -> str:
    return uuid.uuid4().hex


def risk_text(page: str) -> str | None:
    """The risk number as the page shows it ("Estimated risk 85%"), or None when it shows none."""
    m = re.search(r'id="risk-number">\s*(Estimated risk [0-9]+%)', page)
    return m.group(1) if m else None


def error_of(page: str) -> tuple[str, str] | None:
    """(title, message) of the app's error card, or None."""
    m = re.search(r'id="error-message" role="alert"[^>]*>\s*<h1>(.*?)</h1>\s*<p>(.*?)</p>', page, re.S)
    return (html.unescape(m.group(1)).strip(), html.unescape(m.group(2)).strip()) if m else None


def alert_id_of(page: str) -> int | None:
    m = re.search(r'data-alert-id="(\d+)"', page)
    return int(m.group(1)) if m else None


def alert_panel_state(page: str) -> tuple[int | None, str | None]:
    """(alert id, state) as the provider panel shows them; the id only while the alert is active."""
    state = re.search(r'id="alert-state" data-state="(\w+)"', page)
    return alert_id_of(page), "active" if 'id="active-alert"' in page else (state.group(1) if state else None)


class Browser:
    """One clinician's browser after a real EHR launch (chart -> /launch -> EHR authorize -> /callback -> page)."""

    def __init__(self, app: App, ehr: Ehr, user: str, patient: str = SEPTIC, timeout: float = 60):
        self.app, self.patient, self.timeout = app, patient, timeout
        app.register_with(ehr)
        chart = requests.get(f"{ehr.base_url}/ehr/chart", params={"user": user, "patient": patient}, timeout=30)
        chart.raise_for_status()
        src = re.search(r'<iframe[^>]*id="app"[^>]*src="([^"]+)"', chart.text).group(1)
        self.http = requests.Session()
        self._tabs: list[requests.Session] = [self.http]
        landing = self.http.get(html.unescape(src), timeout=timeout)
        if landing.status_code != 200 or "headline" not in landing.text:
            raise RuntimeError(f"the launch did not reach the patient page: HTTP {landing.status_code}")
        self.first_page = landing.text
        self.csrf = re.search(r'name="csrf_token" value="([^"]+)"', landing.text).group(1)
        self.page_url = f"{app.url}/patients/{patient}"

    def tab(self) -> Browser:
        """Another tab of this browser (same cookies, so the same session) with its own connection, for another
        thread: a requests.Session is not meant to be shared between threads."""
        other = copy.copy(self)
        other.http = requests.Session()
        other.http.cookies.update(self.http.cookies)
        self._tabs.append(other.http)
        return other

    def close(self) -> None:
        """Close this browser's connections, and its tabs'."""
        for http in self._tabs:
            http.close()

    def _htmx(self) -> dict:
        return {"HX-Request": "true", "X-CSRF-Token": self.csrf}

    def page(self) -> requests.Response:
        return self.http.get(self.page_url, timeout=self.timeout)

    def alert_fragment(self) -> requests.Response:
        return self.http.get(f"{self.page_url}/alert", headers={"HX-Request": "true"}, timeout=self.timeout)

    def screening(self, submission_id: str, source: str = "lung") -> requests.Response:
        return self.http.post(f"{self.page_url}/screening", headers=self._htmx(), timeout=self.timeout,
                              data={"submission_id": submission_id, "infection_source": source,
                                    "new_confusion": "no"})

    def decide(self, alert_id: int, kind: str, submission_id: str, **form) -> requests.Response:
        return self.http.post(f"{self.page_url}/alerts/{alert_id}/{kind}", headers=self._htmx(), timeout=self.timeout,
                              data={"submission_id": submission_id, **form})

    def feedback(self, text: str, submission_id: str | None = None) -> requests.Response:
        """The feedback form sent; sent again with the same `submission_id` it is stored once."""
        return self.http.post(f"{self.app.url}/feedback", headers=self._htmx(), timeout=self.timeout,
                              data={"kind": "question", "text": text, "page": f"/patients/{self.patient}",
                                    "submission_id": submission_id or ""})
