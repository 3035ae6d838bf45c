"""The folder layout is the architecture: imports only point the way the README says they do."""

import ast
import hashlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "app"


def imports_of(package: str) -> dict[str, set[str]]:
    found = {}
    for path in (APP / package).rglob("*.py") if (APP / package).is_dir() else [APP / f"{package}.py"]:
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
        found[str(path.relative_to(ROOT))] = names
    return found


def offenders(package: str, allowed) -> list[str]:
    return [f"{path}: {name}" for path, names in imports_of(package).items() for name in names
            if (name == "app" or name.startswith("app.")) and not allowed(name)]


def test_model_imports_nothing_else_of_the_app():
    assert offenders("model", lambda n: n.startswith("app.model")) == []


def test_fhir_uses_the_model_only_for_measurements():
    assert offenders("fhir", lambda n: n.startswith("app.fhir") or n.startswith("app.model.measurement")
                     or n == "app.model") == []


def test_only_the_web_layer_and_the_factory_import_flask():
    flask_users = [path for package in ("smart", "fhir", "model", "alerts") for path, names in
                   imports_of(package).items() if any(n == "flask" or n.startswith("flask.") for n in names)]
    assert flask_users == []


def test_smart_is_an_edge_that_never_reaches_up_into_web_or_the_factory():
    # The Backend Services client runs in workers with no Flask app: it must not need web or create_app.
    assert offenders("smart", lambda n: n != "app" and not n.startswith("app.web")) == []


def test_vendored_htmx_is_the_pinned_release():
    digest = hashlib.sha256((ROOT / "static" / "htmx.min.js").read_bytes()).hexdigest()
    assert digest == "d6fdc75f204e6bdefa99b69bf1e6d4ac69b8a364f77929f45c13476b4000f717"  # htmx.org 2.0.11


def test_vendored_axe_core_is_the_pinned_release_and_only_the_tests_have_it():
    digest = hashlib.sha256((ROOT / "tests" / "e2e" / "vendor" / "axe.min.js").read_bytes()).hexdigest()
    # axe-core 4.14.1 from npm (`npm pack axe-core@4.14.1`); its sri-history.json gives the same sha256
    assert digest == "29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c"
    assert not list((ROOT / "static").glob("axe*")) and not list((ROOT / "templates").rglob("*axe*"))


def test_the_fhir_lookback_can_never_be_shorter_than_the_models_longest_window():
    import pytest

    from app.config import MIN_LOOKBACK_HOURS, ConfigError, load_settings
    from app.model.features import LAB_WINDOW, WINDOWS_H

    assert MIN_LOOKBACK_HOURS == max(WINDOWS_H.values()) == WINDOWS_H[LAB_WINDOW]
    with pytest.raises(ConfigError, match="at least 72"):
        load_settings({"observation_lookback_hours": 48})


def test_operations_need_no_flask_so_a_worker_can_log_and_count_too():
    # app/ops is logs, metrics and probes; app/web/ops.py binds them to requests. fhir reaches metrics only
    # through its round-trip observer (test_fhir_uses_the_model_only_for_measurements keeps ops out of fhir).
    assert offenders("ops", lambda n: not n.startswith("app.web") and n != "app") == []
    assert [path for path, names in imports_of("ops").items()
            if any(n == "flask" or n.startswith("flask.") for n in names)] == []


def test_the_cds_service_needs_no_flask_and_never_imports_web():
    # app/cds is a use case (the hook's auth, answer, cards); app/web/cds.py binds it to HTTP.
    assert offenders("cds", lambda n: not n.startswith("app.web") and n != "app") == []
    assert [path for path, names in imports_of("cds").items()
            if any(n == "flask" or n.startswith("flask.") for n in names)] == []


# The import graph of the whole app, module by module. `from app.x import y` points at the module `app.x.y` when
# there is one, else at `app.x` (a package's `__init__`); `from app import create_app` therefore points at the
# factory itself, `app`. Imports inside functions count: a lazy import that dodges a cycle at start-up still ties
# the two modules together, and the cycle is there when the function runs. Imports under `if TYPE_CHECKING:`
# do not: they are never executed and only name types for annotations.
def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


APP_MODULES = {_module_name(path): path for path in APP.rglob("*.py")}


def _executed_imports(tree: ast.AST):
    pending = [tree]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            pending.extend(node.orelse)
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        pending.extend(ast.iter_child_nodes(node))


def imported_names(module: str) -> set[str]:
    """Every module `module` imports (the app's and third parties'), resolved as described above."""
    path = APP_MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names = set()
    for node in _executed_imports(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
            continue
        base = node.module or ""
        if node.level:
            anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
            base = ".".join([*anchor, base] if base else anchor)
        names |= {f"{base}.{a.name}" if f"{base}.{a.name}" in APP_MODULES else base for a in node.names}
    return names


def app_imports(module: str) -> set[str]:
    return {name for name in imported_names(module) if name in APP_MODULES and name != module}


def in_package(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def blueprint_modules() -> set[str]:
    """The web modules that define a blueprint (`bp = Blueprint(...)`): the pages, as opposed to their helpers."""
    found = set()
    for module, path in APP_MODULES.items():
        if in_package(module, "app.web"):
            for node in ast.parse(path.read_text()).body:
                if (isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)
                        and getattr(node.value.func, "id", None) == "Blueprint"):
                    found.add(module)
    return found


def test_web_never_imports_the_factory():
    # The factory imports web to register it; web reaches the app's parts through app.services only.
    offending = [module for module in APP_MODULES if in_package(module, "app.web") and "app" in app_imports(module)]
    assert offending == []


def test_the_services_seam_sits_below_web_and_knows_no_flask():
    names = imported_names("app.services")
    assert [n for n in names if in_package(n, "app.web") or n == "app" or in_package(n, "flask")] == []


def test_blueprints_import_helpers_never_each_other():
    # A page's helpers (scope, forms, snapshot, errors, ...) are modules of their own; only the factory, which
    # registers the pages, imports a page.
    pages = blueprint_modules()
    assert {"app.web.patient", "app.web.alerts", "app.web.bundle"} <= pages  # the detection finds the pages
    assert {m: sorted(app_imports(m) & pages) for m in APP_MODULES if m != "app" and app_imports(m) & pages} == {}


def test_use_cases_never_import_web_or_flask():
    use_cases = ("app.bedside", "app.screening", "app.cds", "app.board")
    offending = {module: sorted(n for n in imported_names(module)
                                if in_package(n, "app.web") or n == "app" or in_package(n, "flask"))
                 for module in APP_MODULES if any(in_package(module, u) for u in use_cases)}
    assert {module: names for module, names in offending.items() if names} == {}


def import_cycles() -> list[list[str]]:
    """The strongly connected components of the app's import graph that hold more than one module (Tarjan)."""
    graph = {module: app_imports(module) for module in APP_MODULES}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for target in graph[module]:
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = []
            while not component or component[-1] != module:
                component.append(stack.pop())
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return cycles


def test_the_app_has_no_import_cycles():
    assert len(APP_MODULES) > 100 and app_imports("app.web.guards")  # the graph is real: modules and edges
    assert import_cycles() == []


# -- the domain packages: alerts (the lifecycle), bundle (SEP-1 bundle and its orders), nursing (the screening form)

DOMAIN = ("alerts", "bundle", "nursing")
# JSON element names of FHIR resources (R4). Building or reading them is app/fhir's job; the domain passes plain
# values in and gets plain values back.
FHIR_RESOURCE_KEYS = frozenset({
    "resourceType", "subject", "encounter", "identifier", "coding", "reference", "entry", "component",
    "medicationCodeableConcept", "medicationReference", "dosageInstruction", "doseAndRate", "doseQuantity",
    "valueQuantity", "valueCodeableConcept", "valueString", "valueInteger", "dataAbsentReason",
    "effectivePeriod", "effectiveDateTime", "effectiveInstant", "occurrenceDateTime", "authoredOn", "requester",
    "reasonCode", "intent",
})


def resolved_imports(package: str) -> dict[str, set[str]]:
    """Every module each file of app/<package> imports, relative imports resolved, and `from x import y`
    counted as both x and x.y (y may be a submodule: `from app import bundle`)."""
    found = {}
    for path in (APP / package).rglob("*.py"):
        here = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        parent = here.rsplit(".", 1)[0] if path.name != "__init__.py" else here.removesuffix(".__init__")
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = parent.rsplit(".", node.level - 1)[0] if node.level > 1 else parent if node.level else ""
                module = ".".join(p for p in (base, node.module or "") if p)
                names |= {module} | {f"{module}.{a.name}" for a in node.names}
        found[str(path.relative_to(ROOT))] = names
    return found


def domain_imports(package: str, *prefixes: str) -> list[str]:
    return sorted(f"{path}: {name}" for path, names in resolved_imports(package).items() for name in names
                  if any(name == p or name.startswith(p + ".") for p in prefixes))


def fhir_keys_in(source: str) -> set[str]:
    """String constants used as a dict's keys, a subscript or `.get`/`.setdefault`/`.pop`'s key, that are FHIR
    resource element names. (Keyword arguments are not keys: `dict(identifier=...)` fills a table's column.)"""
    keys = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Dict):
            keys |= {k.value for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)}
        elif isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
            keys.add(node.slice.value)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args \
                and node.func.attr in ("get", "setdefault", "pop") and isinstance(node.args[0], ast.Constant):
            keys.add(node.args[0].value)
    return {k for k in keys if isinstance(k, str)} & FHIR_RESOURCE_KEYS


def test_the_alert_lifecycle_knows_neither_the_bundle_nor_the_nursing_form():
    assert domain_imports("alerts", "app.bundle", "app.nursing") == []


def test_bundle_and_nursing_build_on_the_alerts_never_on_the_layers_above():
    above = ("app.bedside", "app.web", "app.screening", "app.cds")
    assert domain_imports("bundle", *above) == []
    assert domain_imports("nursing", *above) == []


def test_the_domain_needs_neither_flask_nor_an_http_client():
    assert [hit for package in DOMAIN for hit in domain_imports(package, "flask", "requests")] == []


def test_fhir_resource_json_stays_in_the_fhir_package():
    found = {str(path.relative_to(ROOT)): sorted(keys) for package in DOMAIN for path in (APP / package).rglob("*.py")
             if (keys := fhir_keys_in(path.read_text()))}
    assert found == {}
    # The check sees what it is meant to see: the order JSON app/fhir builds for the bundle.
    assert {"resourceType", "subject", "encounter", "medicationCodeableConcept"} <= fhir_keys_in(
        (APP / "fhir" / "orders.py").read_text())


def package_imports(package: str) -> dict[str, set[str]]:
    """Like imports_of, with `from app import roles` read as `app.roles` (the module it names)."""
    found = {}
    for path in (APP / package).rglob("*.py"):
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names |= {f"app.{a.name}" for a in node.names} if node.module == "app" else {node.module}
        found[str(path.relative_to(ROOT))] = names
    return found


# The application layer reaches down only: the domain it composes, the FHIR edge, the model, and the few
# cross-cutting modules (roles, the scoring path). Never web, never the factory, never Flask.
BEDSIDE_MAY_IMPORT = ("app.bedside", "app.alerts", "app.bundle", "app.nursing", "app.screening.history",
                      "app.assessment", "app.fhir", "app.model", "app.roles", "app.db", "app.audit", "app.config",
                      "app.writeback")


def test_bedside_is_an_application_layer_without_flask_that_imports_only_downward():
    imports = package_imports("bedside")
    assert imports  # the package exists and was read
    wrong = [f"{path}: {name}" for path, names in imports.items() for name in names
             if (name == "app" or name.startswith("app.")) and not name.startswith(BEDSIDE_MAY_IMPORT)]
    assert wrong == []
    assert [path for path, names in imports.items()
            if any(n.split(".")[0] in ("flask", "werkzeug", "jinja2") for n in names)] == []


def test_templates_ask_app_roles_and_never_compare_against_a_role_name():
    # A role check in a template is a second copy of app.roles: templates call may("action") instead.
    import jinja2
    from jinja2 import nodes

    from app.roles import ROLES

    env = jinja2.Environment(autoescape=True)
    found = []
    for path in sorted((ROOT / "templates").rglob("*.html")):
        tree = env.parse(path.read_text())
        for compare in tree.find_all(nodes.Compare):
            operands = [compare.expr] + [op.expr for op in compare.ops]
            literals = [o.value for o in operands if isinstance(o, nodes.Const)]
            literals += [i.value for o in operands if isinstance(o, (nodes.Tuple, nodes.List)) for i in o.items
                         if isinstance(i, nodes.Const)]
            if any(value in ROLES for value in literals):
                found.append(f"{path.relative_to(ROOT)}:{compare.lineno}")
    assert found == []


# App-wide, the domain's FHIR element names and more, less the two that are also SMART launch-context fields (the
# token response's `encounter`, fhirContext's `reference`) and an audit detail key. Generic element names (id,
# status, code, text, value...) are left out everywhere: the app's own dicts use them too.
FHIR_JSON_KEYS = (FHIR_RESOURCE_KEYS - {"encounter", "reference"}) | {
    "birthDate", "deceasedBoolean", "deceasedDateTime", "serviceType", "performer", "fullUrl", "lastUpdated",
    "interpretation", "referenceRange", "telecom", "basedOn", "period", "probabilityDecimal", "qualitativeRisk",
}
# Where a FHIR key outside app/fhir is allowed, each with its reason.
FHIR_JSON_KEYS_ALLOWED = {
    # The SMART client reads the signed-in user's PractitionerRole (and its Bundle) to find the user's role during
    # the launch: part of the launch protocol, which smart/ keeps in one place.
    "app/smart/context.py": {"resourceType", "entry", "coding", "period"},
    # The Backend Services check counts the entries of the first search page it made, to print them.
    "app/cli/backend.py": {"entry"},
}


def _keys_used(tree: ast.AST):
    """String constants used as a key: d["k"], d.get("k"), {"k": ...}, "k" in d."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
            yield node.slice.value, node.lineno
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr in ("get", "setdefault", "pop") and node.args
              and isinstance(node.args[0], ast.Constant)):
            yield node.args[0].value, node.lineno
        elif isinstance(node, ast.Dict):
            yield from ((k.value, k.lineno) for k in node.keys if isinstance(k, ast.Constant))
        elif (isinstance(node, ast.Compare) and isinstance(node.left, ast.Constant)
              and any(isinstance(op, (ast.In, ast.NotIn)) for op in node.ops)):
            yield node.left.value, node.lineno


def test_fhir_resource_json_is_read_and_built_only_in_app_fhir():
    found = []
    for path in sorted(APP.rglob("*.py")):
        rel = str(path.relative_to(ROOT))
        if rel.startswith(("app/fhir/", "app/migrations/")):
            continue
        allowed = FHIR_JSON_KEYS_ALLOWED.get(rel, set())
        found += [f"{rel}:{line} {key}" for key, line in _keys_used(ast.parse(path.read_text()))
                  if key in FHIR_JSON_KEYS and key not in allowed]
    assert found == []


def test_no_module_in_the_app_is_over_400_lines():
    # A module that outgrows 400 lines holds more than one concern: split it by concern, named for what each holds.
    assert [(str(p.relative_to(ROOT)), n) for p in APP.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > 400] == []


# -- the product, its test double, its benchmarks and its tests ------------------------------------------------

def imported_modules(path: Path) -> set[str]:
    """Every module `path` imports, anywhere in it (a function-level import counts), relative ones resolved."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
            module = node.module if node.level == 0 else ".".join(p for p in (base, node.module) if p)
            names.add(module)
            names |= {f"{module}.{a.name}" for a in node.names}  # `from . import x` imports module x
    return names


def test_nothing_in_the_app_imports_the_sandbox_or_the_benches():
    # The sandbox EHR is the app's test double (its own distribution, not in the app's wheel or image) and bench/
    # measures the app: the product depends on neither.
    found = [f"{path.relative_to(ROOT)}: {name}" for path in APP.rglob("*.py") for name in imported_modules(path)
             if name.split(".")[0] in ("sandbox", "bench")]
    assert found == []


def test_benches_are_modules_of_the_bench_package_and_never_touch_sys_path():
    assert (ROOT / "bench" / "__init__.py").is_file()
    touching = [str(path.relative_to(ROOT)) for path in (ROOT / "bench").rglob("*.py")
                for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
                if isinstance(node, ast.Attribute) and node.attr == "path" and getattr(node.value, "id", "") == "sys"]
    assert touching == []


def test_tests_share_code_only_through_tests_support():
    # A test module, a conftest or a helper imports shared test code from tests/support/, never from a test
    # module, a conftest or a helper in another folder: moving or deleting a test then never breaks another.
    tests = ROOT / "tests"
    found = [f"{path.relative_to(ROOT)}: {name}" for path in tests.rglob("*.py") if "vendor" not in path.parts
             for name in imported_modules(path)
             if name.split(".")[0] == "tests" and name != "tests" and not name.startswith("tests.support")]
    assert found == []


def test_the_sandbox_is_a_distribution_of_its_own_that_the_app_and_its_image_leave_out():
    import tomllib

    app = tomllib.loads((ROOT / "pyproject.toml").read_text())
    sandbox = tomllib.loads((ROOT / "sandbox" / "pyproject.toml").read_text())
    assert app["tool"]["setuptools"]["packages"]["find"]["include"] == ["app*"]
    assert sandbox["project"]["name"] == "sepsis-sentinel-sandbox" and "sentinel-sandbox" in sandbox["project"]["scripts"]
    assert (ROOT / "sandbox" / "sandbox" / "__init__.py").is_file() and not (ROOT / "sandbox" / "__init__.py").exists()
    copied = [line.split()[1] for line in (ROOT / "Dockerfile").read_text().splitlines() if line.startswith("COPY ")]
    assert "sandbox" not in copied and copied  # the image holds the app only
    assert "demo" not in __import__("app.cli", fromlist=["COMMANDS"]).COMMANDS  # the demo is the sandbox's command
