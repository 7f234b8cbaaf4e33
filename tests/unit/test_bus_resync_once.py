"""A whole sync object is asked of a collector once, not again at each heartbeat or delta while the
copy asked for is on its way: again only once a copy was handled (a newer version is then asked
for), after the resync time-out, or of a new collector session (a restarted collector)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from recording_sink import RecordingSink
from test_bus import FSID, FakeCollector

from calamari import protocol
from calamari.adapters.bus import CollectorBus


class FakeClock:
    """Monotonic seconds the test moves on by hand (read by the bus thread)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def bus(sink: RecordingSink, clock: FakeClock) -> Iterator[CollectorBus]:
    bus = CollectorBus(sink, "tcp://127.0.0.1:0", max_message_bytes=1024 * 1024, contact_check_interval_s=0.1)
    bus.replies.clock = clock
    bus.start()
    yield bus
    bus.stop()


@pytest.fixture
def collector(bus: CollectorBus) -> Iterator[FakeCollector]:
    fake = FakeCollector(bus.bound_endpoint)
    fake.hello()
    yield fake
    fake.close()


def osd_map(epoch: int) -> dict:
    return {"epoch": epoch, "osds": [{"osd": 0, "up": 1, "in": 1}]}


def heartbeat(collector: FakeCollector, versions: dict) -> list[list[str]]:
    """Send a heartbeat, then another as a marker, and return the names of every resync the
    server sent before it acknowledged the marker: the bus answers in order, so any resync the
    first heartbeat (or a message before it) caused has arrived by then."""
    collector.send("heartbeat", {"versions": versions})
    collector.send("heartbeat", {"versions": {}})
    marker = collector.seq
    asked = []
    while True:
        envelope = collector.receive(timeout=5.0)
        assert envelope is not None, "the server did not acknowledge the marker heartbeat"
        if envelope.type == protocol.RESYNC:
            asked.append(sorted(envelope.body["names"]))
        elif envelope.type == protocol.ACK and envelope.body.get("heartbeat") == marker:
            return asked


def test_repeated_heartbeats_while_a_copy_is_awaited_ask_once(bus, collector) -> None:
    assert heartbeat(collector, {"osd_map": 20, "health": "abc"}) == [["health", "osd_map"]]
    for _ in range(3):
        assert heartbeat(collector, {"osd_map": 20, "health": "abc"}) == []
    # a newer version reported meanwhile: the copy on its way is the collector's newest anyway
    assert heartbeat(collector, {"osd_map": 21, "health": "abd"}) == []
    counters = next(iter(bus.counters().values()))
    assert counters["resyncs"] == 1
    assert counters["resyncs_held_back"] == 8


def test_a_delta_without_its_base_does_not_ask_again_while_the_copy_is_awaited(bus, sink, collector) -> None:
    assert heartbeat(collector, {"osd_map": 20}) == [["osd_map"]]
    collector.send("sync_object", {"name": "osd_map", "version": 21, "delta_from": 20,
                                   "delta": {"set": {"epoch": 21}}})
    assert heartbeat(collector, {"osd_map": 21}) == []
    collector.send("sync_object", {"name": "osd_map", "version": 21, "data": osd_map(21)})
    # the copy is the base of the next delta
    collector.send("sync_object", {"name": "osd_map", "version": 22, "delta_from": 21,
                                   "delta": {"set": {"epoch": 22}}})
    assert heartbeat(collector, {"osd_map": 22}) == []
    assert sink.version(FSID, "osd_map") == 22


def test_after_the_copy_arrived_a_newer_version_is_asked_for(bus, sink, collector) -> None:
    assert heartbeat(collector, {"osd_map": 20, "health": "abc"}) == [["health", "osd_map"]]
    collector.send("sync_object", {"name": "osd_map", "version": 20, "data": osd_map(20)})
    assert heartbeat(collector, {"osd_map": 20, "health": "abc"}) == []
    assert sink.version(FSID, "osd_map") == 20
    # the health copy is still awaited; the OSD map's newer version is asked for
    assert heartbeat(collector, {"osd_map": 23, "health": "abd"}) == [["osd_map"]]


def test_a_copy_older_than_asked_for_does_not_end_the_wait(bus, sink, collector) -> None:
    assert heartbeat(collector, {"osd_map": 20}) == [["osd_map"]]
    collector.send("sync_object", {"name": "osd_map", "version": 19, "data": osd_map(19)})
    assert heartbeat(collector, {"osd_map": 20}) == []
    collector.send("sync_object", {"name": "osd_map", "version": 20, "data": osd_map(20)})
    assert heartbeat(collector, {"osd_map": 21}) == [["osd_map"]]


def test_a_refused_copy_ends_the_wait(bus, sink, collector) -> None:
    assert heartbeat(collector, {"osd_map": 20}) == [["osd_map"]]
    # invalid (no OSD list): rejected by the model, nothing stored; asked for again
    collector.send("sync_object", {"name": "osd_map", "version": 20, "data": {"epoch": 20}})
    assert heartbeat(collector, {"osd_map": 20}) == [["osd_map"]]
    assert sink.version(FSID, "osd_map") is None
    assert bus.totals()["rejects"] == 1


def test_after_the_time_out_the_copy_is_asked_for_again(bus, clock, collector) -> None:
    assert heartbeat(collector, {"osd_map": 20}) == [["osd_map"]]
    session = bus.peers.sessions[next(iter(bus.peers.sessions))]
    timeout = bus.replies.resync_timeout(session, "osd_map")
    clock.now += timeout - 1.0
    assert heartbeat(collector, {"osd_map": 20}) == []
    clock.now += 1.0
    assert heartbeat(collector, {"osd_map": 20}) == [["osd_map"]]
    assert heartbeat(collector, {"osd_map": 20}) == []  # and awaited afresh


def test_the_time_out_grows_with_what_the_last_copy_took(bus, clock, collector) -> None:
    base = bus.replies.resync_timeout_s
    assert heartbeat(collector, {"osd_map": 20}) == [["osd_map"]]
    took = base  # a copy that took as long as the base time-out
    clock.now += took
    collector.send("sync_object", {"name": "osd_map", "version": 20, "data": osd_map(20)})
    assert heartbeat(collector, {"osd_map": 21}) == [["osd_map"]]
    clock.now += base + 1.0  # past the base time-out, but within 3x what the last copy took
    assert heartbeat(collector, {"osd_map": 21}) == []
    clock.now += 2 * took
    assert heartbeat(collector, {"osd_map": 21}) == [["osd_map"]]


def test_a_restarted_collector_is_asked_at_once(bus, collector) -> None:
    assert heartbeat(collector, {"osd_map": 20}) == [["osd_map"]]
    assert heartbeat(collector, {"osd_map": 20}) == []
    collector.close()  # what it was sending is lost with it
    restarted = FakeCollector(bus.bound_endpoint)
    try:
        restarted.hello()
        assert heartbeat(restarted, {"osd_map": 20}) == [["osd_map"]]
        assert heartbeat(restarted, {"osd_map": 20}) == []
    finally:
        restarted.close()
