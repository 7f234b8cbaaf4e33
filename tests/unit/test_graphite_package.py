"""calamari/graphite/ is a pure package of small modules: it imports only itself and the standard
library (no domain, adapters, files, sockets or clocks), its modules import each other without a
loop, and each stays small enough to hold one job. The domain no longer holds Graphite code."""

import ast
import graphlib
import importlib.util
import sys
from pathlib import Path

import pytest

import calamari.graphite
from calamari.graphite.functions import function_catalog

PACKAGE = Path(calamari.graphite.__file__).parent
MODULES = sorted(PACKAGE.glob("*.py"))
# standard-library modules that reach files, sockets, processes, threads or the clock
IMPURE = {"os", "io", "socket", "time", "threading", "subprocess", "shutil", "tempfile", "pathlib", "logging",
          "multiprocessing", "asyncio", "random", "select", "signal", "sqlite3", "urllib", "http"}


def module_name(path: Path) -> str:
    return "calamari.graphite" if path.name == "__init__.py" else f"calamari.graphite.{path.stem}"


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, wherever the import statement stands (TYPE_CHECKING blocks too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path.name}: relative import"
            found.add(node.module)
            # `from calamari.graphite import glob` imports the module calamari.graphite.glob
            found.update(f"{node.module}.{alias.name}" for alias in node.names
                         if f"{node.module}.{alias.name}" in {module_name(p) for p in MODULES})
    return found


def test_the_package_has_its_modules():
    assert {p.stem for p in MODULES} >= {"series", "timespec", "limits", "glob", "budget", "parser", "functions",
                                         "evaluate"}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_modules_import_only_the_package_and_pure_standard_library(path):
    for name in imported_modules(path):
        top = name.split(".")[0]
        if name.startswith("calamari."):
            assert name.startswith("calamari.graphite"), f"{path.name} imports {name}"
        else:
            assert top in sys.stdlib_module_names, f"{path.name} imports {name}, not the standard library"
            assert top not in IMPURE, f"{path.name} imports {name}, which reaches the outside world"


def test_modules_import_each_other_without_a_loop():
    graph = {module_name(p): {m for m in imported_modules(p) if m.startswith("calamari.graphite.")}
             for p in MODULES}
    assert any(graph.values())  # the check has edges to look at
    try:
        list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as err:
        pytest.fail(f"import loop: {' -> '.join(err.args[1])}")


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_each_module_is_at_most_about_400_lines(path):
    assert len(path.read_text().splitlines()) <= 400


def test_the_domain_holds_no_graphite_code():
    assert importlib.util.find_spec("calamari.domain.series") is None


def test_the_catalog_names_the_module_it_always_named():
    # /graphite/functions answers as before the move: clients may show or key on the module name
    assert {entry["module"] for entry in function_catalog().values()} == {"calamari.domain.series"}
