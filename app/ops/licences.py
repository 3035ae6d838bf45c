"""`sentinel licences`: the name, version and licence of every Python distribution installed beside the app.

Read from each distribution's own metadata (importlib.metadata), so it lists what is really installed, the
image's contents included: the licence expression (PEP 639) when the package declares one, else its License
field, else its "License ::" classifiers, else "UNKNOWN" (look that one up by hand).
"""

from __future__ import annotations

import argparse
import json
from importlib import metadata


def licence_of(dist: metadata.Distribution) -> str:
    meta = dist.metadata
    expression = (meta.get("License-Expression") or "").strip()
    if expression:
        return expression
    declared = (meta.get("License") or "").strip()
    # Some packages put the whole licence text in the field: its first line names it, if anything does.
    if declared and declared.upper() != "UNKNOWN" and "\n" not in declared and len(declared) <= 80:
        return declared
    classifiers = [c.split("::")[-1].strip() for c in meta.get_all("Classifier") or [] if c.startswith("License ::")]
    if classifiers:
        return "; ".join(classifiers)
    if declared and declared.upper() != "UNKNOWN":
        return declared.splitlines()[0].strip()[:80]
    return "UNKNOWN"


def installed() -> list[dict[str, str]]:
    rows = {}
    for dist in metadata.distributions():
        name = dist.metadata.get("Name")
        if name:
            rows[name.lower()] = {"name": name, "version": dist.version, "licence": licence_of(dist)}
    return [rows[key] for key in sorted(rows)]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="a JSON list instead of a table")


def run(args: argparse.Namespace) -> int:
    rows = installed()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    width = max(len(r["name"]) for r in rows)
    vwidth = max(len(r["version"]) for r in rows)
    for r in rows:
        print(f"{r['name']:<{width}}  {r['version']:<{vwidth}}  {r['licence']}")
    unknown = sum(r["licence"] == "UNKNOWN" for r in rows)
    print(f"\n{len(rows)} distributions; {unknown} without a declared licence")
    return 0
