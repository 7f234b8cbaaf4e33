"""The calamari_notify channel without Ceph: the module's server (its own code, run here on the
test's Python) and the collector's listener over real loopback sockets; what the listener does with
malformed lines, a foreign cluster, a silent or restarted module; and the CephSource reading an
announced map at once, its checks standing down while the module pushes."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from recording_sink import RecordingSink
from test_ceph_source_checks import Clock, ScriptedCeph

from calamari.adapters.bus import CollectorBus
from collector.agent import Collector
from collector.ceph_mgr.calamari_notify import wire
from collector.ceph_mgr.calamari_notify.server import MAX_CLIENT_BYTES, NotifyServer
from collector.ceph_polling import MGR_GET_PREFIX
from collector.ceph_source import CephSource
from collector.mgr_notify import (
    Greeting,
    LineSplitter,
    MalformedLine,
    MapChanged,
    MapComing,
    MapData,
    MgrNotifyListener,
    Tick,
    parse_endpoint,
    parse_line,
)

FSID = "11111111-2222-3333-4444-555555555555"
KEY = b"0123456789abcdef" * 4  # the module's signing key, as its store holds it


def wait_for(condition: Callable[[], object], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.005)


def readable(fd: int, timeout: float = 5.0) -> bool:
    return bool(select.select([fd], [], [], timeout)[0])


# -- the wire -------------------------------------------------------------------------------------
@pytest.mark.parametrize("line, expected", [
    (b"calamari_notify 1 abc-fsid x", Greeting("abc-fsid", "x")),
])
def test_a_greeting_is_the_first_line(line: bytes, expected: Greeting) -> None:
    assert parse_line(line, first=True) == expected


@pytest.mark.parametrize("kind", wire.MAP_TYPES)
def test_every_map_kind_is_read(kind: str) -> None:
    assert parse_line(wire.map_line(kind).rstrip(b"\n"), first=False) == MapChanged(kind)


def test_a_tick_is_read() -> None:
    assert parse_line(wire.TICK.rstrip(b"\n"), first=False) == Tick()


@pytest.mark.parametrize("kind", wire.MAP_DUMPS)
def test_a_map_said_to_be_coming_is_read(kind: str) -> None:
    assert parse_line(wire.coming_line(kind).rstrip(b"\n"), first=False) == MapComing(kind)


@pytest.mark.parametrize("line, first", [
    (b"HTTP/1.1 200 OK", True),  # something else listens on the port
    (b"calamari_notify 2 fsid x", True),  # another version of the channel
    (b"calamari_notify 1 fsid", True),
    (b"map osd_map", True),  # no greeting first
    (b"map clog", False),
    (b"map", False),
    (b"map osd_map extra", False),
    (b"tock", False),
    (b"coming mon_map", False),  # not a kind the module sends
    (b"coming", False),
    (b"", False),
    ("map osd_mäp".encode(), False),
    (b"calamari_notify 1 fsid x", False),  # a second greeting
])
def test_malformed_lines_are_refused_with_a_reason(line: bytes, first: bool) -> None:
    with pytest.raises(MalformedLine) as refused:
        parse_line(line, first=first)
    assert str(refused.value)


def test_a_map_sent_with_its_announcement_is_read_with_its_signature() -> None:
    payload = json.dumps({"fsid": FSID, "epoch": 12, "osds": [{"osd": 0, "name": "a b\nc"}]}).encode()
    line = wire.data_line(KEY, FSID, "osd_map", payload)
    assert line.count(b"\n") == 1 and line.endswith(b"\n")
    parsed = parse_line(line[:-1], first=False)
    assert parsed == MapData("osd_map", wire.data_mac(KEY, FSID, "osd_map", payload), payload)
    # the signature covers the cluster, the kind and the map
    assert parsed.mac != wire.data_mac(KEY, "another-fsid", "osd_map", payload)
    assert parsed.mac != wire.data_mac(KEY, FSID, "fs_map", payload)
    assert parsed.mac != wire.data_mac(KEY, FSID, "osd_map", payload.replace(b"12", b"13"))


@pytest.mark.parametrize("line", [
    b"data osd_map",
    b"data osd_map " + b"a" * 64,
    b"data mon_map " + b"a" * 64 + b" {}",  # not a kind sent with its map
    b"data osd_map " + b"g" * 64 + b" {}",
    b"data osd_map " + b"a" * 63 + b" {}",
])
def test_malformed_data_lines_are_refused(line: bytes) -> None:
    with pytest.raises(MalformedLine):
        parse_line(line, first=False)


def test_a_map_line_is_joined_across_reads_up_to_its_bound_and_skipped_beyond() -> None:
    splitter = LineSplitter()
    line = b"data osd_map " + b"a" * 64 + b" " + b"x" * (wire.MAX_DATA_LINE - 200)
    got: list[object] = []
    for start in range(0, len(line), 65536):
        got += splitter.feed(line[start:start + 65536])
    got += splitter.feed(b"\ntick\n")
    assert got == [line, b"tick"]
    too_long = b"data osd_map " + b"a" * 64 + b" " + b"x" * wire.MAX_DATA_LINE
    got = []
    for start in range(0, len(too_long), 65536):
        got += splitter.feed(too_long[start:start + 65536])
    got += splitter.feed(b"\ntick\n")
    assert len(got) == 2 and isinstance(got[0], MalformedLine) and got[1] == b"tick"
    # other lines keep their own bound
    got = splitter.feed(b"tick" + b"x" * wire.MAX_LINE + b"\ntick\n")
    assert isinstance(got[0], MalformedLine) and got[1:] == [b"tick"]


def test_lines_split_across_reads_are_joined() -> None:
    splitter = LineSplitter()
    assert splitter.feed(b"map os") == []
    assert splitter.feed(b"d_map\ntick\nmap he") == [b"map osd_map", b"tick"]
    assert splitter.feed(b"alth\n") == [b"map health"]


def test_an_overlong_line_is_skipped_to_its_end_and_reported_once() -> None:
    splitter = LineSplitter()
    out = splitter.feed(b"x" * (wire.MAX_LINE + 1))
    out += splitter.feed(b"y" * 10_000)
    out += splitter.feed(b"z\nmap fs_map\n")
    assert len(out) == 2 and isinstance(out[0], MalformedLine)
    assert out[1] == b"map fs_map"
    complete = LineSplitter().feed(b"q" * (wire.MAX_LINE + 1) + b"\ntick\n")
    assert isinstance(complete[0], MalformedLine) and complete[1:] == [b"tick"]


@pytest.mark.parametrize("text, expected", [
    ("127.0.0.1:7000", ("127.0.0.1", 7000)),
    ("mgr-host", ("mgr-host", wire.DEFAULT_PORT)),
    ("[::1]:7001", ("::1", 7001)),
    ("[::1]", ("::1", wire.DEFAULT_PORT)),
    ("::1", ("::1", wire.DEFAULT_PORT)),  # an IPv6 address without a port
])
def test_endpoints(text: str, expected: tuple[str, int]) -> None:
    assert parse_endpoint(text) == expected


@pytest.mark.parametrize("text", ["", ":7000", "host:", "host:0", "host:70000", "host:http", "[::1]x", "[]:7000"])
def test_bad_endpoints_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_endpoint(text)


# -- the module's server and the collector's listener ---------------------------------------------
class RunningServer:
    def __init__(self, port: int = 0, fsid: str = FSID, **options: object) -> None:
        self.server = NotifyServer(fsid, "x", logging.getLogger("test.calamari_notify"), **options)
        self.failure: BaseException | None = None
        self.thread = threading.Thread(target=self._serve, args=(port,), daemon=True)
        self.thread.start()
        wait_for(lambda: self.server.address is not None or self.failure is not None)
        if self.failure is not None:
            raise self.failure
        self.port = self.server.address[1]

    def _serve(self, port: int) -> None:
        try:
            self.server.serve("127.0.0.1", port)
        except BaseException as exc:  # reported to the test
            self.failure = exc

    def stop(self) -> None:
        self.server.stop()
        self.thread.join(5)
        assert not self.thread.is_alive()


@pytest.fixture
def module_server() -> Iterator[RunningServer]:
    running = RunningServer()
    yield running
    running.stop()


@pytest.fixture
def listeners() -> Iterator[list[MgrNotifyListener]]:
    made: list[MgrNotifyListener] = []
    yield made
    for listener in made:
        listener.close()


def listen(made: list[MgrNotifyListener], port: int, fsid: str | None = FSID, **options: object) -> MgrNotifyListener:
    listener = MgrNotifyListener([("127.0.0.1", port)], fsid, **options)
    made.append(listener)
    listener.start()
    return listener


def test_a_notification_wakes_the_listener_with_its_kind(module_server, listeners) -> None:
    listener = listen(listeners, module_server.port)
    wait_for(listener.live)
    assert listener.mgr_name == "x"
    module_server.server.notify("osd_map")
    assert readable(listener.fileno())
    wait_for(lambda: listener.counters["notifications"] == 1)
    assert listener.take() == {"osd_map"}
    assert not readable(listener.fileno(), 0.0)  # take() cleared the wake-up
    assert listener.take() == set()


def test_kinds_the_collector_does_not_read_are_not_sent(module_server, listeners) -> None:
    listener = listen(listeners, module_server.port)
    wait_for(listener.live)
    for kind in ("clog", "command", "pg_summary", "service_map"):
        module_server.server.notify(kind)
    module_server.server.notify("mon_map")
    wait_for(lambda: listener.counters["notifications"] >= 1)
    time.sleep(0.05)
    assert listener.take() == {"mon_map"}
    assert module_server.server.counters["notifications"] == 1


class Dumps:
    """The module's dump(kind): the signed line of a map the test sets, counting calls."""

    def __init__(self) -> None:
        self.maps: dict[str, object] = {"osd_map": {"fsid": FSID, "epoch": 12, "osds": []}}
        self.calls: list[str] = []
        self.fail = False

    def __call__(self, kind: str) -> bytes | None:
        self.calls.append(kind)
        if self.fail:
            raise RuntimeError("the mgr has no such map")
        document = self.maps.get(kind)
        return None if document is None else wire.data_line(KEY, FSID, kind, json.dumps(document).encode())


def test_a_map_is_sent_with_its_announcement_dumped_once_for_every_client(listeners) -> None:
    dumps = Dumps()
    running = RunningServer(dump=dumps)
    try:
        first, second = listen(listeners, running.port), listen(listeners, running.port)
        wait_for(lambda: first.live() and second.live())
        running.server.notify("osd_map")
        for listener in (first, second):
            wait_for(lambda listener=listener: listener.counters["notifications"] == 1)
            assert listener.take() == {"osd_map"}
            sent = listener.take_data("osd_map")
            assert sent is not None and json.loads(sent.payload) == dumps.maps["osd_map"]
            assert listener.take_data("osd_map") is None  # taken once
        assert dumps.calls == ["osd_map"]
        assert running.server.counters["maps_sent"] == 1
    finally:
        running.stop()


def test_a_map_is_said_to_be_coming_before_it_is_dumped(listeners) -> None:
    dumps = Dumps()
    said: list[str] = []
    running = RunningServer(dump=dumps)
    try:
        listener = listen(listeners, running.port, on_coming=said.append)
        wait_for(listener.live)
        running.server.notify("osd_map")
        wait_for(lambda: listener.counters["notifications"] == 1)
        assert said == ["osd_map"] and listener.take_data("osd_map") is not None
        running.server.notify("mon_map")  # not a kind sent with its map: nothing said ahead
        wait_for(lambda: listener.counters["notifications"] == 2)
        assert said == ["osd_map"] and listener.counters["malformed"] == 0
    finally:
        running.stop()


def test_the_coming_line_comes_first_and_only_for_maps_that_will_be_dumped() -> None:
    dumping = {"osd_map": True, "fs_map": False}
    running = RunningServer(dump=Dumps(), dumps=lambda kind: dumping[kind])
    try:
        with socket.create_connection(("127.0.0.1", running.port), timeout=5) as sock:
            splitter: LineSplitter = LineSplitter()
            lines: list[object] = []

            def read(count: int) -> list[object]:
                while len(lines) < count:
                    data = sock.recv(65536)
                    assert data, f"the module closed the channel after {lines}"
                    lines.extend(splitter.feed(data))
                return lines[:count]

            read(1)  # the greeting
            wait_for(lambda: running.server.clients() == 1)
            running.server.notify("osd_map")
            got = read(3)
            assert got[1] == b"coming osd_map" and isinstance(got[2], bytes) and got[2].startswith(b"data osd_map ")
            running.server.notify("fs_map")  # too large lately: announced only, and not said ahead
            assert read(4)[3] == b"map fs_map"
    finally:
        running.stop()


def test_a_map_the_module_cannot_send_is_announced_only(listeners) -> None:
    dumps = Dumps()
    running = RunningServer(dump=dumps)
    try:
        listener = listen(listeners, running.port)
        wait_for(listener.live)
        running.server.notify("osd_map")
        wait_for(lambda: listener.counters["notifications"] == 1)
        assert listener.take_data("osd_map") is not None
        dumps.maps.clear()  # too large: dump() says so with None
        running.server.notify("osd_map")
        wait_for(lambda: listener.counters["notifications"] == 2)
        assert listener.take() == {"osd_map"}
        assert listener.take_data("osd_map") is None  # and not the older map sent before
        dumps.fail = True
        running.server.notify("osd_map")
        running.server.notify("mon_map")  # not a kind sent with its map: dump() is not asked
        wait_for(lambda: listener.counters["notifications"] == 4)
        assert listener.take() == {"osd_map", "mon_map"} and listener.take_data("osd_map") is None
        assert running.server.counters["dump_errors"] == 1
        assert "mon_map" not in dumps.calls
    finally:
        running.stop()


def test_a_client_that_does_not_read_costs_one_line_per_kind(module_server) -> None:
    bound = len(wire.greeting(FSID, "x")) + sum(len(wire.map_line(kind)) for kind in wire.MAP_TYPES)
    with socket.create_connection(("127.0.0.1", module_server.port)) as client:
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        wait_for(lambda: module_server.server.clients() == 1)
        sent_at_start = module_server.server.counters["lines_sent"]
        for _ in range(50_000):
            module_server.server.notify("osd_map")
            module_server.server.notify("health")
        wait_for(lambda: module_server.server.counters["notifications"] == 100_000)
        time.sleep(0.1)
        for held in list(module_server.server._clients.values()):
            assert len(held.out) <= bound and held.pending <= set(wire.MAP_TYPES)
        assert module_server.server.counters["lines_sent"] - sent_at_start < 100_000
        client.settimeout(2.0)
        received = b""
        while not received.endswith(b"\n") or b"map health" not in received or b"map osd_map" not in received:
            received += client.recv(65536)
    assert received.startswith(b"calamari_notify 1 ")


def test_clients_beyond_the_limit_are_refused() -> None:
    running = RunningServer(max_clients=2)
    try:
        kept = [socket.create_connection(("127.0.0.1", running.port)) for _ in range(2)]
        wait_for(lambda: running.server.clients() == 2)
        with socket.create_connection(("127.0.0.1", running.port)) as extra:
            extra.settimeout(5)
            assert extra.recv(100) == b""  # closed at once, nothing said
        assert running.server.counters["refused"] == 1
        for sock in kept:
            sock.close()
    finally:
        running.stop()


def test_a_client_that_talks_is_cut_off(module_server) -> None:
    with socket.create_connection(("127.0.0.1", module_server.port)) as client:
        client.settimeout(5)
        wait_for(lambda: module_server.server.clients() == 1)
        try:
            client.sendall(b"x" * (MAX_CLIENT_BYTES + 1))
        except OSError:
            pass
        wait_for(lambda: module_server.server.clients() == 0)


def test_notify_never_waits_for_the_serving_thread() -> None:
    # the mgr's notification thread calls notify(): with the pipe full and nobody serving it must return
    server = NotifyServer(FSID, "x", logging.getLogger("test"))
    done = threading.Event()

    def flood() -> None:
        for _ in range(200_000):
            server.notify("osd_map")
        done.set()

    threading.Thread(target=flood, daemon=True).start()
    assert done.wait(30)
    server.close()
    reused_r, reused_w = os.pipe()  # most likely the numbers the server's pipe had
    try:
        server.notify("osd_map")  # a late notification after the server closed writes nothing anywhere
        os.set_blocking(reused_r, False)
        with pytest.raises(BlockingIOError):
            os.read(reused_r, 10)
    finally:
        os.close(reused_r)
        os.close(reused_w)


def test_malformed_lines_are_logged_and_dropped_and_later_lines_still_count(listeners, caplog) -> None:
    with socket.socket() as fake:
        fake.bind(("127.0.0.1", 0))
        fake.listen(1)
        listener = listen(listeners, fake.getsockname()[1])
        conn, _ = fake.accept()
        with conn, caplog.at_level(logging.WARNING, "calamari.collector.mgr_notify"):
            conn.sendall(wire.greeting(FSID, "y"))
            wait_for(listener.live)
            conn.sendall(b"map nonsense\nGARBAGE\n" + b"z" * 5000 + b"\nmap osd_map\n")
            wait_for(lambda: listener.counters["notifications"] == 1)
            assert listener.take() == {"osd_map"}
            assert listener.counters["malformed"] == 3
            assert listener.live()  # dropped lines do not end the channel
        warnings = [record.getMessage() for record in caplog.records if "malformed" in record.getMessage()]
        assert len(warnings) == 1 and "unknown map kind" in warnings[0]  # once a minute, not per line


def test_a_module_of_another_cluster_is_not_used(listeners, caplog) -> None:
    running = RunningServer(fsid="99999999-0000-0000-0000-000000000000")
    try:
        with caplog.at_level(logging.WARNING, "calamari.collector.mgr_notify"):
            listener = listen(listeners, running.port)
            wait_for(lambda: any("speaks for cluster" in r.getMessage() for r in caplog.records))
        running.server.notify("osd_map")
        time.sleep(0.1)
        assert not listener.live()
        assert listener.take() == set()
        assert listener.counters["connections"] == 0
    finally:
        running.stop()


def test_something_else_on_the_port_is_not_taken_for_the_module(listeners) -> None:
    with socket.socket() as fake:
        fake.bind(("127.0.0.1", 0))
        fake.listen(1)
        listener = listen(listeners, fake.getsockname()[1])
        conn, _ = fake.accept()
        with conn:
            conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")
            wait_for(lambda: listener.counters["malformed"] == 1)
            assert not listener.live()


def test_a_silent_channel_counts_as_down(listeners) -> None:
    with socket.socket() as fake:
        fake.bind(("127.0.0.1", 0))
        fake.listen(1)
        listener = listen(listeners, fake.getsockname()[1], silence_s=0.4)
        conn, _ = fake.accept()
        with conn:
            conn.sendall(wire.greeting(FSID, "hung"))
            wait_for(listener.live)
            wait_for(lambda: not listener.live(), timeout=3)  # the mgr is stopped, its socket open
            wait_for(lambda: listener.counters["disconnects"] == 1, timeout=3)  # and the connection dropped


def test_the_listener_reconnects_after_the_module_restarts(listeners) -> None:
    first = RunningServer()
    port = first.port
    listener = listen(listeners, port)
    wait_for(listener.live)
    first.stop()
    wait_for(lambda: not listener.live())
    second = RunningServer(port=port)  # the mgr back (or its successor) on the same port
    try:
        wait_for(listener.live, timeout=10)
        assert listener.counters["connections"] == 2
        second.server.notify("fs_map")
        wait_for(lambda: listener.take() == {"fs_map"})
    finally:
        second.stop()


# -- the source -----------------------------------------------------------------------------------
class MgrCeph(ScriptedCeph):
    """A cluster whose active mgr runs calamari_notify: it hands over the maps it holds
    (`calamari_notify get`); `mgr_answer`, when set, is what it answers instead."""

    def __init__(self) -> None:
        super().__init__()
        self.mgr_answer: object = None
        self.targets: list[tuple[str, str]] = []

    def command(self, prefix: str, args: dict[str, Any], target: str, inbuf: bytes = b"") -> tuple[int, bytes, str]:
        self.targets.append((prefix, target))
        if prefix == "config-key get" and prefix not in self.fail:
            assert args == {"key": wire.PUSH_KEY_CONFIG_KEY}
            self.sent.append(prefix)
            return 0, KEY, ""  # config-key answers with the value itself, not JSON
        return super().command(prefix, args, target, inbuf)

    def answer(self, prefix: str, args: dict[str, Any]) -> Any:
        if prefix != MGR_GET_PREFIX:
            return super().answer(prefix, args)
        if self.mgr_answer is not None:
            return self.mgr_answer
        if args["kind"] == "osd_map":
            return {**super().answer("osd dump", {}), "fsid": self.fsid()}
        return super().answer("fs dump", {})


def notified_source(ceph: ScriptedCeph, clock: Clock, port: int) -> CephSource:
    """A source reading `ceph`, told of new maps by the module listening on `port`."""
    return CephSource("/nonexistent/ceph.conf", backends=[ceph], clock=clock, log_dir="/nonexistent",
                      cpu_clock=lambda: ceph.cpu, mgr_notify=[f"127.0.0.1:{port}"])


@contextlib.contextmanager
def told_source(port: int, ceph: MgrCeph | None = None,
                clock: Clock | None = None) -> Iterator[tuple[MgrCeph, CephSource]]:
    """A cluster whose mgr runs the module (`ceph`, else a new MgrCeph) and a source told of new
    maps by the module listening on `port`; the source closed after."""
    ceph = ceph or MgrCeph()
    source = notified_source(ceph, clock or Clock(), port)
    try:
        yield ceph, source
    finally:
        source.close()


@contextlib.contextmanager
def sending_module(dump: Any, ceph: MgrCeph | None = None,
                   clock: Clock | None = None) -> Iterator[tuple[RunningServer, MgrCeph, CephSource]]:
    """A module that sends the maps `dump` gives, a cluster whose mgr runs it and a source it
    tells of new maps, the channel up; all closed after."""
    running = RunningServer(dump=dump)
    try:
        with told_source(running.port, ceph, clock) as (ceph, source):
            wait_for(source.pushed)
            yield running, ceph, source
    finally:
        running.stop()


def test_an_announced_map_is_read_at_once_and_checks_stand_down_meanwhile(module_server) -> None:
    clock = Clock()
    with told_source(module_server.port, clock=clock) as (ceph, source):
        source.poll()
        wait_for(source.pushed)
        ceph.sent.clear()
        clock.tick()
        assert source.check() == {}
        assert ceph.sent == []  # the module tells of new maps: no status read 20 times a second
        ceph.osd_epoch += 1
        module_server.server.notify("osd_map")
        assert readable(source.notify_fileno())
        wait_for(lambda: source.notify_counters["notifications"] == 1)
        changed = source.notified()
        assert set(changed) == {"osd_map"} and changed["osd_map"][0] == ceph.osd_epoch
        # straight to the map, no status first, and from the mgr, which holds it already
        assert ceph.sent == [MGR_GET_PREFIX] and ceph.targets[-1] == (MGR_GET_PREFIX, "mgr")
        assert source.maps_from_mgr == 1
        assert source.fetched_by["osd_map"] == "notified"
        assert source.reads["notified"] == 1
        ceph.sent.clear()
        clock.tick(1.0)
        assert "osd_map" not in source.poll()  # its version was noted: not read again
        assert "osd dump" not in ceph.sent


def test_an_announced_file_system_map_is_taken_from_the_mgr_too(module_server) -> None:
    with told_source(module_server.port) as (ceph, source):
        source.poll()
        wait_for(source.pushed)
        ceph.fs_epoch += 1
        ceph.targets.clear()
        module_server.server.notify("fs_map")
        wait_for(lambda: source.notify_counters["notifications"] == 1)
        changed = source.notified()
        assert set(changed) == {"fs_map"} and changed["fs_map"][0] == ceph.fs_epoch
        assert ceph.targets == [(MGR_GET_PREFIX, "mgr")]


def test_the_monitor_map_is_read_from_the_monitors(module_server) -> None:
    """The mgr's dump of the monitor map lacks the quorum that `mon dump` carries."""
    with told_source(module_server.port) as (ceph, source):
        source.poll()
        wait_for(source.pushed)
        ceph.mon_epoch += 1
        ceph.targets.clear()
        module_server.server.notify("mon_map")
        wait_for(lambda: source.notify_counters["notifications"] == 1)
        assert set(source.notified()) == {"mon_map"}
        assert ceph.targets == [("mon dump", "mon")]


@pytest.mark.parametrize("answer, reason", [
    (["not", "a", "map"], "not a JSON object"),
    ({"fsid": FSID, "osds": []}, "no epoch"),
    ({"fsid": FSID, "epoch": "12"}, "no epoch"),
    ({"fsid": FSID, "epoch": True}, "no epoch"),
    ({"fsid": FSID, "epoch": -1}, "no epoch"),
    ({"fsid": "99999999-2222-3333-4444-555555555555", "epoch": 12, "osds": []}, "of cluster"),
    ({"epoch": 12, "osds": []}, "of cluster"),
    (RuntimeError("mgr gone"), "mgr gone"),
    (-22, "rc=-22"),
])
def test_a_map_the_mgr_cannot_hand_over_is_read_from_the_monitors_until_the_channel_reconnects(
        listeners, caplog, answer: object, reason: str) -> None:
    running = RunningServer()
    ceph = MgrCeph()
    if isinstance(answer, (Exception, int)):
        ceph.fail[MGR_GET_PREFIX] = answer
    else:
        ceph.mgr_answer = answer
    source = notified_source(ceph, Clock(), running.port)
    try:
        source.poll()
        wait_for(source.pushed)
        ceph.targets.clear()
        ceph.osd_epoch += 1
        running.server.notify("osd_map")
        wait_for(lambda: source.notify_counters["notifications"] == 1)
        with caplog.at_level(logging.WARNING, logger="calamari.collector.ceph"):
            changed = source.notified()
        assert changed["osd_map"][0] == ceph.osd_epoch
        assert changed["osd_map"][1].get("fsid") != "99999999-2222-3333-4444-555555555555"
        assert ceph.targets == [(MGR_GET_PREFIX, "mgr"), ("osd dump", "mon")]
        assert reason in caplog.text and "did not hand over the osd_map" in caplog.text
        assert source.maps_from_mgr == 0
        # not asked again on this connection: a broken mgr must not cost a round trip per change
        ceph.targets.clear()
        ceph.osd_epoch += 1
        running.server.notify("osd_map")
        wait_for(lambda: source.notify_counters["notifications"] == 2)
        assert source.notified()["osd_map"][0] == ceph.osd_epoch
        assert ceph.targets == [("osd dump", "mon")]
        # a new connection (the module restarted, upgraded, or another mgr took over): asked again
        port = running.port
        running.stop()
        wait_for(lambda: not source.pushed())
        ceph.fail.clear()
        ceph.mgr_answer = None
        running = RunningServer(port)
        wait_for(source.pushed, timeout=10)
        ceph.targets.clear()
        ceph.osd_epoch += 1
        running.server.notify("osd_map")
        wait_for(lambda: source.notify_counters["notifications"] == 3)
        assert source.notified()["osd_map"][0] == ceph.osd_epoch
        assert ceph.targets == [(MGR_GET_PREFIX, "mgr")]
    finally:
        source.close()
        running.stop()


def test_a_map_sent_with_its_announcement_is_taken_without_reading_ceph(listeners) -> None:
    dumps = Dumps()
    with sending_module(dumps) as (running, ceph, source):
        source.poll()  # the channel is up: the module's key is read now, once per connection
        assert ceph.targets.count(("config-key get", "mon")) == 1
        assert source.mgr_push_key() == KEY  # what the agent hands to the server
        for round_no in (1, 2):
            ceph.targets.clear()
            ceph.osd_epoch += 1
            dumps.maps["osd_map"] = {**ceph.answer("osd dump", {}), "fsid": FSID, "flags_set": ["noout"]}
            running.server.notify("osd_map")
            wait_for(lambda round_no=round_no: source.notify_counters["notifications"] == round_no)
            changed = source.notified()
            assert changed["osd_map"][0] == ceph.osd_epoch and changed["osd_map"][1]["flags_set"] == ["noout"]
            assert ceph.targets == []  # neither the key again nor the map itself
        assert source.maps_pushed == 2 and source.fetched_by["osd_map"] == "notified"


def test_the_modules_key_is_read_once_the_channel_is_up_not_with_the_first_map(listeners) -> None:
    dumps = Dumps()
    clock = Clock()
    with sending_module(dumps, clock=clock) as (running, ceph, source):
        source.poll()
        assert ("config-key get", "mon") in ceph.targets
        ceph.targets.clear()
        clock.tick(1.0)
        source.poll()
        assert ("config-key get", "mon") not in ceph.targets  # once per connection
        ceph.targets.clear()
        ceph.osd_epoch += 1
        dumps.maps["osd_map"] = {**ceph.answer("osd dump", {}), "fsid": FSID}
        running.server.notify("osd_map")
        wait_for(lambda: source.notify_counters["notifications"] == 1)
        assert source.notified()["osd_map"][0] == ceph.osd_epoch
        assert ceph.targets == []  # the change costs no read at all
        assert source.maps_pushed == 1


def test_a_key_that_cannot_be_read_ahead_is_tried_again_with_the_first_map(listeners) -> None:
    dumps = Dumps()
    clock = Clock()
    with sending_module(dumps, clock=clock) as (running, ceph, source):
        ceph.fail["config-key get"] = -2
        source.poll()
        clock.tick(1.0)
        source.poll()
        assert [t for t in ceph.targets if t[0] == "config-key get"] == [("config-key get", "mon")]
        ceph.fail.clear()
        ceph.targets.clear()
        ceph.osd_epoch += 1
        dumps.maps["osd_map"] = {**ceph.answer("osd dump", {}), "fsid": FSID}
        running.server.notify("osd_map")
        wait_for(lambda: source.notify_counters["notifications"] == 1)
        assert source.notified()["osd_map"][0] == ceph.osd_epoch
        assert ceph.targets == [("config-key get", "mon")] and source.maps_pushed == 1


@pytest.mark.parametrize("sent, reason", [
    (lambda kind: wire.data_line(b"another key", FSID, kind, json.dumps({"fsid": FSID, "epoch": 99}).encode()),
     "signature"),
    (lambda kind: wire.data_line(KEY, FSID, kind, b"{not json"), "JSONDecodeError"),
    (lambda kind: wire.data_line(KEY, FSID, kind, json.dumps({"fsid": "other", "epoch": 99}).encode()),
     "of cluster"),
    (lambda kind: wire.data_line(KEY, FSID, kind, json.dumps([1, 2]).encode()), "not a JSON object"),
])
def test_a_sent_map_that_is_not_the_modules_is_not_used_and_the_mgr_is_asked(listeners, caplog, sent,
                                                                             reason: str) -> None:
    with sending_module(sent) as (running, ceph, source):
        source.poll()  # the channel is up: the module's key is read now, once per connection
        assert ceph.targets.count(("config-key get", "mon")) == 1
        for round_no in (1, 2):
            ceph.targets.clear()
            ceph.osd_epoch += 1
            running.server.notify("osd_map")
            wait_for(lambda round_no=round_no: source.notify_counters["notifications"] == round_no)
            with caplog.at_level(logging.WARNING, logger="calamari.collector.ceph"):
                changed = source.notified()
            assert changed["osd_map"][0] == ceph.osd_epoch and changed["osd_map"][0] != 99
            if round_no == 1:
                assert reason in caplog.text and "was not used" in caplog.text
                assert source.mgr_push_key() is None  # not handed to the server while in doubt
            # the key not read again; a sent map not looked at again on this connection
            assert ceph.targets == [(MGR_GET_PREFIX, "mgr")]
        assert source.maps_pushed == 0


def test_without_the_modules_key_a_sent_map_is_not_used(listeners, caplog) -> None:
    ceph = MgrCeph()
    ceph.fail["config-key get"] = -2  # ENOENT, or a key without the caps to read it
    with sending_module(Dumps(), ceph) as (running, ceph, source):
        source.poll()  # tries the key once the channel is up, and fails
        ceph.osd_epoch += 1
        ceph.targets.clear()
        running.server.notify("osd_map")
        wait_for(lambda: source.notify_counters["notifications"] == 1)
        with caplog.at_level(logging.WARNING, logger="calamari.collector.ceph"):
            assert source.notified()["osd_map"][0] == ceph.osd_epoch
        # tried again with the first map it sends, then the mgr asked
        assert ceph.targets == [("config-key get", "mon"), (MGR_GET_PREFIX, "mgr")]
        assert "config-key get: rc=-2" in caplog.text
        assert source.mgr_push_key() is None


def test_the_collector_hands_the_modules_key_to_the_server_in_its_heartbeats(listeners) -> None:
    sink = RecordingSink(require_osd_map_fields=False)
    bus = CollectorBus(sink, "tcp://127.0.0.1:0")
    bus.start()
    try:
        with sending_module(Dumps()) as (running, ceph, source):
            collector = Collector(source, bus.bound_endpoint, poll_interval=0.05, heartbeat_interval=0.1,
                                  stats_interval=60.0)
            collector.start()
            try:
                wait_for(lambda: sink.push_keys == {FSID: KEY})
            finally:
                collector.stop()
    finally:
        bus.stop()


def test_the_module_sends_each_line_without_waiting_for_the_last_to_be_acknowledged(module_server,
                                                                                    listeners) -> None:
    listener = listen(listeners, module_server.port)
    wait_for(listener.live)
    clients = list(module_server.server._clients.values())
    assert len(clients) == 1
    assert clients[0].sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


def test_checks_come_back_when_the_module_goes(listeners) -> None:
    running = RunningServer()
    ceph = ScriptedCeph()
    clock = Clock()
    source = notified_source(ceph, clock, running.port)
    try:
        source.poll()
        wait_for(source.pushed)
        running.stop()
        wait_for(lambda: not source.pushed())
        ceph.osd_epoch += 1
        ceph.sent.clear()
        clock.tick(1.0)
        assert set(source.check()) == {"osd_map"}
        assert ceph.sent[0] == "status"
        assert source.fetched_by["osd_map"] == "check"
    finally:
        source.close()


def test_without_a_module_a_source_has_nothing_to_wait_on() -> None:
    source = CephSource("/nonexistent/ceph.conf", backends=[ScriptedCeph()], clock=Clock(), log_dir="/nonexistent")
    assert source.notify_fileno() is None
    assert source.notified() == {}
    assert not source.pushed()


# -- the command line -----------------------------------------------------------------------------
def test_the_collector_takes_mgr_notify_endpoints_or_none() -> None:
    from collector.main import mgr_notify_endpoints, parse_args

    default = parse_args(["--ceph-conf", "/etc/ceph/ceph.conf"]).mgr_notify
    assert mgr_notify_endpoints(default) == [f"127.0.0.1:{wire.DEFAULT_PORT}"]
    assert mgr_notify_endpoints("none") == []
    assert mgr_notify_endpoints("mgr-a:7000, mgr-b") == ["mgr-a:7000", "mgr-b"]
    with pytest.raises(ValueError):
        mgr_notify_endpoints("mgr-a:notaport")


def test_a_bad_mgr_notify_endpoint_stops_the_collector_with_a_reason(capsys) -> None:
    from collector.main import main

    assert main(["--ceph-conf", "/nonexistent.conf", "--insecure", "--mgr-notify", "host:99999"]) == 2
    assert "99999" in capsys.readouterr().err


def test_install_links_the_module_and_uninstall_removes_only_that(tmp_path, capsys) -> None:
    from collector.ceph_mgr import MODULE_DIR
    from collector.main import main

    assert main(["mgr-module", "install", "--path", str(tmp_path)]) == 0
    link = tmp_path / "calamari_notify"
    assert link.is_symlink() and link.resolve() == MODULE_DIR
    assert (link / "module.py").is_file() and (link / "__init__.py").is_file()
    assert "ceph mgr module enable calamari_notify" in capsys.readouterr().out
    assert main(["mgr-module", "install", "--path", str(tmp_path)]) == 0  # again: nothing to do
    assert main(["mgr-module", "uninstall", "--path", str(tmp_path)]) == 0
    assert not link.exists() and not link.is_symlink()
    link.mkdir()  # somebody else's folder of that name
    assert main(["mgr-module", "install", "--path", str(tmp_path)]) == 2
    assert main(["mgr-module", "uninstall", "--path", str(tmp_path)]) == 2
    assert link.is_dir()
    assert main(["mgr-module", "install", "--path", str(tmp_path / "missing")]) == 2


# -- the agent ------------------------------------------------------------------------------------
def test_the_agent_wakes_on_an_announcement_and_sends_the_map(module_server) -> None:
    from recording_sink import RecordingSink

    from calamari.adapters.bus import CollectorBus
    from collector.agent import Collector

    ceph = ScriptedCeph()
    source = CephSource("/nonexistent/ceph.conf", backends=[ceph], log_dir="/nonexistent",
                        mgr_notify=[f"127.0.0.1:{module_server.port}"])
    sink = RecordingSink(require_osd_map_fields=False)
    bus = CollectorBus(sink, "tcp://127.0.0.1:0")
    bus.start()
    # a poll a minute: what reaches the sink after the first one came through the announcement
    collector = Collector(source, bus.bound_endpoint, poll_interval=60.0, heartbeat_interval=0.2, stats_interval=60.0)
    collector.start()
    try:
        wait_for(lambda: sink.sync_object(source.fsid, "osd_map"))
        wait_for(source.pushed)
        ceph.noout = True
        ceph.osd_epoch += 1
        module_server.server.notify("osd_map")
        wait_for(lambda: sink.version(source.fsid, "osd_map") == ceph.osd_epoch)
        assert sink.data(source.fsid, "osd_map")["flags_set"] == ["noout"]
        assert collector.counters["notified"] == 1
        assert source.fetched_by["osd_map"] == "notified"
    finally:
        collector.stop()
        bus.stop()
        source.close()


@pytest.mark.parametrize("server_takes", [False, True], ids=["server waits for the collector", "server takes them"])
def test_the_collectors_copy_of_a_sent_map_waits_while_the_server_takes_them_itself(listeners, server_takes) -> None:
    sink = RecordingSink(require_osd_map_fields=False)
    sink.takes_maps = server_takes
    bus = CollectorBus(sink, "tcp://127.0.0.1:0")
    bus.start()
    dumps = Dumps()
    try:
        with sending_module(dumps) as (running, ceph, source):
            collector = Collector(source, bus.bound_endpoint, poll_interval=60.0, heartbeat_interval=0.1,
                                  stats_interval=60.0)
            collector.pushed_map_delay_s = 2.0
            collector.start()
            try:
                wait_for(lambda: sink.version(FSID, "osd_map") == ceph.osd_epoch)  # the first poll's
                wait_for(lambda: collector.server_takes_mgr_maps is server_takes)  # a heartbeat's answer says
                ceph.osd_epoch += 1
                dumps.maps["osd_map"] = {**ceph.answer("osd dump", {}), "fsid": FSID}
                running.server.notify("osd_map")
                wait_for(lambda: source.notify_counters["notifications"] == 1)
                if server_takes:
                    wakeups = collector.counters["wakeups"]
                    wait_for(lambda: collector.counters["wakeups"] >= wakeups + 2)
                    assert collector.counters["notified"] == 0  # not read yet: the server has it
                    assert sink.version(FSID, "osd_map") == ceph.osd_epoch - 1
                wait_for(lambda: sink.version(FSID, "osd_map") == ceph.osd_epoch, timeout=10)
                assert collector.counters["notified"] == 1 and source.maps_pushed == 1
            finally:
                collector.stop()
    finally:
        bus.stop()
