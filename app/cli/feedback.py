"""`sentinel feedback`: export feedback, answer it, and resend e-mail notices, for sites that prefer a terminal.

    sentinel feedback export [--status new|answered|closed] [--format csv|json] [--out FILE]
    sentinel feedback answer ID --text "..." [--close] [--as NAME]
    sentinel feedback resend [--all]

Uses the same settings (SENTINEL_DATABASE_URL, SMTP, ...) as the app. Every action is audited.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Callable
from pathlib import Path

from app import feedback
from app.adoption import csv_text
from app.audit import record
from app.feedback import mail

CSV_COLUMNS = ("id", "created_at", "kind", "status", "role", "user_ref", "page", "patient_id", "alert_id",
               "model_version", "text", "replies", "last_reply", "mail_status", "mail_attempts")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    export = sub.add_parser("export", help="write feedback (with replies) as CSV or JSON")
    export.add_argument("--status", choices=feedback.STATUSES, help="only items with this status")
    export.add_argument("--format", choices=("csv", "json"), default="csv")
    export.add_argument("--out", type=Path, help="file to write (default: standard output)")
    answer = sub.add_parser("answer", help="reply to one item; the asker sees it the next time they open the app")
    answer.add_argument("id", type=int, help="the feedback number (#) from the inbox or an export")
    answer.add_argument("--text", required=True, help="the reply")
    answer.add_argument("--close", action="store_true", help="also mark the item closed")
    answer.add_argument("--as", dest="who", help="who answers, for the audit log (default: cli:<login name>)")
    resend = sub.add_parser("resend", help="send e-mail notices that are pending or failed")
    resend.add_argument("--all", action="store_true", help="include items that used up their automatic attempts")


def _services():
    from app import create_app

    app = create_app()
    return app, app.extensions["sentinel"]


def to_csv(items: list[dict]) -> str:
    rows = [{**item, "replies": len(item["replies"]),
             "last_reply": item["replies"][-1]["text"] if item["replies"] else ""} for item in items]
    return csv_text(CSV_COLUMNS, rows)


def export(args, svc) -> int:
    items = feedback.export(svc.engine, status=args.status)
    text = to_csv(items) if args.format == "csv" else json.dumps(items, indent=2, ensure_ascii=False) + "\n"
    if args.out:
        args.out.write_text(text, encoding="utf-8")
        print(f"wrote {len(items)} item(s) to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    record(svc.engine, at=svc.clock(), user_ref=f"cli:{getpass.getuser()}", role="deployment", patient_id=None,
           action="feedback_export", detail={"count": len(items), "status": args.status, "format": args.format})
    return 0


def answer(args, svc) -> int:
    who = args.who or f"cli:{getpass.getuser()}"
    try:
        feedback.reply(svc.engine, args.id, text=args.text, user_ref=who, role="deployment", now=svc.clock())
        if args.close:
            feedback.set_status(svc.engine, args.id, "closed", user_ref=who, role="deployment", now=svc.clock())
    except feedback.NotFound:
        print(f"No feedback #{args.id}.", file=sys.stderr)
        return 1
    except feedback.Invalid as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except feedback.SaveFailed as exc:
        print(f"Not saved: the database did not take the answer ({exc}). Nothing was changed; try again.",
              file=sys.stderr)
        return 3
    status = feedback.get(svc.engine, args.id).status
    print(f"Answered #{args.id} (now {status}); the asker sees it the next time they open Sepsis Sentinel.")
    return 0


def inbox_links(app) -> Callable[[int], str]:
    """Absolute inbox links outside a request, from SENTINEL_PUBLIC_URL (the app's `feedback.item` route)."""
    base = app.extensions["sentinel"].settings.public_url.rstrip("/")
    adapter = app.url_map.bind("localhost")
    return lambda feedback_id: base + adapter.build("feedback.item", {"feedback_id": feedback_id})


def resend(args, app, svc) -> int:
    settings = mail.MailSettings.from_settings(svc.settings)
    if not settings.enabled:
        print("No mail is configured: set SENTINEL_SMTP_HOST and SENTINEL_DEPLOYMENT_TEAM_EMAIL.", file=sys.stderr)
        return 2
    if not svc.settings.public_url:
        print("SENTINEL_PUBLIC_URL is not set: the links in the e-mails will be relative.", file=sys.stderr)
    outcome = mail.deliver_backlog(svc.engine, settings, inbox_links(app), svc.clock(), limit=10_000,
                                   max_attempts=None if args.all else mail.MAX_ATTEMPTS)
    waiting = len(mail.undelivered(svc.engine, max_attempts=None))
    print(f"sent {outcome['sent']}, failed {outcome['failed']}; {waiting} notice(s) still waiting")
    return 0 if outcome["failed"] == 0 else 1


def run(args: argparse.Namespace) -> int:
    app, svc = _services()
    try:
        if args.action == "export":
            return export(args, svc)
        if args.action == "answer":
            return answer(args, svc)
        return resend(args, app, svc)
    finally:
        svc.engine.dispose()
        svc.http.close()
