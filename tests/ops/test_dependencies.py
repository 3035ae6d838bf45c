"""The declared dependencies say what the app uses, and every install goes through the lock file."""

from __future__ import annotations

import ast
import json
import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
SOURCES = [p for folder in ("app", "sandbox", "bench", "tests", "scripts") for p in (ROOT / folder).rglob("*.py")]


def requirement_names(specs: list[str]) -> set[str]:
    return {re.split(r"[\[<>=!~; ]", spec, maxsplit=1)[0].lower().replace("_", "-") for spec in specs}


def imports(path: Path) -> list[tuple[str, bool]]:
    """(top-level module, imported at module level) for every import in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name.split(".")[0], id(node) in top) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module.split(".")[0], id(node) in top))
    return found


def test_pandas_is_neither_imported_nor_declared():
    assert [str(p.relative_to(ROOT)) for p in SOURCES if any(m == "pandas" for m, _ in imports(p))] == []
    every = PYPROJECT["project"]["dependencies"] + sum(PYPROJECT["project"]["optional-dependencies"].values(), [])
    assert "pandas" not in requirement_names(every)


def test_matplotlib_is_for_training_only_and_imported_lazily():
    assert "matplotlib" not in requirement_names(PYPROJECT["project"]["dependencies"])
    assert "matplotlib" in requirement_names(PYPROJECT["project"]["optional-dependencies"]["train"])
    at_top = [str(p.relative_to(ROOT)) for p in (ROOT / "app").rglob("*.py")
              if ("matplotlib", True) in imports(p)]
    assert at_top == []


def test_a_missing_matplotlib_says_which_extra_to_install(monkeypatch, tmp_path):
    from app.model.metrics import reliability_plot

    monkeypatch.setitem(__import__("sys").modules, "matplotlib", None)  # as if not installed
    with pytest.raises(ModuleNotFoundError, match=r"install the train extra"):
        reliability_plot([0, 1], [0.1, 0.9], tmp_path / "plot.png", "t")


def test_what_the_app_imports_is_declared():
    runtime = requirement_names(PYPROJECT["project"]["dependencies"])
    assert {"cryptography", "python-json-logger", "prometheus-client"} <= runtime
    fhirclient = next(s for s in PYPROJECT["project"]["dependencies"] if s.startswith("fhirclient"))
    assert "<5" in fhirclient  # app/fhir/conformance.py reads fhirclient 4's model tables


def test_every_declared_package_is_pinned_in_the_lock_file_and_installs_use_it():
    lines = (ROOT / "constraints.txt").read_text().splitlines()
    pinned = {line.split("==")[0].lower().replace("_", "-") for line in lines if "==" in line}
    every = PYPROJECT["project"]["dependencies"] + sum(PYPROJECT["project"]["optional-dependencies"].values(), [])
    missing = requirement_names(every) - pinned
    assert missing == set(), f"rerun scripts/lock.sh: {sorted(missing)} not in constraints.txt"
    assert all(line.startswith("#") or re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[^ ]+", line) for line in lines if line)
    assert "sepsis-sentinel" not in pinned
    assert "-c constraints.txt" in (ROOT / "scripts" / "bootstrap.sh").read_text()


def test_the_licence_command_lists_every_installed_distribution(capsys):
    from importlib import metadata

    from app.cli import main

    assert main(["licences", "--json"]) == 0
    rows = {r["name"].lower(): r for r in json.loads(capsys.readouterr().out)}
    assert {d.metadata["Name"].lower() for d in metadata.distributions() if d.metadata["Name"]} == set(rows)
    assert rows["flask"]["licence"].startswith("BSD") and rows["flask"]["version"] == metadata.version("flask")


def test_the_sandbox_distribution_is_locked_and_installed_beside_the_app_only_for_the_demo_and_tests():
    sandbox = tomllib.loads((ROOT / "sandbox" / "pyproject.toml").read_text())
    lines = (ROOT / "constraints.txt").read_text().splitlines()
    pinned = {line.split("==")[0].lower().replace("_", "-") for line in lines if "==" in line}
    assert requirement_names(sandbox["project"]["dependencies"]) - pinned == {"sepsis-sentinel"}  # the app itself
    assert "sepsis-sentinel-sandbox" not in pinned
    assert "./sandbox" in (ROOT / "scripts" / "lock.sh").read_text()
    bootstrap = (ROOT / "scripts" / "bootstrap.sh").read_text()
    assert '*,sandbox,*|*,test,*) specs+=("./sandbox")' in bootstrap  # the image runs it without arguments
    assert "scripts/bootstrap.sh sandbox" in (ROOT / "scripts" / "demo.sh").read_text()
    assert "scripts/bootstrap.sh test" in (ROOT / "scripts" / "test.sh").read_text()
