"""Modules use each other through public names only, and the layers below the HTTP API never
import it: the REST API and `calamari-ctl` both take their documents from calamari.domain.

Checked on the source with `ast`, for every module of calamari/ and collector/; lazy imports
inside functions count as well."""

from __future__ import annotations

import ast

from test_import_graph import module_files

# Private names still borrowed, and being removed; do not add to this list.
KNOWN_BORROWED: set[tuple[str, str]] = set()
# What the modules below the API may not import: they must work without a web app
# (calamari-ctl reads a data dir directly, the collector runs on Ceph hosts).
BELOW_THE_API = ("calamari.domain", "calamari.protocol", "calamari.adapters", "collector",
                 "calamari.service.ctl", "calamari.service.history_cli", "calamari.service.key_cli",
                 "calamari.service.user_cli")
WEB_PACKAGES = ("calamari.api", "flask", "werkzeug")
# The model service's commit methods: other modules commit through its public commit() and durable().
COMMIT_OWNER = "calamari.service.model"
# The server's long-lived parts, built by the composition root alone and handed to whoever uses them.
COMPOSITION_ROOT = "calamari.bootstrap"
ROOT_BUILT = ("ModelService", "AuthService", "RequestExecutor", "EventFeed", "StreamHub", "CollectorKeyService",
              "CollectorBus", "TimeSeriesWriter", "ControlServer", "EventWriter", "SnapshotWriter", "Notifier")
# Where a default is still made, for callers that do not go through the root (calamari-ctl on a
# stopped server, tests): the model service opens its own store and writers when given none.
# (EventStore is not listed: calamari-ctl's commands open the store of a stopped server directly.)
ROOT_BUILT_ELSEWHERE = {"calamari.service.model": {"SnapshotWriter", "EventWriter"}}


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _within(name: str, packages: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


def borrowed_names(module: str, source: str, modules: set[str]) -> set[str]:
    """`other_module._name` for each private name `module` takes from another module: by
    `from other import _name`, or as an attribute of a module it imported (`other._name`)."""
    found: set[str] = set()
    module_aliases: dict[str, str] = {}  # local name -> the module it is bound to
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                if f"{node.module}.{alias.name}" in modules:
                    module_aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
                elif _private(alias.name) and node.module != module:
                    found.add(f"{node.module}.{alias.name}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    module_aliases[alias.asname] = alias.name
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and _private(node.attr):
            target = _dotted(node.value)
            target = module_aliases.get(target, target) if target else None
            if target in modules and target != module:
                found.add(f"{target}.{node.attr}")
    return found


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def private_commit_uses(source: str) -> set[str]:
    """Each `<expr>._commit…` the source names (a call or a reference), as `line: expr._commit…`."""
    return {f"{node.lineno}: {_dotted(node.value) or '…'}.{node.attr}" for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Attribute) and node.attr.startswith("_commit")}


def constructions(source: str, classes: tuple[str, ...]) -> set[str]:
    """The classes among `classes` the source calls (`Name(...)` or `module.Name(...)`)."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            name = node.func.id if isinstance(node.func, ast.Name) else \
                node.func.attr if isinstance(node.func, ast.Attribute) else None
            if name in classes:
                found.add(name)
    return found


def web_imports(source: str) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(source)):
        names = [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else \
            [a.name for a in node.names] if isinstance(node, ast.Import) else []
        found.update(name for name in names if _within(name, WEB_PACKAGES))
    return found


def test_the_checks_see_what_they_look_for() -> None:
    modules = {"pkg.a", "pkg.b"}
    assert borrowed_names("pkg.a", "from pkg.b import _x, y\n", modules) == {"pkg.b._x"}
    assert borrowed_names("pkg.a", "def f():\n    from pkg import b\n    return b._y\n", modules) == {"pkg.b._y"}
    assert borrowed_names("pkg.a", "import pkg.b\npkg.b._z()\n", modules) == {"pkg.b._z"}
    assert borrowed_names("pkg.a", "import pkg.b as bee\nbee._w\n", modules) == {"pkg.b._w"}
    assert borrowed_names("pkg.a", "from pkg.b import __version__\nself._own = 1\n", modules) == set()
    assert private_commit_uses("self.service._commit()\nx = svc._commit_durable\n") == \
        {"1: self.service._commit", "2: svc._commit_durable"}
    assert private_commit_uses("self.service.commit()\nwith s.durable():\n    pass\n") == set()
    assert constructions("a = AuthService(s)\nb = x.RequestExecutor(s)\nc = Other(AuthService)\n",
                         ("AuthService", "RequestExecutor")) == {"AuthService", "RequestExecutor"}
    assert web_imports("def f():\n    from calamari.api.history import x\n") == {"calamari.api.history"}
    assert web_imports("import flask\nfrom calamari.apis import y\n") == {"flask"}


def test_no_module_borrows_a_private_name_of_another() -> None:
    files = module_files()
    borrowed = {(name, private) for name, path in files.items()
                for private in borrowed_names(name, path.read_text(), set(files))}
    assert sorted(borrowed - KNOWN_BORROWED) == []


def test_only_the_model_service_uses_its_private_commit() -> None:
    offenders = {f"{name}:{use}" for name, path in module_files().items() if name != COMMIT_OWNER
                 for use in private_commit_uses(path.read_text())}
    assert sorted(offenders) == []


def test_only_the_composition_root_builds_the_servers_parts() -> None:
    offenders = {f"{name}: {built}" for name, path in module_files().items() if name != COMPOSITION_ROOT
                 for built in constructions(path.read_text(), ROOT_BUILT) - ROOT_BUILT_ELSEWHERE.get(name, set())}
    assert sorted(offenders) == []


def test_the_layers_below_the_api_never_import_it() -> None:
    offenders = {f"{name}: {imported}" for name, path in module_files().items() if _within(name, BELOW_THE_API)
                 for imported in web_imports(path.read_text())}
    assert sorted(offenders) == []
