"""The `sentinel` command: one entry point, one module per subcommand, imported only when used."""

from __future__ import annotations

import argparse
import importlib
import sys

# name -> (module, help). Each module defines `add_arguments(parser)` and `run(args) -> int`.
COMMANDS: dict[str, tuple[str, str]] = {
    "serve": ("app.cli.serve", "run the app alone (production: point it at your EHR and PostgreSQL)"),
    "db": ("app.cli.db", "database schema: upgrade to the latest migration"),
    "train": ("app.cli.train", "train the risk model on PhysioNet 2019 set A"),
    "evaluate": ("app.model.evaluate", "score a PhysioNet-format folder or .tar.gz and print metrics"),
    "inspect": ("app.cli.patient_report", "show what the app would see for one patient on a FHIR server"),
    "feedback": ("app.cli.feedback", "export feedback and answer it from the command line"),
    "licences": ("app.ops.licences", "print the name, version and licence of every installed Python package"),
    "backend": ("app.cli.backend", "the screening's Backend Services key: keygen, jwks, check against the EHR"),
    "worker": ("app.screening.worker", "screen every patient on the chosen units in the background (procrastinate)"),
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="sentinel", description="Sepsis Sentinel")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    chosen = argv[0] if argv and argv[0] in COMMANDS else None
    for name, (module_name, help_text) in COMMANDS.items():
        sp = sub.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            module = importlib.import_module(module_name)
            module.add_arguments(sp)
            sp.set_defaults(_run=module.run)
    args = parser.parse_args(argv)
    return int(args._run(args) or 0)

