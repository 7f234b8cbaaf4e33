import os
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

FIXTURES = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "shared", "fixtures",
                                        "ceph-pacific-3osd"))


@pytest.fixture(scope="session")
def capture_dir() -> str:
    if not os.path.isdir(FIXTURES):
        pytest.skip(f"captures not found at {FIXTURES}")
    return FIXTURES


@pytest.fixture
def serve() -> Iterator[Callable[[Any], int]]:
    """Start a real HTTP server (calamari's waitress set-up, 2 threads) for a WSGI app; returns its
    port. Every server started is closed after the test."""
    from calamari.adapters.http_server import ConnectionLimits, create_http_server

    servers = []

    def start(app: Any) -> int:
        server = create_http_server(app, "127.0.0.1", 0, threads=2, limits=ConnectionLimits())
        threading.Thread(target=server.run, daemon=True).start()
        servers.append(server)
        return int(server.effective_port)

    yield start
    for server in servers:
        server.close()
        server.task_dispatcher.shutdown(timeout=5)
