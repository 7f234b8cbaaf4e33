"""What an installation holds and needs: every module folder is a package setup.py ships; the
runtime requirements are what the server, the collector and calamari-ctl import; test support
(calamari.testing, hypothesis) is an extra that no entry point loads."""

from __future__ import annotations

import ast
import importlib.metadata
import json
import re
import runpy
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import setuptools

ROOT = Path(__file__).resolve().parents[2]
ENTRY_POINTS = ("calamari.service.main", "collector.main", "calamari.service.ctl")
# Imported at run time but not installed from PyPI: librados' binding comes with Ceph (python3-rados),
# mgr_module is ceph-mgr's own, imported only by the calamari_notify module it runs.
SYSTEM_MODULES = {"rados", "mgr_module"}
# Required without being imported by name: eventsourcing's PostgreSQL recorder needs psycopg's
# compiled implementation and its connection pool.
COMPANIONS = {"psycopg-binary", "psycopg-pool"}


def setup_arguments() -> dict[str, Any]:
    """The keyword arguments setup.py passes to setup(), without building anything."""
    captured: dict[str, Any] = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(setuptools, "setup", lambda **kwargs: captured.update(kwargs))
        patch.chdir(ROOT)  # find_packages looks below the working directory
        runpy.run_path(str(ROOT / "setup.py"))
    return captured


def test_every_folder_of_modules_is_shipped() -> None:
    # find_packages sees only folders with an __init__.py: one without it is left out of a
    # (non-editable) installation, and every entry point that imports from it fails there
    folders = {".".join(path.parent.relative_to(ROOT).parts)
               for package in ("calamari", "collector") for path in (ROOT / package).rglob("*.py")}
    missing = folders - set(setup_arguments()["packages"])
    assert not missing, f"not shipped (no __init__.py?): {sorted(missing)}"


def distribution_name(requirement: str) -> str:
    """`psycopg[binary,pool]==3.3.9` -> `psycopg`, normalised as PyPI compares names."""
    name = re.split(r"[\[=<>!~; ]", requirement, maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


def runtime_imports() -> set[str]:
    """Top-level names of the third-party modules that calamari/ (but calamari/testing) and
    collector/ import, lazily or not."""
    found: set[str] = set()
    for package in ("calamari", "collector"):
        for path in (ROOT / package).rglob("*.py"):
            if (ROOT / "calamari" / "testing") in path.parents:
                continue
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    found.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                    found.add(node.module.split(".")[0])
    return {name for name in found
            if name not in sys.stdlib_module_names and name not in ("calamari", "collector")}


def test_install_requires_is_what_the_server_and_the_collector_import() -> None:
    installed = importlib.metadata.packages_distributions()
    needed: set[str] = set()
    for module in runtime_imports() - SYSTEM_MODULES:
        assert module in installed, f"{module} is imported but no installed distribution provides it"
        needed.update(distribution_name(name) for name in installed[module])
    required = {distribution_name(r) for r in setup_arguments()["install_requires"]}
    assert needed <= required, f"imported at run time but not required: {sorted(needed - required)}"
    assert required - needed <= COMPANIONS, f"required but not imported at run time: {sorted(required - needed - COMPANIONS)}"


def test_hypothesis_is_in_the_testing_extra_and_the_test_extra_has_it() -> None:
    arguments = setup_arguments()
    extras = {name: {distribution_name(r) for r in requirements}
              for name, requirements in arguments["extras_require"].items()}
    assert "hypothesis" not in {distribution_name(r) for r in arguments["install_requires"]}
    assert "hypothesis" in extras["testing"]
    assert extras["testing"] <= extras["test"]  # `pip install -e '.[test]'` still gives everything


def test_the_entry_points_load_no_test_support() -> None:
    # a fresh interpreter: this one has loaded the test support already
    code = (f"import json, sys\nfor name in {list(ENTRY_POINTS)!r}:\n    __import__(name)\n"
            "print(json.dumps(sorted(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout)
    assert set(ENTRY_POINTS) <= set(loaded)
    test_support = [name for name in loaded
                    if name.split(".")[0] in ("hypothesis", "pytest", "_pytest") or name.startswith("calamari.testing")]
    assert not test_support, f"the entry points load test support: {test_support}"
