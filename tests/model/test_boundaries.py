"""The model package imports nothing else of the app (design: alerts -> model, fhir -> model, never back)."""

from __future__ import annotations

import ast
from pathlib import Path

import app.model

PACKAGE = Path(app.model.__file__).parent


def test_model_imports_no_other_app_package():
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert not name.startswith("app.") or name.startswith("app.model"), f"{path.name} imports {name}"
                assert name not in ("flask", "app"), f"{path.name} imports {name}"


def test_the_front_door_exports_the_contract():
    for name in ("score", "Risk", "Abstain", "Missing", "load_model", "Measurement", "CONCEPTS"):
        assert hasattr(app.model, name)
