"""Where the CRUSH text language and request planning may reach: the CRUSH language is pure and
its own (the collector's simulator uses it without the server's domain), the completion checks
judge a map without the model (the model asks them), and the planners read the model through its
public methods only."""

from __future__ import annotations

import ast
import copy
import sys
from datetime import timedelta
from pathlib import Path

from test_import_graph import ROOT, import_graph, module_files, reachable

from calamari.domain.model import ClusterModel
from calamari.testing.captures import capture_steps, captured_at, sync_objects


def top_level_imports(path: Path) -> set[str]:
    """The first part of every absolute module name a file imports ("calamari", "re", ...)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.partition(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names.add(node.module.partition(".")[0])
    return names


def test_the_collector_reaches_nothing_of_the_servers_domain() -> None:
    graph = import_graph()
    collector = [name for name in graph if name.split(".")[0] == "collector"]
    assert "collector.simulator.set_crush_map" in collector
    for name in collector:
        domain = sorted(m for m in reachable(graph, name) if m.startswith("calamari.domain"))
        assert not domain, f"{name} imports {domain}"


def test_the_crush_language_imports_only_itself_and_the_standard_library() -> None:
    modules = {name: path for name, path in module_files().items() if name.startswith("calamari.crush")}
    assert {"calamari.crush.text_parse", "calamari.crush.text_render"} <= modules.keys()
    for name, path in modules.items():
        outside = {top for top in top_level_imports(path) if top not in sys.stdlib_module_names} - {"calamari"}
        assert not outside, f"{name} imports {sorted(outside)}"
        graph = import_graph()
        others = sorted(m for m in graph[name] if not m.startswith("calamari.crush"))
        assert not others, f"{name} imports {others}"


def test_the_completion_checks_do_not_reach_the_model() -> None:
    graph = import_graph()
    for checks in ("calamari.domain.requests.expect", "calamari.domain.requests.expect_crush"):
        assert checks in graph
        assert "calamari.domain.model" not in reachable(graph, checks)
    # and the model (its request lifecycle) asks them where they are, not through the planning package
    assert "calamari.domain.requests.expect" in graph["calamari.domain.request_lifecycle"]
    assert "calamari.domain.requests" not in graph["calamari.domain.request_lifecycle"]
    assert "calamari.domain.requests" not in graph["calamari.domain.model"]


def test_the_planners_read_no_private_attribute() -> None:
    package = ROOT / "calamari" / "domain" / "requests"
    files = sorted(package.glob("*.py")) + [p for p in [package.with_suffix(".py")] if p.exists()]
    assert files
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
                target = ast.unparse(node.value)
                assert target == "self", f"{path.name}:{node.lineno} reads {target}.{node.attr}"


def test_pool_entry_is_the_newest_osd_maps_entry_of_the_pool(capture_dir) -> None:
    model = ClusterModel()
    for step in capture_steps(capture_dir):
        fsid, objects = sync_objects(step)
        for name, version, data in objects:
            model.ingest(fsid, name, version, data, captured_at(step))
    osd_map = model.held[fsid]["osd_map"][1]
    pools = {p["pool"]: p for p in osd_map["pools"]}
    assert pools
    for pool_id, entry in pools.items():
        assert model.pool_entry(fsid, pool_id) == entry
    assert model.pool_entry(fsid, max(pools) + 1) is None
    assert model.pool_entry("no-such-cluster", next(iter(pools))) is None

    gone = next(iter(pools))
    newer = copy.deepcopy(osd_map)
    newer["epoch"] += 1
    newer["pools"] = [p for p in newer["pools"] if p["pool"] != gone]
    at = max(a.modified_on for a in model.aggregates.values()) + timedelta(seconds=1)
    model.ingest(fsid, "osd_map", newer["epoch"], newer, at)
    assert model.pool_entry(fsid, gone) is None
    assert all(model.pool_entry(fsid, p) == pools[p] for p in pools if p != gone)
