"""Collector authentication: real CurveZMQ handshakes on loopback between the bus and collectors,
the key decisions through the REST API and calamari-ctl, and what they do to the model."""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterator
from typing import Any

import pytest
import zmq
from api_support import FAST_HASHER, PASSWORD, FakeSender
from support import wait_for

from calamari import protocol
from calamari.adapters.bus import CollectorBus
from calamari.adapters.curve_keys import (
    SERVER_KEY_NAME,
    ClientCurveKeys,
    KeyFileError,
    load_or_create_key_pair,
    new_key_pair,
    read_public_key,
    secret_key_path,
    server_key_dir,
)
from calamari.bootstrap import build_app
from calamari.domain.collector_key import CollectorKey, CollectorKeyError
from calamari.service import ctl
from calamari.service.auth import AuthService
from calamari.service.collector_keys import CollectorKeyService
from calamari.service.control import ControlServer, key_handlers
from calamari.service.model import ModelService, ServiceConfig
from calamari.service.requests import RequestExecutor
from collector import main as collector_main
from collector.agent import Collector
from collector.simulator import SimulatedCluster

SPEC = "hosts=2,osds=8,pools=1,pgs=64,seed=3,churn=0.5"


class Server:
    """The server's side as calamari-server wires it: model, key service, CURVE bus, control
    channel, API."""

    def __init__(self, data_dir: str, **key_options: Any) -> None:
        self.data_dir = data_dir
        self.service = ModelService(ServiceConfig(data_dir=data_dir, snapshot_every_events=1_000_000))
        self.keys = CollectorKeyService(self.service, **key_options)
        self.server_keys = load_or_create_key_pair(server_key_dir(data_dir), SERVER_KEY_NAME)
        self.bus = CollectorBus(self.service, "tcp://127.0.0.1:0", server_keys=self.server_keys,
                                key_gate=self.keys, contact_check_interval_s=60)
        self.bus.start()
        self.control = ControlServer(server_key_dir(data_dir), key_handlers(self.keys))
        self.control.start()
        auth = AuthService(self.service, hasher=FAST_HASHER)
        self.app = build_app(self.service, auth=auth, executor=RequestExecutor(self.service, send=FakeSender()),
                             keys=self.keys)
        self.client = self.app.test_client()
        if auth.get("admin") is None:
            auth.add_user("admin", PASSWORD, "admin", "test")
            auth.add_user("oper", PASSWORD, "operator", "test")
        self.tokens: dict[str, str] = {}

    def call(self, method: str, path: str, user: str = "admin", **kwargs: Any) -> Any:
        if user not in self.tokens:
            r = self.client.post("/api/v2/auth/login", json={"username": user, "password": PASSWORD})
            self.tokens[user] = r.json["token"]
        return self.client.open(f"/api/v2/{path}", method=method,
                                headers={"Authorization": f"Bearer {self.tokens[user]}"}, **kwargs)

    def held_epoch(self, fsid: str) -> int | None:
        held = self.service.sync_versions(fsid).get("osd_map")
        return held if isinstance(held, int) else None

    def rejects(self, reason: str) -> int:
        return sum(c["reject_reasons"].get(reason, 0) for c in self.bus.counters().values())

    def close(self) -> None:
        self.control.stop()
        self.bus.stop()
        self.service.close()


@pytest.fixture
def server(tmp_path: Any) -> Iterator[Server]:
    srv = Server(str(tmp_path / "data"))
    yield srv
    srv.close()


def start_collector(server: Server, cluster: SimulatedCluster, keys: ClientCurveKeys | None,
                    source: str | None = None) -> Collector:
    """`source`: connect from this local address (e.g. 127.0.0.3), as a collector on another host would."""
    endpoint = server.bus.bound_endpoint
    if source is not None:
        endpoint = endpoint.replace("tcp://", f"tcp://{source}:0;")
    collector = Collector(cluster, endpoint, poll_interval=0.05, heartbeat_interval=0.2,
                          stats_interval=0.3, curve=keys)
    collector.start()
    return collector


def test_unknown_key_waits_pending_until_accepted_and_rejection_drops_it_again(server: Server) -> None:
    cluster = SimulatedCluster(SPEC)
    host, fsid = cluster.hostname, cluster.fsid
    client_keys = new_key_pair()
    collector = start_collector(server, cluster, ClientCurveKeys(client_keys, server.server_keys.public_key))
    try:
        # an unknown key connects: it becomes pending under its host name, its maps are dropped
        wait_for(lambda: server.keys.get(host) is not None, what="key registered")
        key = server.call("GET", f"key/{host}").json
        assert key["status"] == "pre" and key["public_key"] == client_keys.public_key
        assert key["fingerprint"] == client_keys.fingerprint
        wait_for(lambda: server.rejects("key_pending") > 10, what="pending messages dropped")
        assert fsid not in server.service.model.clusters
        assert server.held_epoch(fsid) is None
        assert not server.bus.send_command(fsid, "r-0", "osd pool create", {"pool": "p", "pg_num": 8})
        # traffic is CurveZMQ on both ends (encrypted), and ZAP gave the bus the client's key
        assert server.bus.mechanism == zmq.CURVE and collector.mechanism == zmq.CURVE
        assert {c["public_key"] for c in server.bus.counters().values()} == {client_keys.public_key}

        # only an admin decides
        assert server.call("PATCH", f"key/{host}", user="oper", json={"status": "accepted"}).status_code == 403
        assert server.call("PATCH", f"key/{host}", json={"status": "maybe"}).status_code == 400
        assert server.call("PATCH", f"key/{host}", json={"status": "accepted", "id": "x"}).status_code == 400
        assert server.call("PATCH", "key/nobody", json={"status": "accepted"}).status_code == 404
        assert server.held_epoch(fsid) is None

        r = server.call("PATCH", f"key/{host}", json={"status": "accepted"})
        assert r.status_code == 200 and r.json["status"] == "accepted" and r.json["decided_by"] == "admin"
        wait_for(lambda: server.held_epoch(fsid) is not None, what="maps applied after accept")
        assert fsid in server.service.model.clusters
        wait_for(lambda: server.bus.send_command(fsid, "r-1", "osd pool create", {"pool": "p", "pg_num": 8}),
                 what="commands reach an accepted collector")

        # rejected: everything is dropped again, commands do not go out
        r = server.call("PATCH", f"key/{host}", json={"status": "rejected"})
        assert r.status_code == 200 and r.json["status"] == "rejected"
        before = server.rejects("key_rejected")
        wait_for(lambda: server.rejects("key_rejected") > before + 10, what="rejected messages dropped")
        frozen = server.held_epoch(fsid)
        wait_for(lambda: cluster.epoch > (frozen or 0) + 2, what="the cluster moves on")
        time.sleep(0.2)
        assert server.held_epoch(fsid) == frozen
        assert not server.bus.send_command(fsid, "r-2", "osd pool create", {"pool": "q", "pg_num": 8})

        # accepted again through calamari-ctl (the running server applies it at once)
        assert ctl.main(["--data-dir", server.data_dir, "key", "accept", host, "--by", "ops-alice"]) == 0
        assert server.keys.get(host).status == "accepted"
        assert server.keys.get(host).decided_by == "ops-alice"
        wait_for(lambda: (server.held_epoch(fsid) or 0) > (frozen or 0), what="maps applied after ctl accept")
    finally:
        collector.stop()
    server.service.writer.flush(10)
    stored = [type(e).__name__ for _, e in server.service.store.read() if isinstance(e, CollectorKey.Event)]
    assert stored == ["CollectorKeyRegistered", "CollectorKeyAccepted", "CollectorKeyRejected",
                      "CollectorKeyAccepted"]


def test_clients_without_the_right_server_key_get_nothing_through(server: Server) -> None:
    ctx = zmq.Context.instance()
    endpoint = server.bus.bound_endpoint
    hello = protocol.encode(protocol.HELLO, {"collector_version": "0", "fsid": None, "hostname": "intruder"},
                            fsid=None, host="intruder", seq=1)
    plain = ctx.socket(zmq.DEALER)  # no CURVE at all
    wrong = ctx.socket(zmq.DEALER)  # CURVE, but towards another server's key
    intruder = new_key_pair()
    wrong.curve_secretkey = intruder.secret_key.encode()
    wrong.curve_publickey = intruder.public_key.encode()
    wrong.curve_serverkey = new_key_pair().public_key.encode()
    try:
        for sock in (plain, wrong):
            sock.setsockopt(zmq.LINGER, 0)
            sock.connect(endpoint)
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            for sock in (plain, wrong):
                try:
                    sock.send(hello, zmq.NOBLOCK)
                except zmq.Again:
                    pass
            assert not plain.poll(50) and not wrong.poll(50)
        assert server.bus.totals()["messages"] == 0
        assert server.keys.keys() == []
        assert server.call("GET", "key").json == []
    finally:
        plain.close(0)
        wrong.close(0)


def test_a_second_key_cannot_take_a_registered_host_name(server: Server) -> None:
    first, second = new_key_pair(), new_key_pair()
    assert server.keys.register("ceph-1", first.public_key) == "pre"
    with pytest.raises(CollectorKeyError):  # from the same address: one waiting key per host name
        server.keys.register("ceph-1", second.public_key)
    with pytest.raises(CollectorKeyError):
        server.keys.register("bad/name", second.public_key)
    assert server.keys.status_of(second.public_key) is None
    # once the admin deletes the old key, the host's new key registers as pending
    assert server.call("DELETE", "key/ceph-1", user="oper").status_code == 403
    assert server.call("DELETE", "key/ceph-1").status_code == 200
    assert server.call("GET", "key/ceph-1").status_code == 404
    assert server.keys.register("ceph-1", second.public_key) == "pre"
    assert server.call("GET", "key").json[0]["public_key"] == second.public_key


def test_decisions_survive_a_restart_and_ctl_works_with_the_server_stopped(tmp_path: Any, capsys: Any) -> None:
    data_dir = str(tmp_path / "data")
    srv = Server(data_dir)
    pair = new_key_pair()
    srv.keys.register("ceph-1", pair.public_key)
    assert srv.call("PATCH", "key/ceph-1", json={"status": "accepted"}).status_code == 200
    srv.close()
    assert not os.path.exists(os.path.join(server_key_dir(data_dir), "control.json"))

    assert ctl.main(["--data-dir", data_dir, "key", "reject", "ceph-1"]) == 0  # no server: the store
    assert ctl.main(["--data-dir", data_dir, "key", "accept", "ghost"]) == 1
    assert ctl.main(["--data-dir", data_dir, "key", "accept", "bad/id"]) == 2
    capsys.readouterr()
    assert ctl.main(["--data-dir", data_dir, "key", "list"]) == 0
    assert capsys.readouterr().out.split("\t")[:3] == ["ceph-1", "rejected", pair.fingerprint]

    service = ModelService(ServiceConfig(data_dir=data_dir))
    try:
        keys = CollectorKeyService(service)
        assert keys.status_of(pair.public_key) == "rejected"
        assert keys.get("ceph-1").decided_by.endswith("(calamari-ctl)")
    finally:
        service.close()
    assert ctl.main(["--data-dir", data_dir, "key", "server"]) == 0
    assert capsys.readouterr().out.strip() == load_or_create_key_pair(server_key_dir(data_dir), "server").public_key


def test_key_files(tmp_path: Any) -> None:
    directory = str(tmp_path / "keys")
    pair = load_or_create_key_pair(directory, "server")
    assert stat.S_IMODE(os.stat(secret_key_path(directory, "server")).st_mode) == 0o600
    assert load_or_create_key_pair(directory, "server") == pair  # made once, kept
    assert read_public_key(pair.public_key) == pair.public_key
    assert read_public_key(os.path.join(directory, "server.key")) == pair.public_key
    assert zmq.curve_public(pair.secret_key.encode()).decode() == pair.public_key
    for bad in ("not-a-key", str(tmp_path / "missing.key"), secret_key_path(directory, "absent")):
        with pytest.raises(KeyFileError):
            read_public_key(bad)


def test_collector_command_line_needs_the_server_key_unless_insecure(tmp_path: Any) -> None:
    parser = collector_main.build_parser()
    with pytest.raises(KeyFileError, match="--server-key"):
        collector_main.build_curve(parser.parse_args(["--simulate", "hosts=1"]))
    assert collector_main.build_curve(parser.parse_args(["--simulate", "hosts=1", "--insecure"])) is None
    server = new_key_pair()
    args = collector_main.parse_args(["--simulate", "hosts=1", "--server-key", server.public_key,
                                      "--key-dir", str(tmp_path / "collector")])
    keys = collector_main.build_curve(args)
    assert keys is not None and keys.server_public_key == server.public_key
    assert collector_main.build_curve(args).client == keys.client  # the same pair at the next start
    assert collector_main.main(["--simulate", "hosts=1", "--server-key", "garbage"]) == 2


def test_a_server_key_that_begins_with_a_dash_is_taken_as_the_key(tmp_path: Any) -> None:
    # Z85 keys draw from an alphabet with '-', so about one key in 85 begins with it.
    server = new_key_pair()
    while not server.public_key.startswith("-"):
        server = new_key_pair()
    args = collector_main.parse_args(["--simulate", "hosts=1", "--server-key", server.public_key,
                                      "--key-dir", str(tmp_path / "collector")])
    assert args.server_key == [server.public_key]
    keys = collector_main.build_curve(args)
    assert keys is not None and keys.server_public_key == server.public_key
