"""`sentinel serve --workers 2` with no SENTINEL_SECRET_KEY, on a new database: both workers start (one
migration, before forking) and share one key, so every launch completes whichever worker takes each request.
Before, each worker drew its own key and about two launches in three broke."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
import time
from urllib.parse import urlsplit

import pytest
import requests

from app.config import ROOT
from app.smart import load_registration
from sandbox import register_client
from sandbox.stack import free_port
from tests.support.launch import SEPTIC, ehr_launch_url


@pytest.fixture
def served(ehr, tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    key_file = tmp_path / "instance" / "secret_key"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENTINEL_")}
    env.update({"SENTINEL_DATABASE_URL": f"sqlite:///{tmp_path / 'new.db'}", "SENTINEL_PUBLIC_URL": url,
                "SENTINEL_ISS_ALLOWLIST": f"{ehr.base_url}/fhir", "SENTINEL_SECRET_KEY_FILE": str(key_file),
                "SENTINEL_LOG_LEVEL": "WARNING"})
    log = open(tmp_path / "serve.log", "w")  # noqa: SIM115 - closed at teardown
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--bind", f"127.0.0.1:{port}",  # noqa: S603
                             "--workers", "2", "--threads", "2"], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    reg = load_registration(os.path.join(ROOT, "smart_launch.json"))
    register_client(ehr, reg.client_id, [reg.redirect_uri(url)], reg.launch_uri(url),
                    scope=f"{reg.ehr_launch_scope} {reg.standalone_launch_scope}")
    deadline = time.monotonic() + 60
    while True:
        try:
            if requests.get(f"{url}/healthz", timeout=5).status_code == 200:
                break
        except requests.RequestException:  # not listening yet
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.terminate()
            pytest.fail(f"sentinel serve did not start: {(tmp_path / 'serve.log').read_text()[-2000:]}")
        time.sleep(0.2)  # waiting for gunicorn to bind, bounded by the deadline
    yield url, key_file, tmp_path / "serve.log"
    proc.terminate()
    proc.wait(timeout=20)
    log.close()


def test_two_workers_without_a_key_share_one_and_every_launch_completes(served, ehr):
    url, key_file, log = served
    for _ in range(6):  # each in a fresh browser; gunicorn spreads the requests over both workers
        browser = requests.Session()
        launch = urlsplit(ehr_launch_url(ehr, "nurse", SEPTIC))
        to_ehr = browser.get(f"{url}{launch.path}?{launch.query}", allow_redirects=False, timeout=20)
        assert to_ehr.status_code == 302
        back = urlsplit(browser.get(to_ehr.headers["Location"], allow_redirects=False, timeout=20).headers["Location"])
        callback = browser.get(f"{url}{back.path}?{back.query}", allow_redirects=False, timeout=30)
        assert callback.status_code == 303, callback.text[:300]
        page = browser.get(f"{url}{callback.headers['Location']}", timeout=60)
        assert page.status_code == 200 and "Margaret Holloway" in page.text
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert re.search(r"created the shared secret key file .*secret_key \(mode 0600\)", log.read_text())
