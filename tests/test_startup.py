"""Starting several workers at once: one secret key for all of them, one migration of a new database."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from app import config
from app.cli import serve
from app.config import ConfigError, load_settings

ROOT = Path(__file__).resolve().parents[1]
MIGRATE = "import sys; from app import db; db.upgrade(db.make_engine(sys.argv[1]))"


def test_two_workers_migrating_a_new_database_at_once_both_start(database_url):
    """Each round starts two processes on an empty database at the same moment; none may crash."""
    for _round in range(2):
        if database_url.startswith("postgresql"):
            from tests.support.databases import reset_postgres as _reset_postgres

            _reset_postgres(database_url)
        else:
            Path(database_url.split("///", 1)[1]).unlink(missing_ok=True)
        procs = [subprocess.Popen([sys.executable, "-c", MIGRATE, database_url], cwd=ROOT,  # noqa: S603
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for _ in range(2)]
        outputs = [p.communicate(timeout=120)[0].decode() for p in procs]
        assert [p.returncode for p in procs] == [0, 0], "\n".join(o[-1500:] for o in outputs)


def test_serve_with_two_workers_and_no_key_makes_one_private_key_file_every_worker_reads(tmp_path, monkeypatch):
    key_file = tmp_path / "instance" / "secret_key"
    monkeypatch.setattr(serve, "DEFAULT_KEY_FILE", key_file)
    environ = {"SENTINEL_DATABASE_URL": f"sqlite:///{tmp_path / 's.db'}"}
    assert serve.shared_secret_key(2, environ) == str(key_file)
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert environ["SENTINEL_SECRET_KEY_FILE"] == str(key_file)
    # Two workers, two processes: the same key (before, each drew its own and two launches in three broke).
    first, second = (load_settings(environ=dict(environ)).secret_key for _ in range(2))
    assert first == second == key_file.read_text().strip()
    again = {"SENTINEL_DATABASE_URL": environ["SENTINEL_DATABASE_URL"]}
    serve.shared_secret_key(2, again)  # a restart keeps the key: sessions survive
    assert load_settings(environ=again).secret_key == first


def test_serve_refuses_several_workers_without_a_key_in_production(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(serve, "DEFAULT_KEY_FILE", tmp_path / "secret_key")
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        serve.shared_secret_key(2, {"SENTINEL_ENV": "production"})
    assert not (tmp_path / "secret_key").exists()
    assert serve.shared_secret_key(1, {}) is None  # one worker: its own key is fine for the demo


def test_serve_migrates_once_before_forking(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    monkeypatch.setattr(serve, "DEFAULT_KEY_FILE", tmp_path / "secret_key")
    monkeypatch.setattr(serve.os, "execv", lambda *a: None)
    environ = {"SENTINEL_DATABASE_URL": url}
    monkeypatch.setattr(serve.os, "environ", environ)
    args = type("Args", (), {"bind": "127.0.0.1:0", "workers": 2, "threads": 1, "timeout": 5})()
    assert serve.run(args) == 0
    from app import db

    engine = db.make_engine(url)
    assert db.is_current(engine)
    engine.dispose()


def test_a_key_file_others_can_read_is_refused(tmp_path):
    path = tmp_path / "k"
    path.write_text("k" * 40)
    path.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        load_settings(environ={"SENTINEL_SECRET_KEY_FILE": str(path)})
    assert config.create_secret_key_file(str(path)) is False  # never overwritten
