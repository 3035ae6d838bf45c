"""`sentinel serve`: run the app under gunicorn (the production WSGI server), configured from SENTINEL_*.

Before gunicorn forks its workers, this process settles what they must share: the secret key (every worker
must encrypt and decrypt tokens with the same one), the database schema (migrated once, here, not by several
workers racing on a new database), an emptied folder for their metric files (PROMETHEUS_MULTIPROC_DIR, so
/metrics adds up every worker) and the keep-alive from the settings.
"""

import argparse
import os
import re
import sys
import tempfile
from pathlib import Path

from app.config import ROOT, ConfigError, Settings, create_secret_key_file, load_settings
from app.ops import metrics

DEFAULT_KEY_FILE = ROOT / "instance" / "secret_key"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bind", default="127.0.0.1:8000", help="address:port (put HTTPS in front, see README)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8,
                        help="threads per worker (gunicorn's gthread worker when > 1): a page waiting on a slow EHR "
                             "holds one thread, so decisions and other database-only requests do not queue behind it")
    parser.add_argument("--timeout", type=int, default=60)


def shared_secret_key(workers: int, environ: dict) -> str | None:
    """With several workers and no key configured, a key file they all read: SENTINEL_SECRET_KEY_FILE if set,
    else instance/secret_key, made on first start (0600). Returns the file's path (and says where), or None
    when SENTINEL_SECRET_KEY is set or one worker runs. Production refuses instead of making a key: there,
    every instance must be given the same key on purpose."""
    named = environ.get("SENTINEL_SECRET_KEY_FILE")
    if environ.get("SENTINEL_SECRET_KEY") or (workers <= 1 and not named):
        return None
    path = named or str(DEFAULT_KEY_FILE)
    if os.path.exists(path):
        environ["SENTINEL_SECRET_KEY_FILE"] = path
        return path
    if environ.get("SENTINEL_ENV") == "production":
        raise ConfigError("SENTINEL_SECRET_KEY (or an existing SENTINEL_SECRET_KEY_FILE) must be set in production: "
                          f"with {workers} workers each would otherwise draw its own key")
    made = create_secret_key_file(path)
    environ["SENTINEL_SECRET_KEY_FILE"] = path
    print(f"sentinel serve: {'created' if made else 'using'} the shared secret key file {path} (mode 0600) for "
          f"{workers} workers; set SENTINEL_SECRET_KEY for several instances", file=sys.stderr)
    return path


def migrate_before_forking(settings: Settings) -> None:
    """Apply migrations once, in this process, so that workers starting together find the schema current."""
    from app import db

    if not settings.auto_migrate:
        return
    engine = db.make_engine(settings.database_url)
    try:
        db.upgrade(engine, settings.iss_allowlist)
    finally:
        engine.dispose()


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
    try:
        shared_secret_key(args.workers, os.environ)
        settings = load_settings()  # refuses bad settings here, before gunicorn starts
        migrate_before_forking(settings)
    except ConfigError as exc:
        print(f"sentinel serve: {exc}", file=sys.stderr)
        return 2
    folder = metrics.prepare_multiprocess_dir(metrics_dir(settings.metrics_dir, args.bind))
    os.environ[metrics.MULTIPROC_ENV] = str(folder)
    argv = gunicorn_argv(args, settings.keepalive_seconds)
    os.execv(sys.executable, argv)  # noqa: S606 - replaces this process with gunicorn; argv is fixed above
    return 0
