"""`sentinel-sandbox demo`: the sandbox EHR and the app side by side on loopback, SQLite, nothing else to set up.

The demo is the app plus its test double, so it lives in the sandbox distribution: the app never imports the
sandbox. It starts the same stack the end-to-end tests and the benchmarks start (sandbox.stack).
"""

from __future__ import annotations

import argparse
import threading
from pathlib import Path

from app.config import ROOT

from .stack import BACKEND_CLIENT_ID, start_stack


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default loopback only)")
    parser.add_argument("--ehr-port", type=int, default=8700, help="sandbox EHR port (0 = any free port)")
    parser.add_argument("--app-port", type=int, default=8701, help="Sepsis Sentinel port (0 = any free port)")
    parser.add_argument("--db", default=str(ROOT / "instance" / "demo.db"), help="SQLite file for the demo")
    parser.add_argument("--demo-speed", type=float, default=2.0,
                        help="hours of the demo patients' records replayed per real minute (default 2; 0 = no "
                             "replay: every record ends now)")
    parser.add_argument("--replay-hours", type=int, default=30,
                        help="how many of each record's last hours arrive after the start (default 30)")


def run(args: argparse.Namespace) -> int:
    Path(args.db).parent.mkdir(parents=True, exist_ok=True)
    try:
        stack = start_stack(args.host, args.ehr_port, args.app_port, {"database_url": f"sqlite:///{args.db}"},
                            demo_speed=args.demo_speed or None, replay_hours=args.replay_hours, screen=True)
    except OSError as exc:
        print(f"Could not start the demo: {exc}. Another program may be using port {args.ehr_port} or "
              f"{args.app_port}; try `sentinel-sandbox demo --ehr-port 0 --app-port 0`.")
        return 1
    print("\nSepsis Sentinel demo is running.\n")
    print(f"  Open the sandbox EHR:  {stack.ehr_url}/")
    print("  Pick a user (nurse, provider or deployment team) and a patient, then press 'Open Sepsis Sentinel'.\n")
    print(f"  (App: {stack.app_url}   FHIR base / iss: {stack.fhir_base}   Database: {args.db})")
    print(f"  Background screening signs in as {BACKEND_CLIENT_ID} with the key in {stack.backend_key_file}")
    print(f"  (public half: {stack.app_url}/.well-known/jwks.json).")
    if stack.clock is not None:
        print(f"  The records replay at {args.demo_speed:g} h per minute; background screening runs every "
              f"{stack.app.extensions['sentinel'].settings.screen_interval_minutes} demo minutes. Within minutes "
              "a septic patient gets an alert nobody asked for.")
        print(f"  Screening cycles: {stack.app_url}/operations/screening (as the deployment team)")
    print("  Press Ctrl-C to stop.\n", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        print("\nStopping.")
    finally:
        stack.shutdown()
    return 0
