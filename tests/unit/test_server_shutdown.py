"""calamari-server stops what it started: after main() returns no thread of its own is left running
and the event store is closed."""

import gc
import os
import threading

from calamari.service import main as server_main


class ServerThatStopsAtOnce:
    """Stands in for the HTTP server: run() returns as after a SIGTERM."""

    def __init__(self, *args, **kwargs) -> None:
        pass

    def run(self) -> None:
        return None

    def close(self) -> None:
        return None


def open_files_under(directory: str) -> list[str]:
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(directory):
            found.append(target)
    return found


def test_main_stops_its_threads_and_closes_the_store(tmp_path, monkeypatch):
    monkeypatch.setattr(server_main, "create_http_server", ServerThatStopsAtOnce)
    monkeypatch.setattr(gc, "freeze", lambda: None)
    monkeypatch.setattr(server_main.signal, "signal", lambda *args: None)  # keep the test runner's handlers
    before = set(threading.enumerate())
    data_dir = str(tmp_path / "var")
    assert server_main.main(["--data-dir", data_dir, "--api", "127.0.0.1:0", "--bus", "tcp://127.0.0.1:0",
                             "--insecure-bus", "--log-level", "WARNING"]) == 0
    left = [t.name for t in set(threading.enumerate()) - before
            if t.is_alive() and t.name != "event-feed-history"]  # a one-off reader that ends by itself
    assert left == []
    assert open_files_under(os.path.realpath(data_dir)) == []
