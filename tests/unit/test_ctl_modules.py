"""calamari-ctl's modules: `ctl.py` assembles the command modules and none of them imports it or
another command module; what they share (ctl_data_dir.py) they use through public names only."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SERVICE = Path(__file__).resolve().parents[2] / "calamari" / "service"
CTL_MODULES = sorted([SERVICE / "ctl.py", SERVICE / "ctl_data_dir.py", *SERVICE.glob("*_cli.py")])


def imports_of(path: Path) -> list[tuple[str, str]]:
    """(module, name) of every `from calamari... import name` in the file, lazy ones included."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("calamari"):
            found += [(node.module, alias.name) for alias in node.names]
    return found


def test_the_command_modules_are_all_seen() -> None:
    names = {path.stem for path in CTL_MODULES}
    assert {"ctl", "ctl_data_dir", "events_cli", "history_cli", "key_cli", "user_cli", "cluster_cli"} <= names


@pytest.mark.parametrize("path", CTL_MODULES, ids=lambda path: path.stem)
def test_no_private_name_is_imported_from_another_module(path: Path) -> None:
    private = [f"{module}.{name}" for module, name in imports_of(path)
               if name.startswith("_") and not name.startswith("__")]
    assert not private, f"{path.name} imports private names: {private}"


@pytest.mark.parametrize("path", [p for p in CTL_MODULES if p.stem != "ctl"], ids=lambda path: path.stem)
def test_no_command_module_imports_the_assembly_or_another_command_module(path: Path) -> None:
    assembly_and_commands = {"ctl"} | {p.stem for p in CTL_MODULES if p.stem.endswith("_cli")}
    imported = {module.rpartition(".")[2] if module != "calamari.service" else name
                for module, name in imports_of(path) if module.startswith("calamari.service")}
    assert not imported & assembly_and_commands, f"{path.name} imports {imported & assembly_and_commands}"
