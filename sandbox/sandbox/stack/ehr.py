"""The sandbox EHR on a loopback port: in this process (`EhrServer`, its fault switches and registrations at hand,
and a port that can be closed and opened again), or in a process of its own (`EhrProcess`, `python -m sandbox`:
its CPU and memory apart from the caller's, as the load benchmarks measure them)."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import requests
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from app.config import ROOT

from .waiting import wait_for


class PathOnlyRequestHandler(WSGIRequestHandler):
    """Access log lines without query strings: they carry authorization codes, launch ids and state."""

    def log_request(self, code="-", size="-") -> None:
        self.log("info", '"%s %s" %s %s', self.command, self.path.split("?", 1)[0], code, size)


def serve(host: str, port: int, app) -> BaseWSGIServer:
    """A threaded WSGI server bound now (port 0: any free port), not yet serving."""
    return make_server(host, port, app, threaded=True, request_handler=PathOnlyRequestHandler)


class EhrServer:
    """The sandbox EHR (`create_sandbox(settings)`) served from a daemon thread of this process; `down()` refuses
    connections on its port until `up()` serves there again, so an app's `iss` stays valid across the outage."""

    def __init__(self, settings: dict | None = None, host: str = "127.0.0.1", port: int = 0):
        from sandbox import create_sandbox

        self.app = create_sandbox(settings)
        self.host, self.port = host, port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.up()
        self.base_url = f"http://{host}:{self.port}"
        self.app.config["SANDBOX_BASE_URL"] = self.base_url
        self.fhir_base = f"{self.base_url}/fhir"

    def up(self) -> None:
        self._server = serve(self.host, self.port, self.app)
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


class EhrProcess:
    """`python -m sandbox` on a free port, with the given command-line options (registrations among them); ready
    when its FHIR metadata answers. `close()` stops it by its own pid."""

    def __init__(self, port: int, options: list[str], log_path: Path, timeout: float = 90):
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        self.fhir_base = f"{self.base_url}/fhir"
        self.log_path = log_path
        with log_path.open("w") as log:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen([sys.executable, "-m", "sandbox", "--port", str(port), *options],  # noqa: S603
                                         cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_for(self._ready, timeout, f"the sandbox EHR to answer (log: {log_path})", every=0.2)
        except BaseException:
            self.close()
            raise

    def _ready(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"the sandbox EHR exited ({self.proc.returncode}); see {self.log_path}:\n"
                               f"{self.log_path.read_text()[-2000:]}")
        try:
            return requests.get(f"{self.fhir_base}/metadata", timeout=2).status_code < 500
        except requests.RequestException:  # not listening yet
            return False

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
