"""`sentinel serve`: run the app under gunicorn (the production WSGI server), configured from SENTINEL_*.

Before gunicorn forks its workers this prepares what they share: an emptied folder for their metric files
(PROMETHEUS_MULTIPROC_DIR, so /metrics adds up every worker) and the keep-alive from the settings.
"""

import argparse
import os
import re
import sys
import tempfile
from pathlib import Path

from app.config import load_settings
from app.ops import metrics


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bind", default="127.0.0.1:8000", help="address:port (put HTTPS in front, see README)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8,
                        help="threads per worker (gunicorn's gthread worker when > 1): a page waiting on a slow EHR "
                             "holds one thread, so decisions and other database-only requests do not queue behind it")
    parser.add_argument("--timeout", type=int, default=60)


def metrics_dir(setting: str, bind: str) -> Path:
    """The setting, else one folder per bind address under the temp dir (two servers on one host never share)."""
    if setting:
        return Path(setting)
    return Path(tempfile.gettempdir()) / f"sentinel-metrics-{re.sub(r'[^A-Za-z0-9]+', '-', bind).strip('-')}"


def gunicorn_argv(args: argparse.Namespace, keepalive_seconds: int) -> list[str]:
    # No gunicorn access log: the app writes its own access line, with the request id, route and duration.
    return [sys.executable, "-m", "gunicorn", "--config", "python:app.ops.gunicorn_conf", "--bind", args.bind,
            "--workers", str(args.workers), "--threads", str(args.threads), "--timeout", str(args.timeout),
            "--keep-alive", str(keepalive_seconds), "app.wsgi:app"]


def run(args: argparse.Namespace) -> int:
    settings = load_settings()  # refuses bad settings here, before gunicorn starts
    folder = metrics.prepare_multiprocess_dir(metrics_dir(settings.metrics_dir, args.bind))
    os.environ[metrics.MULTIPROC_ENV] = str(folder)
    argv = gunicorn_argv(args, settings.keepalive_seconds)
    os.execv(sys.executable, argv)  # noqa: S606 - replaces this process with gunicorn; argv is fixed above
    return 0
