"""A server busy reading a large map it was sent (receiving, decoding, ingesting it) answers late:
the collector counts what it sent as time the server may need, rather than take it for a dead
server and move to the next (which would then be sent every map in full again)."""

from __future__ import annotations

import time

import pytest
import zmq

from collector.agent import BusServer, Collector
from collector.failover import ServerRotation
from collector.simulator import SimulatedCluster


def test_a_server_still_reading_a_large_map_is_not_left() -> None:
    rotation = ServerRotation(["a", "b"], now=0.0, failover_after=3.0, read_bytes_per_s=1_000_000)
    rotation.answered(0.0)
    rotation.sent(20_000_000, 0.5)  # may read until 20.5 s
    decision = rotation.decide(10.0)
    assert not decision.switch and not decision.probe  # it cannot answer yet: nothing to find out
    assert not rotation.decide(23.4).switch  # silent for 2.9 s after it could have read the map
    assert rotation.decide(23.5).switch


def test_an_answer_while_it_reads_does_not_end_the_allowance() -> None:
    rotation = ServerRotation(["a", "b"], now=0.0, failover_after=3.0, read_bytes_per_s=1_000_000)
    rotation.answered(0.0)
    rotation.sent(10_000_000, 0.0)
    rotation.answered(1.0)  # the ack of a heartbeat sent before the map
    assert not rotation.decide(12.9).switch
    assert rotation.decide(13.0).switch


def test_sends_add_up_and_small_ones_barely_count() -> None:
    rotation = ServerRotation(["a", "b"], now=0.0, failover_after=3.0, read_bytes_per_s=1_000_000)
    rotation.answered(0.0)
    rotation.sent(1_000, 0.0)  # a heartbeat: a millisecond
    assert rotation.decide(3.01).switch
    rotation.advance(3.01)
    rotation.answered(3.1)
    rotation.sent(2_000_000, 3.1)  # could be read by 5.1 s, and answered
    rotation.sent(2_000_000, 3.2)  # behind the first: read by 7.1 s
    assert not rotation.decide(8.0).switch
    assert rotation.decide(8.2).switch  # the first not answered 3 s after it could have been read
    rotation.answered(8.0)  # the first one's answer, late: the second could have been read by 7.1 s
    assert rotation.silent_for(9.0) == pytest.approx(1.0)


def test_a_dead_server_sent_messages_all_along_is_left_after_failover_after() -> None:
    rotation = ServerRotation(["a", "b"], now=0.0, failover_after=3.0, read_bytes_per_s=1_000_000)
    rotation.answered(0.0)
    now = 0.0
    while not rotation.decide(now).switch:
        rotation.sent(20_000, now)  # heartbeats, stats, deltas: each read in 20 ms
        now = round(now + 0.05, 2)
    assert 3.0 < now <= 3.05  # the first tick 3 s after the first unanswered one could be read


def test_a_server_that_never_answered_is_left_whatever_it_was_sent() -> None:
    # a standby does not listen: its hello goes unanswered, the maps sent after it do not matter
    rotation = ServerRotation(["a", "b"], now=0.0, failover_after=3.0, first_answer_after=1.0)
    rotation.sent(100_000_000, 0.0)
    assert rotation.decide(1.0).switch
    rotation.advance(1.0)  # the next connection starts with nothing to read
    rotation.answered(1.5)
    assert not rotation.decide(4.0).switch
    assert rotation.decide(4.5).switch


def test_the_read_rate_must_be_positive() -> None:
    with pytest.raises(ValueError, match="read_bytes_per_s"):
        ServerRotation(["a"], now=0.0, read_bytes_per_s=0)


def test_the_agent_counts_every_frame_it_sends_against_the_current_server() -> None:
    context = zmq.Context.instance()
    router = context.socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 0)
    port = router.bind_to_random_port("tcp://127.0.0.1")
    endpoints = [f"tcp://127.0.0.1:{port}", "tcp://127.0.0.1:1"]
    collector = Collector(SimulatedCluster("hosts=1,osds=3,pools=1,pgs=8,seed=4"),
                          servers=[BusServer(e) for e in endpoints], failover_after=3.0)
    sock = collector._connect(collector.current_server)
    try:
        rotation = collector._rotation
        start = time.monotonic()
        rotation.reconnected(start)
        rotation.answered(start)
        collector._push(b"x" * 4_000_000)  # 2 s at the default rate
        assert rotation.read_bytes_per_s == 2_000_000
        assert not rotation.decide(start + 4.5).switch  # 3 s of silence alone would have left it
        assert rotation.decide(start + 6.0).switch
    finally:
        sock.close(0)
        router.close(0)
