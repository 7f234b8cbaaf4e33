"""A collector given several servers: the switching logic (pure, the clock passed in) and the agent
moving between real buses when the one it talks to falls silent."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
import zmq
from recording_sink import RecordingSink
from support import received_of_type, wait_for

from calamari import protocol
from calamari.adapters.bus import CollectorBus
from collector.agent import BusServer, Collector
from collector.failover import ServerRotation, StatsBacklog
from collector.simulator import SimulatedCluster

# -- the rotation -------------------------------------------------------------------------------


def test_the_rotation_moves_on_only_after_failover_after_seconds_of_silence() -> None:
    rotation = ServerRotation(["a", "b", "c"], now=100.0, failover_after=3.0)
    assert rotation.current == "a"
    rotation.answered(100.5)
    rotation.answered(102.0)
    assert not rotation.decide(104.9).switch  # silent for 2.9 s only
    assert rotation.decide(105.0).switch
    assert rotation.advance(105.0) == "b"
    rotation.answered(105.1)
    assert not rotation.decide(108.0).switch  # the new server's silence counts from its answer
    assert rotation.decide(108.1).switch
    assert rotation.advance(108.1) == "c"
    assert rotation.advance(111.0) == "a"  # round-robin
    assert rotation.switches == 3


def test_a_server_that_never_answered_is_left_sooner() -> None:
    # a standby does not listen on the bus: a round through the servers must not take
    # failover_after for each of them
    rotation = ServerRotation(["a", "b", "c"], now=0.0, failover_after=3.0, first_answer_after=0.5)
    assert not rotation.decide(0.4).switch
    assert rotation.decide(0.5).switch
    rotation.advance(0.5)
    assert not rotation.has_answered
    rotation.answered(0.6)  # b answers its hello: from now on it gets the whole failover_after
    assert not rotation.decide(3.5).switch
    assert rotation.decide(3.6).switch
    rotation.reconnected(10.0)  # a new connection to it (the loop restarted): a first answer is due again
    assert rotation.decide(10.5).switch


def test_a_single_server_is_never_left() -> None:
    rotation = ServerRotation(["only"], now=0.0, failover_after=1.0)
    decision = rotation.decide(1_000.0)
    assert not decision.switch
    assert not decision.probe  # nothing to move to: nothing to find out either


def test_a_quiet_server_is_probed_once_per_probe_interval() -> None:
    rotation = ServerRotation(["a", "b"], now=0.0, failover_after=3.0)  # probes after 1 s
    rotation.answered(0.0)
    assert not rotation.decide(0.9).probe
    assert rotation.decide(1.0).probe
    rotation.probed(1.0)
    assert not rotation.decide(1.5).probe
    assert rotation.decide(2.0).probe
    rotation.answered(2.1)
    assert not rotation.decide(3.0).probe  # it answered: quiet for 0.9 s only


def test_an_answer_older_than_the_last_one_does_not_move_the_silence_back() -> None:
    rotation = ServerRotation(["a", "b"], now=10.0, failover_after=2.0)
    rotation.answered(11.5)
    assert rotation.has_answered
    rotation.answered(11.0)
    assert rotation.silent_for(13.0) == pytest.approx(1.5)


@pytest.mark.parametrize("bad", [0.0, -1.0])
def test_the_rotation_refuses_a_failover_time_that_is_not_above_zero(bad: float) -> None:
    with pytest.raises(ValueError):
        ServerRotation(["a", "b"], now=0.0, failover_after=bad)
    with pytest.raises(ValueError):
        ServerRotation([], now=0.0)


# -- the stats backlog --------------------------------------------------------------------------


def _points(count: int, start: int = 0) -> list[list[Any]]:
    return [["m", float(start + i), 1.0] for i in range(count)]


def test_stats_are_kept_until_a_later_message_is_answered() -> None:
    backlog = StatsBacklog(max_points=100)
    backlog.sent(5, "h1", _points(3))
    backlog.sent(7, "h2", _points(2, 10))
    backlog.delivered_up_to(6)
    assert backlog.take() == [("h2", _points(2, 10))]
    assert backlog.points == 0 and len(backlog) == 0


def test_the_backlog_drops_the_oldest_points_beyond_its_bound() -> None:
    backlog = StatsBacklog(max_points=5)
    backlog.sent(1, "h", _points(3, 0))
    backlog.sent(2, "h", _points(3, 100))
    assert backlog.dropped_points == 3
    assert backlog.take() == [("h", _points(3, 100))]
    backlog.sent(3, "h", _points(8, 200))  # one batch beyond the bound: its newest points kept
    assert backlog.take() == [("h", _points(5, 203))]
    assert backlog.dropped_points == 6


# -- the agent between real buses --------------------------------------------------------------


class CountingStats(SimulatedCluster):
    """A simulated cluster that remembers every stats point it gave the collector; each report's
    points are stamped with the report's number (the simulator's whole seconds would make the
    reports of one second indistinguishable)."""

    def __init__(self, spec: str) -> None:
        super().__init__(spec)
        self.given: list[tuple[str, str, float]] = []
        self.given_log: list[int] = []  # the seq of each cluster log line given
        self.given_lock = threading.Lock()

    def stats(self) -> list[tuple[str, list[list[Any]]]]:
        with self.given_lock:
            stamp = float(self._reports_unlocked() + 1)
            reports = [(host, [[p[0], stamp, p[2]] for p in points]) for host, points in super().stats()]
            self.given.extend((host, p[0], p[1]) for host, points in reports for p in points)
        return reports

    def cluster_log(self) -> list[dict[str, Any]]:
        lines = super().cluster_log()
        with self.given_lock:
            self.given_log.extend(line["seq"] for line in lines)
        return lines

    def reports(self) -> int:
        with self.given_lock:
            return self._reports_unlocked()

    def _reports_unlocked(self) -> int:
        return len({ts for _, _, ts in self.given})


class StatsRecorder:
    def __init__(self) -> None:
        self.points: set[tuple[str, str, float]] = set()
        self.lock = threading.Lock()

    def __call__(self, fsid: str | None, host: str, points: list[list[Any]]) -> None:
        with self.lock:
            self.points.update((host, p[0], p[1]) for p in points)


def _start_bus(sink: RecordingSink, endpoint: str, stats: StatsRecorder | None = None) -> CollectorBus:
    """A bus on `endpoint`, retried while the port of a just stopped bus is not free yet."""
    for _ in range(50):
        bus = CollectorBus(sink, endpoint, stats_sink=stats)
        try:
            bus.start()
            return bus
        except zmq.ZMQError:
            time.sleep(0.1)
    pytest.fail(f"could not bind {endpoint}")


def _collector(source: Any, endpoints: list[str], failover_after: float = 0.8,
               first_answer_after: float | None = None) -> Collector:
    return Collector(source, servers=[BusServer(e) for e in endpoints], failover_after=failover_after,
                     first_answer_after=first_answer_after, poll_interval=0.05, heartbeat_interval=0.2,
                     stats_interval=0.1, result_resend_interval=0.2)


def test_the_collector_moves_to_the_next_server_and_back_with_maps_and_stats() -> None:
    cluster = CountingStats("hosts=2,osds=4,pools=2,pgs=32,seed=3,churn=0.05")
    sinks = [RecordingSink(), RecordingSink()]
    stats = [StatsRecorder(), StatsRecorder()]
    buses = [_start_bus(sinks[0], "tcp://127.0.0.1:0", stats[0]),
             _start_bus(sinks[1], "tcp://127.0.0.1:0", stats[1])]
    endpoints = [bus.bound_endpoint for bus in buses]
    collector = _collector(cluster, endpoints)
    collector.start()
    try:
        wait_for(lambda: set(sinks[0].sync_versions(cluster.fsid)) == protocol.SYNC_NAMES)
        wait_for(lambda: collector.counters["syncs_delta"] > 3)
        assert not sinks[1].sync_versions(cluster.fsid)  # one server at a time

        buses[0].stop()  # as a killed server: it answers no more
        wait_for(lambda: set(sinks[1].sync_versions(cluster.fsid)) == protocol.SYNC_NAMES, timeout=8)
        wait_for(lambda: sinks[1].version(cluster.fsid, "osd_map") == cluster.epoch)
        assert sinks[1].data(cluster.fsid, "osd_map") == cluster.osd_map()
        assert buses[1].totals()["resyncs"] == 0  # everything came in full: no delta it could not apply
        assert collector.current_server.endpoint == endpoints[1]
        # every point gathered, also while no server answered, reached one server or the other
        # (the newest ones may still be on their way)
        wait_for(lambda: _given_before_last_two(cluster) <= stats[0].points | stats[1].points, timeout=5,
                 what="every stats point at one of the servers")
        assert stats[1].points - stats[0].points
        # the cluster log too: the new server starts with the recent lines, those of the silence included
        assert _log_given_before_last(cluster)
        wait_for(lambda: _log_given_before_last(cluster) <= {line["seq"] for line in sinks[1].log_lines}, timeout=5,
                 what="the recent cluster log at the second server")

        sinks[0] = RecordingSink()  # the first server comes back (having lost what it held)
        buses[0] = _start_bus(sinks[0], endpoints[0], stats[0])
        buses[1].stop()
        wait_for(lambda: set(sinks[0].sync_versions(cluster.fsid)) == protocol.SYNC_NAMES, timeout=8)
        assert collector.current_server.endpoint == endpoints[0]
        assert collector.counters["failovers"] == 2
    finally:
        collector.stop()
        for bus in buses:
            bus.stop()


def _log_given_before_last(cluster: CountingStats) -> set[int]:
    with cluster.given_lock:
        return set(cluster.given_log[:-1])


def _given_before_last_two(cluster: CountingStats) -> set[tuple[str, str, float]]:
    with cluster.given_lock:
        given = list(cluster.given)
    newest = sorted({ts for _, _, ts in given})[-2:]
    return {point for point in given if point[2] not in newest}


def test_stats_gathered_while_the_only_server_restarts_reach_it_after_its_hello() -> None:
    cluster = CountingStats("hosts=2,osds=4,pools=1,pgs=16,seed=8")
    before, after = StatsRecorder(), StatsRecorder()
    bus = _start_bus(RecordingSink(), "tcp://127.0.0.1:0", before)
    endpoint = bus.bound_endpoint
    collector = _collector(cluster, [endpoint])
    collector.start()
    try:
        wait_for(lambda: len(before.points) > 0)
        bus.stop()
        reports = cluster.reports()
        wait_for(lambda: cluster.reports() > reports + 5, what="stats gathered while the server is down")
        bus = _start_bus(RecordingSink(), endpoint, after)  # it forgot the collector: asks for a hello
        wait_for(lambda: _given_before_last_two(cluster) <= before.points | after.points, timeout=5,
                 what="every stats point at the server, before or after its restart")
    finally:
        collector.stop()
        bus.stop()


def test_a_server_that_does_not_listen_is_passed_over_before_the_failover_time() -> None:
    from calamari.testing.live import free_port

    cluster = SimulatedCluster("hosts=1,osds=3,pools=1,pgs=8,seed=4")
    sink = RecordingSink()
    active = _start_bus(sink, "tcp://127.0.0.1:0")
    standby = f"tcp://127.0.0.1:{free_port()}"  # a standby does not listen on the bus
    # a server that answered would be left only after 10 minutes of silence
    collector = _collector(cluster, [standby, active.bound_endpoint], failover_after=600.0, first_answer_after=0.5)
    collector.start()
    try:
        wait_for(lambda: set(sink.sync_versions(cluster.fsid)) == protocol.SYNC_NAMES, timeout=20)
        assert collector.current_server.endpoint == active.bound_endpoint
    finally:
        collector.stop()
        active.stop()


class AcceptEveryKey:
    """A key gate that has accepted every collector key."""

    def status_of(self, public_key: str) -> str | None:
        return "accepted"

    def register(self, key_id: str, public_key: str, source: str | None = None) -> str:
        return "accepted"


def test_each_server_is_reached_with_its_own_key_and_one_whose_key_does_not_match_is_passed_over() -> None:
    from calamari.adapters.curve_keys import ClientCurveKeys, new_key_pair

    cluster = SimulatedCluster("hosts=1,osds=3,pools=1,pgs=8,seed=6")
    mine, first_keys, second_keys = new_key_pair(), new_key_pair(), new_key_pair()
    sinks = [RecordingSink(), RecordingSink()]
    buses = [CollectorBus(sink, "tcp://127.0.0.1:0", server_keys=keys, key_gate=AcceptEveryKey())
             for sink, keys in zip(sinks, (first_keys, second_keys), strict=True)]
    for bus in buses:
        bus.start()
    # the first server is given with the second's key: its handshake fails, it never answers
    servers = [BusServer(buses[0].bound_endpoint, ClientCurveKeys(mine, second_keys.public_key)),
               BusServer(buses[1].bound_endpoint, ClientCurveKeys(mine, second_keys.public_key))]
    collector = Collector(cluster, servers=servers, failover_after=600.0, first_answer_after=0.5,
                          poll_interval=0.05, heartbeat_interval=0.2)
    collector.start()
    try:
        wait_for(lambda: set(sinks[1].sync_versions(cluster.fsid)) == protocol.SYNC_NAMES, timeout=20)
        assert not sinks[0].sync_versions(cluster.fsid)
        assert collector.mechanism == zmq.CURVE
    finally:
        collector.stop()
        for bus in buses:
            bus.stop()


def test_a_result_the_first_server_never_acknowledged_is_reported_to_the_next_and_not_run_again() -> None:
    cluster = SimulatedCluster("hosts=1,osds=3,pools=1,pgs=8,seed=1")
    first = zmq.Context.instance().socket(zmq.ROUTER)  # a server that sends a command, then dies
    first.setsockopt(zmq.LINGER, 0)
    first_port = first.bind_to_random_port("tcp://127.0.0.1")
    sink = RecordingSink()
    second = _start_bus(sink, "tcp://127.0.0.1:0")
    collector = _collector(cluster, [f"tcp://127.0.0.1:{first_port}", second.bound_endpoint])
    collector.start()
    try:
        identity, _ = first.recv_multipart()  # hello
        first.send_multipart([identity, protocol.encode(
            "command", {"request_id": "req/0", "prefix": "osd pool create", "args": {"pool": "made", "pg_num": 8},
                        "target": "mon"}, fsid=cluster.fsid, host="server", seq=1)])
        assert received_of_type(first, "command_result", 1, timeout=5) == 1
        first.close()  # killed before it acknowledged the result

        wait_for(lambda: [r for r in sink.command_results if r[0] == "req/0"], timeout=8)
        assert sink.command_results[0][:2] == ("req/0", 0)
        # the new active server sends the running request's command again: answered, not rerun
        assert second.send_command(cluster.fsid, "req/0", "osd pool create", {"pool": "made", "pg_num": 8})
        wait_for(lambda: collector._results["req/0"][2], what="the repeated result acknowledged")
        assert collector.counters["commands"] == 1
        assert [p["pool_name"] for p in cluster.osd_map()["pools"]].count("made") == 1
    finally:
        collector.stop()
        second.stop()


def test_the_server_answers_hello_and_every_heartbeat_naming_it() -> None:
    sink = RecordingSink()
    bus = _start_bus(sink, "tcp://127.0.0.1:0")
    dealer = zmq.Context.instance().socket(zmq.DEALER)
    dealer.setsockopt(zmq.LINGER, 0)
    dealer.connect(bus.bound_endpoint)
    fsid = "8b5c1a4e-0000-4000-8000-000000000001"
    try:
        dealer.send(protocol.encode("hello", {"collector_version": "t", "fsid": fsid, "hostname": "h"},
                                    fsid=fsid, host="h", seq=1))
        dealer.send(protocol.encode("heartbeat", {"versions": {}}, fsid=fsid, host="h", seq=41))
        answers = []
        for _ in range(2):
            assert dealer.poll(3000)
            answers.append(protocol.decode(dealer.recv(), allowed_types=protocol.DOWNSTREAM_TYPES))
        assert [a.type for a in answers] == ["ack", "ack"]
        assert "heartbeat" not in answers[0].body
        assert answers[1].body["heartbeat"] == 41
    finally:
        dealer.close()
        bus.stop()


@pytest.mark.parametrize("bad", [-1, "7", True, 1.5])
def test_an_ack_naming_a_heartbeat_by_anything_but_a_sequence_number_is_refused(bad: Any) -> None:
    frame = protocol.encode("ack", {"sync": {}, "heartbeat": bad}, fsid=None, host="server", seq=1)
    with pytest.raises(protocol.ProtocolError):
        protocol.decode(frame, allowed_types=protocol.DOWNSTREAM_TYPES)


# -- the command line ---------------------------------------------------------------------------


def test_servers_are_given_repeated_or_as_a_comma_list_each_with_its_key(tmp_path) -> None:
    from calamari.adapters.curve_keys import new_key_pair
    from collector import main as collector_main

    first, second, third = (new_key_pair() for _ in range(3))
    args = collector_main.parse_args([
        "--simulate", "hosts=1", "--server", "tcp://10.0.0.1:5560,tcp://10.0.0.2:5560", "--server", "tcp://10.0.0.3:5560",
        "--server-key", first.public_key, "--server-key", second.public_key, "--server-key", third.public_key,
        "--key-dir", str(tmp_path), "--failover-after", "2.5"])
    endpoints = collector_main.server_endpoints(args)
    assert endpoints == ["tcp://10.0.0.1:5560", "tcp://10.0.0.2:5560", "tcp://10.0.0.3:5560"]
    curves = collector_main.build_curves(args, len(endpoints))
    assert [c.server_public_key for c in curves] == [first.public_key, second.public_key, third.public_key]
    assert len({c.client.public_key for c in curves}) == 1  # one key pair of this collector
    assert args.failover_after == 2.5

    one_for_all = collector_main.parse_args(["--simulate", "hosts=1", "--server", "tcp://a:1,tcp://b:2",
                                             "--server-key", first.public_key, "--key-dir", str(tmp_path)])
    assert [c.server_public_key for c in collector_main.build_curves(one_for_all, 2)] == [first.public_key] * 2
    default = collector_main.parse_args(["--simulate", "hosts=1", "--insecure"])
    assert collector_main.server_endpoints(default) == [protocol.DEFAULT_BUS_ENDPOINT]


@pytest.mark.parametrize(("words", "reason"), [
    (["--server", "tcp://a:1,tcp://b:2,tcp://c:3", "--server-key", "K1", "--server-key", "K2"], "2 --server-key for 3"),
    (["--server", "tcp://a:1,,tcp://b:2", "--insecure"], "empty endpoint"),
    (["--server", "tcp://a:1", "--server", "tcp://a:1", "--insecure"], "given twice"),
])
def test_a_server_list_that_does_not_fit_is_refused_with_the_reason(words: list[str], reason: str, capsys) -> None:
    from collector import main as collector_main

    assert collector_main.main(["--simulate", "hosts=1", *words]) == 2
    assert reason in capsys.readouterr().err


@pytest.mark.parametrize("bad", ["0", "-1", "soon", "inf"])
def test_a_failover_time_that_is_not_a_positive_number_is_refused(bad: str, capsys) -> None:
    from collector import main as collector_main

    with pytest.raises(SystemExit):
        collector_main.parse_args(["--simulate", "hosts=1", "--insecure", "--failover-after", bad])
    assert "--failover-after" in capsys.readouterr().err
