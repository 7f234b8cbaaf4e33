"""Anyone who reaches the bus port may say hello with a fresh key: what that can register is
bounded (pending keys per source address, per host name and address, in total; registrations per
minute per address and in total), a pending registration expires, and a pending squatter never
blocks the real collector: a host name may have several pending keys, the admin sees each
fingerprint and accepts one, which removes the others."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import zmq
from test_collector_keys import Server, start_collector, wait_for

from calamari import protocol
from calamari.adapters.bus import CollectorBus
from calamari.adapters.curve_keys import ClientCurveKeys, new_key_pair
from calamari.domain.collector_key import CollectorKey, CollectorKeyError, RegistrationLimits
from calamari.service import ctl
from calamari.service.collector_keys import CollectorKeyService
from calamari.service.model import ModelService, ServiceConfig
from collector.simulator import SimulatedCluster


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def key_events(service: ModelService) -> list[str]:
    service.writer.flush(10)
    return [type(e).__name__ for _, e in service.store.read() if isinstance(e, CollectorKey.Event)]


def say_hello(endpoint: str, server_public_key: str, hostname: str, source: str | None = None) -> zmq.Socket:
    """A DEALER with a fresh CURVE key pair that sends one hello (from local address `source`)."""
    pair = new_key_pair()
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.curve_secretkey = pair.secret_key.encode()
    sock.curve_publickey = pair.public_key.encode()
    sock.curve_serverkey = server_public_key.encode()
    sock.connect(endpoint if source is None else endpoint.replace("tcp://", f"tcp://{source}:0;"))
    sock.send(protocol.encode(protocol.HELLO, {"collector_version": "0", "fsid": None, "hostname": hostname},
                              fsid=None, host=hostname, seq=1))
    return sock


def hello_from_many(server: Server, count: int, sources: list[str | None], hostname: Any) -> None:
    sockets = []
    try:
        before = server.bus.totals()["messages"]
        for i in range(count):
            sockets.append(say_hello(server.bus.bound_endpoint, server.server_keys.public_key, hostname(i),
                                     sources[i % len(sources)]))
        wait_for(lambda: server.bus.totals()["messages"] >= before + count, 30, "every hello handled")
    finally:
        for sock in sockets:
            sock.close(0)


@pytest.fixture
def server(tmp_path: Any) -> Any:
    srv = Server(str(tmp_path / "data"))
    yield srv
    srv.close()


def test_300_key_pairs_from_one_address_register_at_most_the_per_address_limit(server: Server) -> None:
    limits = server.keys.limits
    hello_from_many(server, 300, [None], lambda i: f"squat-{i}")
    pending = server.keys.keys()
    assert 0 < len(pending) == limits.max_pending_per_source
    assert {k.registered_from for k in pending} == {"127.0.0.1"}
    assert key_events(server.service) == ["CollectorKeyRegistered"] * limits.max_pending_per_source
    assert server.rejects("key_refused") == 300 - limits.max_pending_per_source
    assert len(server.call("GET", "key").json) == limits.max_pending_per_source


def test_300_key_pairs_from_many_addresses_register_at_most_the_total_rate(server: Server) -> None:
    limits = server.keys.limits
    sources = [f"127.0.0.{i}" for i in range(2, 42)]  # 40 addresses, under the per-address limit each
    hello_from_many(server, 300, sources, lambda i: f"squat-{i}")
    assert len(server.keys.keys()) == limits.total_per_minute < 300
    assert len(key_events(server.service)) == limits.total_per_minute
    assert server.rejects("key_refused") == 300 - limits.total_per_minute


def test_a_pending_squatter_does_not_block_the_real_collector(server: Server, capsys: Any) -> None:
    cluster = SimulatedCluster("hosts=2,osds=8,pools=1,pgs=64,seed=3,churn=0.5")
    host, fsid = cluster.hostname, cluster.fsid
    # someone else says hello first under the real collector's host name, from another address
    squatter = say_hello(server.bus.bound_endpoint, server.server_keys.public_key, host, "127.0.0.2")
    real = new_key_pair()
    collector = None
    try:
        wait_for(lambda: server.keys.get(host) is not None, what="the squatter registered")
        squatter_fp = server.keys.get(host).fingerprint
        collector = start_collector(server, cluster, ClientCurveKeys(real, server.server_keys.public_key), "127.0.0.3")
        wait_for(lambda: len(server.keys.keys_of(host)) == 2, what="the real key registered beside it")

        rows = server.call("GET", "key").json
        assert {(r["id"], r["fingerprint"], r["status"], r["registered_from"]) for r in rows} == {
            (host, squatter_fp, "pre", "127.0.0.2"), (host, real.fingerprint, "pre", "127.0.0.3")}
        assert all(r["expires_at"] for r in rows)
        one = server.call("GET", f"key/{host}").json
        assert {k["fingerprint"] for k in one["keys"]} == {squatter_fp, real.fingerprint}
        assert ctl.main(["--data-dir", server.data_dir, "key", "list"]) == 0
        listed = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
        assert {(cols[0], cols[1], cols[2]) for cols in listed} == {(host, "pre", squatter_fp), (host, "pre", real.fingerprint)}

        # which one? the admin must say
        r = server.call("PATCH", f"key/{host}", json={"status": "accepted"})
        assert r.status_code == 400 and "fingerprint" in r.json["errors"], r.json
        assert server.held_epoch(fsid) is None
        r = server.call("PATCH", f"key/{host}", json={"status": "accepted", "fingerprint": real.fingerprint})
        assert r.status_code == 200 and r.json["fingerprint"] == real.fingerprint and r.json["status"] == "accepted"
        wait_for(lambda: server.held_epoch(fsid) is not None, 10, "the real collector's maps applied")
        # the squatter's key is gone, and its name is the real collector's now
        assert [(k.fingerprint, k.status) for k in server.keys.keys_of(host)] == [(real.fingerprint, "accepted")]
        refused = server.rejects("key_refused")
        squatter.send(protocol.encode(protocol.HELLO, {"collector_version": "0", "fsid": None, "hostname": host},
                                      fsid=None, host=host, seq=2))
        wait_for(lambda: server.rejects("key_refused") > refused, what="the squatter refused")
        assert [k.fingerprint for k in server.keys.keys_of(host)] == [real.fingerprint]
    finally:
        squatter.close(0)
        if collector is not None:
            collector.stop()
    assert key_events(server.service) == ["CollectorKeyRegistered", "CollectorKeyRegistered",
                                          "CollectorKeyAccepted", "CollectorKeyDeleted"]


def test_ctl_picks_a_key_by_fingerprint_with_the_server_running_or_stopped(tmp_path: Any) -> None:
    data_dir = str(tmp_path / "data")
    srv = Server(data_dir)
    first, second = new_key_pair(), new_key_pair()
    srv.keys.register("ceph-1", first.public_key, "10.0.0.1")
    srv.keys.register("ceph-1", second.public_key, "10.0.0.2")
    assert ctl.main(["--data-dir", data_dir, "key", "reject", "ceph-1"]) == 2  # which one?
    assert ctl.main(["--data-dir", data_dir, "key", "reject", "ceph-1", "--fingerprint", first.fingerprint]) == 0
    assert srv.keys.status_of(first.public_key) == "rejected" and srv.keys.status_of(second.public_key) == "pre"
    srv.close()
    # the server stopped: the same on the stored events
    assert ctl.main(["--data-dir", data_dir, "key", "accept", "ceph-1"]) == 2
    assert ctl.main(["--data-dir", data_dir, "key", "accept", "ceph-1", "--fingerprint", "SHA256:nope"]) == 1
    assert ctl.main(["--data-dir", data_dir, "key", "accept", "ceph-1", "--fingerprint", second.fingerprint]) == 0
    service = ModelService(ServiceConfig(data_dir=data_dir))
    try:
        keys = CollectorKeyService(service)
        assert keys.status_of(second.public_key) == "accepted"
        assert keys.status_of(first.public_key) == "rejected"  # a rejected key is not removed by accepting
    finally:
        service.close()


def test_accepted_keys_keep_their_host_name_and_delete_forgets_one_or_all(server: Server) -> None:
    first, second, third = new_key_pair(), new_key_pair(), new_key_pair()
    server.keys.register("ceph-1", first.public_key, "10.0.0.1")
    server.keys.register("ceph-1", second.public_key, "10.0.0.2")
    assert server.call("PATCH", "key/ceph-1", json={"status": "accepted", "fingerprint": first.fingerprint}
                       ).status_code == 200
    assert server.keys.status_of(second.public_key) is None  # removed by the acceptance
    with pytest.raises(CollectorKeyError, match="has an accepted key"):
        server.keys.register("ceph-1", third.public_key, "10.0.0.3")
    # rejected, the name is open again to pending keys
    assert server.call("PATCH", "key/ceph-1", json={"status": "rejected"}).status_code == 200
    assert server.keys.register("ceph-1", third.public_key, "10.0.0.3") == "pre"
    assert server.call("DELETE", f"key/ceph-1?fingerprint={third.fingerprint.replace('+', '%2B')}").status_code == 200
    assert [k.fingerprint for k in server.keys.keys_of("ceph-1")] == [first.fingerprint]
    assert server.keys.register("ceph-1", third.public_key, "10.0.0.3") == "pre"
    r = server.call("DELETE", "key/ceph-1")
    assert r.status_code == 200 and "2 collector keys" in r.json["detail"]
    assert server.keys.keys() == []
    assert server.call("DELETE", "key/ceph-1").status_code == 404


@pytest.fixture
def clocked(tmp_path: Any) -> Any:
    service = ModelService(ServiceConfig(data_dir=str(tmp_path / "data"), snapshot_every_events=1_000_000))
    clock = FakeClock()
    keys = CollectorKeyService(service, clock=clock,
                               limits=RegistrationLimits(pending_ttl_s=3600, max_pending=5, max_pending_per_source=3,
                                                         per_source_per_minute=4, total_per_minute=6))
    yield service, keys, clock
    service.close()


def test_a_pending_key_expires_and_stops_counting(clocked: Any) -> None:
    service, keys, clock = clocked
    pairs = [new_key_pair() for _ in range(4)]
    for i, pair in enumerate(pairs[:3]):
        assert keys.register(f"h{i}", pair.public_key, "10.0.0.1") == "pre"
    with pytest.raises(CollectorKeyError, match="3 keys from 10.0.0.1"):
        keys.register("h3", pairs[3].public_key, "10.0.0.1")
    registered = datetime.fromtimestamp(clock.now, UTC)
    assert keys.get("h0").expires_at(3600) == registered + timedelta(hours=1)

    clock.now += 3599
    assert keys.status_of(pairs[0].public_key) == "pre" and len(keys.keys()) == 3
    clock.now += 1  # the TTL has passed: not pending any more, not listed, not counted
    assert keys.status_of(pairs[0].public_key) is None
    assert keys.keys() == [] and keys.get("h0") is None
    with pytest.raises(KeyError):
        keys.decide("h0", "accepted", "admin")
    assert keys.register("h3", pairs[3].public_key, "10.0.0.1") == "pre"
    # the expired key's collector says hello again: pending again from now, on the same aggregate
    assert keys.register("h0", pairs[0].public_key, "10.0.0.1") == "pre"
    assert keys.get("h0").pending_since == datetime.fromtimestamp(clock.now, UTC)
    assert key_events(service) == ["CollectorKeyRegistered"] * 4 + ["CollectorKeyReregistered"]
    # an accepted key does not expire
    keys.decide("h3", "accepted", "admin")
    clock.now += 10 * 3600
    assert keys.status_of(pairs[3].public_key) == "accepted"


def test_expiry_is_the_same_after_a_restart(tmp_path: Any) -> None:
    data_dir = str(tmp_path / "data")
    clock = FakeClock()
    limits = RegistrationLimits(pending_ttl_s=3600)
    pair = new_key_pair()
    service = ModelService(ServiceConfig(data_dir=data_dir))
    CollectorKeyService(service, clock=clock, limits=limits).register("h", pair.public_key, "10.0.0.9")
    service.writer.flush(10)
    service.close()
    service = ModelService(ServiceConfig(data_dir=data_dir))
    try:
        keys = CollectorKeyService(service, clock=clock, limits=limits)
        assert keys.status_of(pair.public_key) == "pre" and keys.get("h").registered_from == "10.0.0.9"
        clock.now += 3600
        assert keys.status_of(pair.public_key) is None
    finally:
        service.close()


def test_pending_keys_are_limited_per_host_and_address_and_in_total(clocked: Any) -> None:
    _, keys, clock = clocked
    pairs = [new_key_pair() for _ in range(8)]
    assert keys.register("h", pairs[0].public_key, "10.0.0.1") == "pre"
    with pytest.raises(CollectorKeyError, match="already waits"):  # one per host name and address
        keys.register("h", pairs[1].public_key, "10.0.0.1")
    for i in range(1, 5):  # other addresses: each may have one waiting for "h"
        assert keys.register("h", pairs[i].public_key, f"10.0.1.{i}") == "pre"
    with pytest.raises(CollectorKeyError, match="5 keys already wait"):  # max_pending
        keys.register("other", pairs[5].public_key, "10.0.2.1")
    assert len(keys.keys_of("h")) == 5


def test_registrations_are_rate_limited_per_address_and_in_total(clocked: Any) -> None:
    _, keys, clock = clocked
    pairs = iter(new_key_pair() for _ in range(40))
    made = 0

    def register(host: str, source: str) -> None:
        nonlocal made
        keys.register(host, next(pairs).public_key, source)
        made += 1

    for i in range(3):
        register(f"a{i}", "10.0.0.1")
    keys.delete("a0", "admin")  # under the pending count again, but the minute's registrations stay
    register("a3", "10.0.0.1")
    keys.delete("a1", "admin")
    with pytest.raises(CollectorKeyError, match="4 keys registered from 10.0.0.1 in the last minute"):
        register("a4", "10.0.0.1")
    register("b0", "10.0.0.2")
    register("b1", "10.0.0.2")
    with pytest.raises(CollectorKeyError, match="6 keys registered in the last minute"):
        register("c0", "10.0.0.3")
    clock.now += 60  # the window slides: both rates allow again
    keys.delete("a2", "admin")
    register("a4", "10.0.0.1")
    register("c0", "10.0.0.3")
    assert made == 8


def test_the_bus_forgets_idle_sessions_that_never_said_a_hello_it_applied() -> None:
    class NoSink:
        def check_contact(self, now: datetime, timeout_s: float) -> None:
            return None

    bus = CollectorBus(NoSink(), "tcp://127.0.0.1:0", contact_timeout_s=30)  # type: ignore[arg-type]
    for i in range(100):
        bus.peers.session(f"idle-{i}".encode()).last_seen = time.time() - 31
    known = bus.peers.session(b"collector")
    known.hello, known.last_seen = True, time.time() - 3600
    fresh = bus.peers.session(b"fresh")
    fresh.last_seen = time.time()
    bus.peers.forget_idle()
    assert set(bus.peers.sessions) == {b"collector", b"fresh"}


def test_keys_stored_before_hosts_could_have_several_still_load_and_decide(tmp_path: Any) -> None:
    """Before, a host's one key had the aggregate id uuid5(collector_key/<host>) and its events no
    address: such a history loads, and the key is decided, deleted and registered again as before."""
    from uuid import uuid5

    from calamari.domain.ids import NAMESPACE
    from calamari.domain.model import ClusterModel

    data_dir = str(tmp_path / "data")
    pair, at = new_key_pair(), datetime(2026, 1, 1, tzinfo=UTC)
    old = ClusterModel()
    old.create(CollectorKey, CollectorKey.CollectorKeyRegistered, uuid5(NAMESPACE, "collector_key/ceph-1"), at,
               key_id="ceph-1", public_key=pair.public_key, fingerprint=pair.fingerprint)
    events = old.drain()
    del events[0].__dict__["source"]  # as the old code stored it
    service = ModelService(ServiceConfig(data_dir=data_dir))
    service.store.append(events)
    service.close()

    service = ModelService(ServiceConfig(data_dir=data_dir))
    try:
        keys = CollectorKeyService(service, clock=lambda: at.timestamp() + 60)
        key = keys.get("ceph-1")
        assert key is not None and key.registered_from == "" and keys.status_of(pair.public_key) == "pre"
        keys.decide("ceph-1", "accepted", "admin")
        keys.delete("ceph-1", "admin")
        assert keys.register("ceph-1", pair.public_key, "10.0.0.1") == "pre"  # on the same aggregate
        assert [k.id for k in keys.keys()] == [uuid5(NAMESPACE, "collector_key/ceph-1")]
        assert keys.get("ceph-1").registered_from == "10.0.0.1"
    finally:
        service.close()
