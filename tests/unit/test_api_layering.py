"""calamari/api only translates HTTP: it reaches the outside (files, sockets, the host) through what
the service and calamari-server hand it, never by importing an adapter itself."""

import ast
from pathlib import Path

import calamari.api


def test_no_api_module_imports_an_adapter():
    offenders = []
    for path in sorted(Path(calamari.api.__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else \
                [a.name for a in node.names] if isinstance(node, ast.Import) else []
            offenders += [f"{path.name}: {name}" for name in names if name.startswith("calamari.adapters")]
    assert offenders == []


def test_the_server_hosts_grains_are_503_when_no_reader_was_handed_over(tmp_path, capture_dir):
    from api_support import Harness

    api = Harness(str(tmp_path), capture_dir, app_options={"SERVER_GRAINS": None})
    try:
        assert api.call("GET", "grains", user="viewer").status_code == 503
    finally:
        api.close()
