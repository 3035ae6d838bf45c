"""`sentinel serve`: the keep-alive from the settings, the hooks module, and a clean metrics folder per start."""

from __future__ import annotations

import argparse

import pytest

from app.cli import serve
from app.config import ConfigError, load_settings
from app.ops import metrics


def argv_for(**settings) -> list[str]:
    args = argparse.Namespace(bind="127.0.0.1:8000", workers=2, threads=8, timeout=60)
    return serve.gunicorn_argv(args, load_settings(settings).keepalive_seconds)


def test_keep_alive_outlasts_common_balancer_idle_timeouts_and_is_a_setting():
    argv = argv_for()
    assert argv[argv.index("--keep-alive") + 1] == "75"  # above the 60 s idle timeout of nginx and most balancers
    argv = argv_for(keepalive_seconds=130)
    assert argv[argv.index("--keep-alive") + 1] == "130"
    assert load_settings(environ={"SENTINEL_KEEPALIVE_SECONDS": "90"}).keepalive_seconds == 90
    with pytest.raises(ConfigError, match="SENTINEL_KEEPALIVE_SECONDS"):
        load_settings({"keepalive_seconds": 0})


def test_gunicorn_runs_with_the_hooks_module_and_without_its_own_access_log():
    argv = argv_for()
    assert argv[argv.index("--config") + 1] == "python:app.ops.gunicorn_conf"
    assert "--access-logfile" not in argv and argv[-1] == "app.wsgi:app"


def test_the_metrics_folder_is_emptied_of_old_metric_files_only(tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "counter_123.db").write_bytes(b"old")
    (folder / "keep.txt").write_text("not ours")
    assert metrics.prepare_multiprocess_dir(folder) == folder
    assert sorted(p.name for p in folder.iterdir()) == ["keep.txt"]


def test_the_default_metrics_folder_is_one_per_bind_address():
    assert serve.metrics_dir("", "0.0.0.0:8000") != serve.metrics_dir("", "0.0.0.0:8001")
    assert serve.metrics_dir("/var/lib/sentinel/metrics", "x").as_posix() == "/var/lib/sentinel/metrics"
