"""`sentinel db upgrade`: apply schema migrations to SENTINEL_DATABASE_URL (a deployment step)."""

import argparse

from app import db
from app.config import load_settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["upgrade", "check"], help="upgrade to newest, or check it is current")


def run(args: argparse.Namespace) -> int:
    settings = load_settings({"auto_migrate": False})
    engine = db.make_engine(settings.database_url)
    if args.action == "upgrade":
        db.upgrade(engine, settings.iss_allowlist)
        print("Database schema is up to date.")
        return 0
    current = db.is_current(engine)
    print("Database schema is up to date." if current else "Database schema is behind: run `sentinel db upgrade`.")
    return 0 if current else 1
