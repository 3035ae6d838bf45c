"""`sentinel serve`: run the app under gunicorn (the production WSGI server), configured from SENTINEL_*."""

import argparse
import os
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bind", default="127.0.0.1:8000", help="address:port (put HTTPS in front, see README)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8,
                        help="threads per worker (gunicorn's gthread worker when > 1): a page waiting on a slow EHR "
                             "holds one thread, so decisions and other database-only requests do not queue behind it")
    parser.add_argument("--timeout", type=int, default=60)


def run(args: argparse.Namespace) -> int:
    argv = [sys.executable, "-m", "gunicorn", "--bind", args.bind, "--workers", str(args.workers),
            "--threads", str(args.threads), "--timeout", str(args.timeout),
            "--access-logformat", '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms', "--access-logfile", "-", "app.wsgi:app"]
    os.execv(sys.executable, argv)  # noqa: S606 - replaces this process with gunicorn; argv is fixed above
    return 0
