"""The ROUTER adapter with a recording sink: routing, deltas, resyncs, acks, commands, rejects."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import msgpack
import pytest
import support
import zmq
from recording_sink import RecordingSink

from calamari import protocol
from calamari.adapters.bus import CollectorBus

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "ceph-pacific-3osd"
FSID = "9141328e-ac6c-4887-9e9e-66cca43253be"


def osd_dump(step: str = "00-baseline") -> dict:
    path = FIXTURES / step / "osd_dump.json"
    if not path.exists():
        pytest.skip("Ceph 16.2 captures not available")
    return json.loads(path.read_text())


class FakeCollector:
    """A bare DEALER speaking the protocol by hand."""

    def __init__(self, endpoint: str, fsid: str | None = FSID, host: str = "node1") -> None:
        self.socket = zmq.Context.instance().socket(zmq.DEALER)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.connect(endpoint)
        self.fsid, self.host, self.seq = fsid, host, 0

    def send(self, msg_type: str, body: dict, fsid: object = "same", host: str | None = None) -> None:
        self.seq += 1
        self.socket.send(protocol.encode(msg_type, body, fsid=self.fsid if fsid == "same" else fsid,
                                         host=host or self.host, seq=self.seq))

    def hello(self) -> None:
        self.send("hello", {"collector_version": "test", "fsid": self.fsid, "hostname": self.host})

    def receive(self, timeout: float = 2.0) -> protocol.Envelope | None:
        if not self.socket.poll(int(timeout * 1000)):
            return None
        return protocol.decode(self.socket.recv())

    def receive_type(self, msg_type: str, timeout: float = 2.0) -> protocol.Envelope:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            envelope = self.receive(deadline - time.monotonic())
            if envelope is not None and envelope.type == msg_type:
                return envelope
        raise AssertionError(f"no {msg_type} received")

    def close(self) -> None:
        self.socket.close(0)


wait_for = partial(support.wait_for, timeout=3.0)


@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink()


@pytest.fixture
def stats_points() -> list:
    return []


@pytest.fixture
def bus(sink: RecordingSink, stats_points: list) -> Iterator[CollectorBus]:
    bus = CollectorBus(
        sink, "tcp://127.0.0.1:0", stats_sink=lambda fsid, host, points: stats_points.append((fsid, host, points)),
        max_message_bytes=1024 * 1024, contact_check_interval_s=0.1,
    )
    bus.start()
    yield bus
    bus.stop()


@pytest.fixture
def collector(bus: CollectorBus) -> Iterator[FakeCollector]:
    fake = FakeCollector(bus.bound_endpoint)
    yield fake
    fake.close()


def test_full_sync_object_reaches_the_sink_and_is_acked(bus, sink, collector) -> None:
    data = osd_dump()
    collector.hello()
    collector.send("sync_object", {"name": "osd_map", "version": 15, "data": data})
    ack = collector.receive_type("ack")
    while "sync" in ack.body and ack.body["sync"] != {"osd_map": 15}:
        ack = collector.receive_type("ack")
    assert sink.data(FSID, "osd_map") == data
    # an older or equal version is ignored by the sink; the bus acks what is held
    collector.send("sync_object", {"name": "osd_map", "version": 15, "data": data})
    assert collector.receive_type("ack").body == {"sync": {"osd_map": 15}}
    assert len([c for c in sink.calls if c[0] == "on_sync_object"]) == 1


def test_delta_is_rebuilt_into_the_full_map(bus, sink, collector) -> None:
    old, new = osd_dump("04-noout-set"), osd_dump("05-osd2-down")
    collector.hello()
    collector.send("sync_object", {"name": "osd_map", "version": old["epoch"], "data": old})
    wait_for(lambda: sink.version(FSID, "osd_map") == old["epoch"])
    delta = protocol.make_delta("osd_map", old, new)
    collector.send("sync_object", {"name": "osd_map", "version": new["epoch"], "delta_from": old["epoch"],
                                   "delta": delta})
    wait_for(lambda: sink.version(FSID, "osd_map") == new["epoch"])
    assert sink.data(FSID, "osd_map") == new


def test_delta_against_another_base_asks_for_a_resync(bus, sink, collector) -> None:
    old = osd_dump()
    collector.hello()
    collector.send("sync_object", {"name": "osd_map", "version": 15, "data": old})
    wait_for(lambda: sink.version(FSID, "osd_map") == 15)
    collector.send("sync_object", {"name": "osd_map", "version": 17, "delta_from": 16,
                                   "delta": {"set": {"epoch": 17}}})
    assert collector.receive_type("resync").body == {"names": ["osd_map"]}
    answer = {**old, "epoch": 17}
    collector.send("sync_object", {"name": "osd_map", "version": 17, "data": answer})
    wait_for(lambda: sink.version(FSID, "osd_map") == 17)
    # a delta that does not apply (unknown keyed list) also asks for the full object
    collector.send("sync_object", {"name": "osd_map", "version": 18, "delta_from": 17,
                                   "delta": {"lists": {"nope": {}}}})
    assert collector.receive_type("resync").body == {"names": ["osd_map"]}
    assert sink.version(FSID, "osd_map") == 17


def test_a_delta_to_the_version_held_already_is_only_acknowledged(bus, sink, collector) -> None:
    old, new = osd_dump("04-noout-set"), osd_dump("05-osd2-down")
    collector.hello()
    collector.send("sync_object", {"name": "osd_map", "version": old["epoch"], "data": old})
    wait_for(lambda: sink.version(FSID, "osd_map") == old["epoch"])
    # the server took the new map straight from ceph-mgr before the collector's copy came
    assert sink.on_sync_object(FSID, "osd_map", new["epoch"], new, datetime.now(UTC), "ceph-mgr x")
    calls = len(sink.calls)
    collector.send("sync_object", {"name": "osd_map", "version": new["epoch"], "delta_from": old["epoch"],
                                   "delta": protocol.make_delta("osd_map", old, new)})
    ack = collector.receive_type("ack")
    while ack.body.get("sync") != {"osd_map": new["epoch"]}:
        ack = collector.receive_type("ack")
    # (a resync would come before the ack of the collector's copy)
    collector.send("heartbeat", {"versions": {"osd_map": new["epoch"]}})
    assert collector.receive_type("ack").body.get("heartbeat") is not None
    assert collector.receive(0.2) is None  # no resync was asked for
    assert len(sink.calls) == calls and sink.data(FSID, "osd_map") == new


def test_the_answer_to_a_heartbeat_says_whether_the_server_takes_the_mgr_maps_itself(bus, sink, collector) -> None:
    def heartbeat_answer() -> dict:
        collector.send("heartbeat", {"versions": {}})
        ack = collector.receive_type("ack")
        while "heartbeat" not in ack.body:  # (the answer to hello)
            ack = collector.receive_type("ack")
        return ack.body

    collector.hello()
    assert "mgr_maps" not in heartbeat_answer()
    sink.takes_maps = True
    assert heartbeat_answer()["mgr_maps"] is True


def test_the_module_key_a_heartbeat_carries_is_kept_for_its_cluster_only_when_well_formed(bus, sink, collector) -> None:
    collector.hello()
    for bad in ("", "x" * 257, "with space", "é" * 10, 42):
        collector.send("heartbeat", {"versions": {}, "mgr_push_key": bad})
    wait_for(lambda: bus.totals()["rejects"] == 5)
    assert list(bus.counters().values())[0]["reject_reasons"] == {"bad_body": 5}
    assert sink.push_keys == {}
    collector.send("heartbeat", {"versions": {}, "mgr_push_key": "ab" * 32})
    wait_for(lambda: sink.push_keys == {FSID: b"ab" * 32})


def test_heartbeat_with_newer_versions_triggers_a_resync(bus, sink, collector) -> None:
    collector.hello()
    collector.send("heartbeat", {"versions": {"osd_map": 20, "health": "abc", "bogus": 1}})
    resync = collector.receive_type("resync")
    assert sorted(resync.body["names"]) == ["health", "osd_map"]
    wait_for(lambda: (FSID, "node1") in sink.heartbeats)
    wait_for(lambda: sink.contact_checks > 0)


def test_messages_before_hello_are_rejected_and_hello_is_requested(bus, sink, collector) -> None:
    collector.send("sync_object", {"name": "osd_map", "version": 15, "data": osd_dump()})
    assert collector.receive_type("hello_request").type == "hello_request"
    wait_for(lambda: bus.totals()["rejects"] == 1)
    assert sink.calls == []
    (counters,) = bus.counters().values()
    assert counters["reject_reasons"] == {"no_hello": 1}


def test_another_fsid_than_said_in_hello_is_rejected(bus, sink, collector) -> None:
    collector.hello()
    collector.send("sync_object", {"name": "osd_map", "version": 15, "data": osd_dump()}, fsid="other-fsid")
    collector.send("hello", {"collector_version": "x", "fsid": "other-fsid", "hostname": "n"}, fsid="other-fsid")
    wait_for(lambda: bus.totals()["rejects"] == 2)
    assert sink.calls == []
    (counters,) = bus.counters().values()
    assert counters["reject_reasons"] == {"fsid_mismatch": 2}


def test_invalid_map_is_rejected_and_counted(bus, sink, collector) -> None:
    collector.hello()
    collector.send("sync_object", {"name": "osd_map", "version": 3, "data": {"epoch": 3}})
    wait_for(lambda: bus.totals()["rejects"] == 1)
    assert list(bus.counters().values())[0]["reject_reasons"] == {"invalid_map": 1}


def test_facts_stats_and_log_are_routed(bus, sink, stats_points, collector) -> None:
    collector.hello()
    facts = {"hostname": "node1", "fqdn": "node1.example", "boot_time": 1.0, "kernel": "6.1",
             "cpu_count": 2, "mem_total": 10, "services": [], "frontend_addr": "a", "backend_addr": "b"}
    collector.send("server_facts", facts)
    collector.send("stats", {"points": [["servers.node1.loadavg.1", 10.0, 0.5]]})
    collector.send("cluster_log", {"lines": [{"name": "mon.a", "message": "hello"}]})
    wait_for(lambda: sink.log_lines and stats_points and sink.facts)
    assert sink.facts == [(FSID, facts)]
    assert stats_points == [(FSID, "node1", [["servers.node1.loadavg.1", 10.0, 0.5]])]


def test_commands_go_to_the_collector_of_the_cluster_and_results_are_acked_once(bus, sink, collector) -> None:
    assert not bus.send_command(FSID, "r1", "osd set", {"key": "noout"})  # no hello yet
    collector.hello()
    wait_for(lambda: FSID in bus.connected_fsids())
    assert bus.send_command(FSID, "r1", "osd set", {"key": "noout"}, target="mon")
    command = collector.receive_type("command")
    assert command.body == {"request_id": "r1", "prefix": "osd set", "args": {"key": "noout"}, "target": "mon"}
    result = {"request_id": "r1", "rc": 0, "out": "", "err": "noout is set"}
    collector.send("command_result", result)
    collector.send("command_result", result)  # a resend: acked again, delivered once
    assert collector.receive_type("ack").body == {"command_result": "r1"}
    assert collector.receive_type("ack").body == {"command_result": "r1"}
    assert sink.command_results == [("r1", 0, "", "noout is set")]
    with pytest.raises(ValueError):
        bus.send_command(FSID, "r2", "osd set", {}, target="osd")


def test_bad_frames_are_counted_and_the_bus_keeps_serving(bus, sink, collector) -> None:
    collector.hello()
    collector.socket.send(b"\x00\x01garbage")
    collector.socket.send(msgpack.packb({"v": 1, "type": "launch_missiles", "fsid": FSID, "host": "h",
                                         "seq": 1, "ts": 1.0, "body": {}}))
    collector.socket.send_multipart([b"a", b"b"])
    collector.send("command", {"request_id": "r", "prefix": "osd set", "args": {}, "target": "mon"})
    wait_for(lambda: bus.totals()["rejects"] == 4)
    reasons = list(bus.counters().values())[0]["reject_reasons"]
    assert reasons == {"undecodable": 1, "unknown_type": 1, "multipart": 1, "unexpected_type": 1}
    collector.send("sync_object", {"name": "osd_map", "version": 15, "data": osd_dump()})
    wait_for(lambda: sink.version(FSID, "osd_map") == 15)
    assert bus.totals()["messages"] == 6 and bus.totals()["bytes"] > 0


def test_huge_messages_are_dropped_and_the_bus_keeps_serving(bus, sink, collector) -> None:
    collector.hello()
    huge = osd_dump()
    huge = dict(huge, osds=[copy.deepcopy(huge["osds"][0]) for _ in range(2000)])  # > 1 MiB cap
    collector.send("sync_object", {"name": "osd_map", "version": 16, "data": huge})
    time.sleep(0.3)
    assert sink.version(FSID, "osd_map") is None
    other = FakeCollector(bus.bound_endpoint)  # ZeroMQ drops the oversized peer; others go on
    try:
        other.hello()
        other.send("sync_object", {"name": "osd_map", "version": 15, "data": osd_dump()})
        wait_for(lambda: sink.version(FSID, "osd_map") == 15)
    finally:
        other.close()


def test_a_failing_sink_does_not_stop_the_bus(bus, sink, collector) -> None:
    def explode(*args, **kwargs):
        raise RuntimeError("model bug")

    sink.on_server_facts = explode
    collector.hello()
    collector.send("server_facts", {"hostname": "n", "fqdn": "n", "services": []})
    wait_for(lambda: any(c["reject_reasons"].get("sink_error") == 1 for c in bus.counters().values()))
    collector.send("sync_object", {"name": "osd_map", "version": 15, "data": osd_dump()})
    wait_for(lambda: sink.version(FSID, "osd_map") == 15)


def test_an_unexpected_failure_in_one_message_does_not_stop_the_bus(sink) -> None:
    """Whatever goes wrong with one message (a bug nobody foresaw), the bus logs it and goes on
    serving the next one."""
    bus = CollectorBus(sink, "tcp://127.0.0.1:0", max_message_bytes=1024 * 1024, contact_check_interval_s=0.1)
    original = bus._handle_frames
    failures = {"left": 1}

    def fail_once(*args: object, **kwargs: object) -> None:
        if failures["left"]:
            failures["left"] -= 1
            raise RuntimeError("a bug in handling one message")
        original(*args, **kwargs)

    bus._handle_frames = fail_once  # type: ignore[method-assign]
    bus.start()
    fake = FakeCollector(bus.bound_endpoint)
    try:
        fake.hello()  # this one fails inside the bus
        fake.hello()
        fake.send("sync_object", {"name": "osd_map", "version": 15, "data": osd_dump()})
        wait_for(lambda: sink.version(FSID, "osd_map") == 15)
        assert failures["left"] == 0
    finally:
        fake.close()
        bus.stop()


def test_event_times_come_from_the_collector_unless_its_clock_is_off() -> None:
    from calamari.adapters.bus import CLOCK_TOLERANCE_S, event_time

    now = 1_800_000_000.0
    assert event_time(now - 1.5, now).timestamp() == now - 1.5
    assert event_time(now + 3600, now).timestamp() == now  # a collector clock ahead
    assert event_time(now - CLOCK_TOLERANCE_S - 60, now).timestamp() == now  # far behind
