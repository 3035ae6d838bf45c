"""Two app processes behind one address share nothing but the database: a launch begun on one finishes on the
other, and either serves the page afterwards. This is what a load balancer in front of several instances does."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from urllib.parse import urlsplit

import pytest
import requests

from app import db
from app.config import ROOT
from app.smart import load_registration
from sandbox import register_client
from sandbox.stack import free_port
from tests.support.launch import SEPTIC, ehr_launch_url


@pytest.fixture
def two_instances(database_url, ehr, tmp_path):
    engine = db.make_engine(database_url)
    db.upgrade(engine)  # a deploy step, before instances start
    engine.dispose()
    ports = [free_port(), free_port()]
    public = f"http://127.0.0.1:{ports[0]}"  # both stand behind one public address
    env = {**os.environ, "SENTINEL_DATABASE_URL": database_url, "SENTINEL_SECRET_KEY": "s" * 40,
           "SENTINEL_PUBLIC_URL": public, "SENTINEL_ISS_ALLOWLIST": f"{ehr.base_url}/fhir",
           "SENTINEL_AUTO_MIGRATE": "false", "SENTINEL_LOG_LEVEL": "WARNING"}
    procs, logs = [], []
    for port in ports:
        logs.append(log := open(tmp_path / f"instance-{port}.log", "w"))  # noqa: SIM115 - closed at teardown
        procs.append(subprocess.Popen(  # noqa: S603 - fixed argv
            [sys.executable, "-m", "gunicorn", "-w", "1", "--no-control-socket", "-b", f"127.0.0.1:{port}", "app.wsgi:app"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT))
    reg = load_registration(os.path.join(ROOT, "smart_launch.json"))
    register_client(ehr, reg.client_id, [reg.redirect_uri(public)], reg.launch_uri(public),
                    scope=f"{reg.ehr_launch_scope} {reg.standalone_launch_scope}")
    urls = [f"http://127.0.0.1:{p}" for p in ports]
    deadline = time.monotonic() + 60
    for url in urls:
        while True:
            try:
                if requests.get(f"{url}/healthz", timeout=5).status_code == 200:
                    break
            except requests.RequestException:  # not listening yet, or busy starting
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"instance {url} did not start; see {tmp_path}")
            time.sleep(0.2)  # waiting for a process to bind, bounded by the deadline
    yield urls
    for proc in procs:
        proc.terminate()
    for proc in procs:
        proc.wait(timeout=20)
    for log in logs:
        log.close()


def test_launch_begun_on_one_instance_completes_on_the_other(two_instances, ehr):
    a, b = two_instances
    browser = requests.Session()
    launch = urlsplit(ehr_launch_url(ehr, "nurse", SEPTIC))
    to_ehr = browser.get(f"{a}{launch.path}?{launch.query}", allow_redirects=False, timeout=20)
    assert to_ehr.status_code == 302
    back = urlsplit(browser.get(to_ehr.headers["Location"], allow_redirects=False, timeout=20).headers["Location"])
    assert back.netloc == urlsplit(a).netloc
    on_b = browser.get(f"{b}{back.path}?{back.query}", allow_redirects=False, timeout=20)  # the balancer picked B
    assert on_b.status_code == 303, on_b.text[:500]
    for instance in (a, b):
        page = browser.get(f"{instance}{on_b.headers['Location']}", timeout=30)
        assert page.status_code == 200
        assert "Margaret Holloway" in page.text
