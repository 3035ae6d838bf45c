"""design.md dependency rule: `fhir -> model` for the Measurement type and concept table only."""

from __future__ import annotations

import ast
from pathlib import Path

import app.fhir

FHIR = Path(app.fhir.__file__).parent


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.add(node.module)
    return out


def test_fhir_imports_only_the_measurement_module_of_the_app():
    app_imports = {m for f in FHIR.glob("*.py") for m in imported_modules(f) if m.split(".")[0] == "app"}
    assert app_imports == {"app.model.measurement"}


def test_fhir_does_not_import_flask():
    assert not any(m.split(".")[0] == "flask" for f in FHIR.glob("*.py") for m in imported_modules(f))
