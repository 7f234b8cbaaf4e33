"""What many unit tests share: polling for a condition, a collector on a real bus, what a collector
sent to a bare ROUTER socket, a tmpfs mount."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import zmq
from recording_sink import RecordingSink

from calamari import protocol
from calamari.adapters.bus import CollectorBus
from calamari.domain.model import ClusterModel
from calamari.testing.captures import captured_at, sync_objects
from collector.agent import Collector

T = TypeVar("T")


def wait_for(condition: Callable[[], T], timeout: float = 5.0, what: str = "condition") -> T:
    """Poll `condition` every 20 ms until it gives something truthy, which is returned; an
    AssertionError naming `what` after `timeout` seconds. Exceptions of the condition fail at once."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"{what} not met in time")


def received_of_type(router: zmq.Socket, kind: str, wanted: int, timeout: float) -> int:
    """Reads envelopes from a ROUTER socket (the server's end of a collector's connection) until
    `wanted` of type `kind` came or `timeout` seconds passed; how many came."""
    deadline = time.monotonic() + timeout
    came = 0
    while came < wanted and time.monotonic() < deadline:
        if router.poll(200):
            came += protocol.decode(router.recv_multipart()[1]).type == kind
    return came


def step_events(step_dir: str, model: ClusterModel | None = None) -> list[Any]:
    """The events `model` (a fresh one by default) makes of every sync object of a capture step,
    ingested at the step's capture time."""
    model = ClusterModel() if model is None else model
    fsid, objects = sync_objects(step_dir)
    for name, version, data in objects:
        model.ingest(fsid, name, version, data, captured_at(step_dir))
    return model.drain()


def fast_collector(source: Any, endpoint: str) -> Collector:
    """A collector polling, beating and resending far more often than in production, so tests are short."""
    return Collector(source, endpoint, poll_interval=0.05, heartbeat_interval=0.2, stats_interval=0.3,
                     result_resend_interval=0.2)


@contextlib.contextmanager
def collector_on_bus(source: Any, sink: RecordingSink | None = None
                     ) -> Iterator[tuple[RecordingSink, CollectorBus, Collector]]:
    """A bus on a free local port feeding `sink` (a fresh RecordingSink by default) and a fast
    collector of `source` connected to it; both stopped on leaving."""
    sink = RecordingSink() if sink is None else sink
    bus = CollectorBus(sink, "tcp://127.0.0.1:0")
    bus.start()
    collector = fast_collector(source, bus.bound_endpoint)
    collector.start()
    try:
        yield sink, bus, collector
    finally:
        collector.stop()
        bus.stop()


@contextlib.contextmanager
def tmpfs_mount(mount: Path, size: str) -> Iterator[Path]:
    """A tmpfs of `size` (e.g. "16m") mounted at the new folder `mount`; the test is skipped where
    mounting is not allowed. Unmounted (lazily) on leaving."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace').strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False, capture_output=True)
