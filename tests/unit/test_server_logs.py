"""A server's Ceph log files: the collector's log directory (what it refuses to read, tails from
the end under a byte cap), the host commands on both ends of the bus, and the two API routes
against a simulated cluster behind a real bus, with their 404/502/503/504 answers."""

from __future__ import annotations

import errno
import io
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import support
from api_support import FAST_HASHER, PASSWORD, Harness
from hypothesis import given, settings
from hypothesis import strategies as st

from calamari import protocol
from calamari.adapters.bus import CollectorBus
from calamari.api import servers as servers_api
from calamari.bootstrap import build_app
from calamari.protocol.host_logs import LOG_LIST, LOG_TAIL, MAX_TAIL_BYTES, host_result_problem
from calamari.service.auth import AuthService
from calamari.service.model import ModelService, ServiceConfig
from collector import logs as collector_logs
from collector.agent import Collector
from collector.logs import LogDirectory, LogNotFound, default_log_dir, run_host_command, tail_bytes
from collector.simulator import SimulatedCluster


def expected_tail(data: bytes, lines: int) -> bytes:
    """The last `lines` lines of `data`, each with its newline (the last may lack one)."""
    parts = data.split(b"\n")
    whole = [part + b"\n" for part in parts[:-1]] + ([parts[-1]] if parts[-1] else [])
    return b"".join(whole[-lines:])


# ------------------------------------------------------------------------------ tailing

@settings(max_examples=300, deadline=None)
@given(data=st.lists(st.sampled_from([b"a", b"bc", b"\n", b"\n\n", b"\xff", "é".encode()]), max_size=40)
       .map(b"".join), lines=st.integers(1, 12), block=st.integers(1, 9))
def test_tail_is_the_last_lines_whatever_the_block_size(data: bytes, lines: int, block: int) -> None:
    original = collector_logs.TAIL_BLOCK_BYTES
    collector_logs.TAIL_BLOCK_BYTES = block  # several blocks per line and lines across blocks
    try:
        tail, truncated = tail_bytes(io.BytesIO(data), len(data), lines, max_bytes=1 << 20)
    finally:
        collector_logs.TAIL_BLOCK_BYTES = original
    assert (tail, truncated) == (expected_tail(data, lines), False)


class CountingReader(io.BytesIO):
    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.bytes_read = 0

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        self.bytes_read += len(chunk)
        return chunk


def test_the_byte_cap_bounds_what_is_read_and_cuts_at_a_line_start() -> None:
    data = b"".join(b"line %07d of a long log\n" % number for number in range(200_000))  # ~5 MB
    reader = CountingReader(data)
    tail, truncated = tail_bytes(reader, len(data), 10_000, max_bytes=64 * 1024)
    assert truncated
    assert reader.bytes_read <= 64 * 1024 + 1  # (+1: the look at the last byte)
    assert 0 < len(tail) <= 64 * 1024 and data.endswith(tail)
    assert tail.startswith(b"line ") and data[len(data) - len(tail) - 1 : len(data) - len(tail)] == b"\n"
    # under the cap nothing is cut
    assert tail_bytes(CountingReader(data), len(data), 3, 64 * 1024) == (expected_tail(data, 3), False)


def test_a_huge_sparse_file_is_tailed_from_its_end(tmp_path: Path) -> None:
    huge = tmp_path / "ceph-osd.0.log"
    with open(huge, "wb") as file:
        file.truncate(8 * 1024**3)  # 8 GiB of holes: reading from the start would take minutes
        file.seek(0, os.SEEK_END)
        file.write(b"".join(b"osd.0 line %d\n" % number for number in range(50_000)))
    text, truncated = LogDirectory(str(tmp_path)).tail("ceph-osd.0.log", 5, MAX_TAIL_BYTES)
    assert (text, truncated) == ("".join(f"osd.0 line {n}\n" for n in range(49_995, 50_000)), False)
    text, truncated = LogDirectory(str(tmp_path)).tail("ceph-osd.0.log", 10_000, 1000)
    assert truncated and len(text.encode()) <= 1000 and text.endswith("osd.0 line 49999\n")
    assert text.startswith("osd.0 line ")


# ------------------------------------------------------------------------------ what may be read

@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    """A log directory with the traps a hostile or careless host could set."""
    root = tmp_path / "log"
    outside = tmp_path / "secret"
    root.mkdir()
    outside.mkdir()
    (outside / "shadow").write_text("root:secret\n")
    (root / "ceph.log").write_text("one\ntwo\nthree\n")
    (root / "ceph-osd.0.log").write_text("osd line\n")
    (root / "ceph-osd.0.log.1.gz").write_bytes(b"\x1f\x8b compressed")
    (root / "cephadm").mkdir()
    (root / "cephadm" / "ceph-mon.a.log").write_text("mon line\n")
    (root / "same.log").symlink_to(root / "ceph.log")  # stays inside: allowed
    (root / "escape.log").symlink_to(outside / "shadow")
    (root / "escape-dir").symlink_to(outside, target_is_directory=True)
    (root / "relative-escape.log").symlink_to(Path("..") / "secret" / "shadow")
    os.mkfifo(root / "pipe.log")
    return root


def test_only_regular_files_inside_the_directory_are_listed(log_dir: Path) -> None:
    assert LogDirectory(str(log_dir)).list() == ["ceph-osd.0.log", "ceph.log", "cephadm/ceph-mon.a.log", "same.log"]


@pytest.mark.parametrize("path", [
    "../secret/shadow",  # climbing out
    "cephadm/../../secret/shadow",
    "./ceph.log",
    "cephadm//ceph-mon.a.log",
    str(Path("/etc/passwd")),  # absolute
    "escape.log",  # a symlink pointing out
    "relative-escape.log",
    "escape-dir/shadow",  # through a symlinked directory pointing out
    "cephadm",  # a directory
    "pipe.log",  # a FIFO: must be refused, not block
    "ceph-osd.0.log.1.gz",  # compressed
    "missing.log",
    "ceph.log\x00.txt",
    "a\\b.log",
    "",
])
def test_paths_that_are_not_listed_log_files_are_refused(log_dir: Path, path: str) -> None:
    directory = LogDirectory(str(log_dir))
    with pytest.raises(LogNotFound):
        directory.tail(path, 10, MAX_TAIL_BYTES)
    rc, out, err = run_host_command(lambda host: directory, LOG_TAIL,
                                    {"host": "h", "path": path, "lines": 10, "max_bytes": 1000})
    assert rc in (-errno.ENOENT, -errno.EINVAL) and out == "" and err


def test_listed_files_and_symlinks_inside_are_tailed(log_dir: Path) -> None:
    directory = LogDirectory(str(log_dir))
    assert directory.tail("ceph.log", 2, MAX_TAIL_BYTES) == ("two\nthree\n", False)
    assert directory.tail("same.log", 1, MAX_TAIL_BYTES) == ("three\n", False)
    assert directory.tail("cephadm/ceph-mon.a.log", 40, MAX_TAIL_BYTES) == ("mon line\n", False)


def test_a_log_directory_given_as_a_symlink_is_followed_once(log_dir: Path, tmp_path: Path) -> None:
    link = tmp_path / "var-log-ceph"
    link.symlink_to(log_dir, target_is_directory=True)
    assert LogDirectory(str(link)).tail("ceph.log", 1, 100) == ("three\n", False)
    assert LogDirectory(str(tmp_path / "no-such-dir")).list() == []


def test_host_commands_answer_like_ceph_commands(log_dir: Path) -> None:
    directory = LogDirectory(str(log_dir))

    def lookup(host: str) -> LogDirectory | None:
        return directory if host == "node1" else None

    assert run_host_command(lookup, LOG_LIST, {"host": "node1"}) == (0, directory.list(), "")
    assert run_host_command(lookup, LOG_TAIL, {"host": "node1", "path": "ceph.log", "lines": 1,
                                               "max_bytes": 100}) == (0, {"lines": "three\n", "truncated": False}, "")
    assert run_host_command(lookup, LOG_LIST, {"host": "node2"})[0] == -errno.EHOSTUNREACH
    for bad in ({"host": "node1", "path": "ceph.log", "lines": 0, "max_bytes": 100},
                {"host": "node1", "path": "ceph.log", "lines": 10, "max_bytes": MAX_TAIL_BYTES + 1},
                {"host": "node1", "path": "ceph.log", "lines": True, "max_bytes": 100},
                {"host": "node1", "path": "ceph.log"}, {"path": "ceph.log", "lines": 1, "max_bytes": 1}):
        assert run_host_command(lookup, LOG_TAIL, bad)[0] == -errno.EINVAL, bad
    assert run_host_command(lookup, "log rm", {"host": "node1"})[0] == -errno.EINVAL


# ------------------------------------------------------------------------------ where the logs are

@pytest.mark.parametrize(("text", "expected"), [
    ("[global]\nlog file = /tmp/cluster/log/$name.log\n", "/tmp/cluster/log"),
    ("[global]\n\tlog_file = /srv/ceph-logs/$cluster-$name.log  # ours\n", "/srv/ceph-logs"),
    ("[global]\nfsid = x\n[osd]\nlog file = /data/osd-logs/$name.log\n", "/data/osd-logs"),
    ("[global]\nlog file = /var/log/ceph/$fsid/$name.log\n", "/var/log/ceph"),  # a metavariable dir
    ("[global]\nlog file = relative.log\n", "/var/log/ceph"),
    ("[global]\nfsid = x\n", "/var/log/ceph"),
    ("[client]\nlog file = /elsewhere/$name.log\n", "/var/log/ceph"),  # a client's log is not the daemons'
])
def test_the_log_directory_comes_from_the_conf(tmp_path: Path, text: str, expected: str) -> None:
    conf = tmp_path / "ceph.conf"
    conf.write_text(text)
    assert default_log_dir(str(conf)) == expected


def test_without_a_readable_conf_the_logs_are_in_var_log_ceph(tmp_path: Path) -> None:
    assert default_log_dir(str(tmp_path / "missing.conf")) == "/var/log/ceph"
    assert default_log_dir(None) == "/var/log/ceph"


# ------------------------------------------------------------------------------ the protocol

def test_host_commands_are_validated_by_the_protocol() -> None:
    def command(args: dict[str, Any], prefix: str = LOG_TAIL) -> bytes:
        return protocol.encode(protocol.COMMAND, {"request_id": "host/1", "prefix": prefix, "args": args,
                                                  "target": "host"}, fsid=None, host="server", seq=1)

    good = {"host": "node1", "path": "ceph.log", "lines": 40, "max_bytes": 1000}
    assert protocol.decode(command(good)).body["args"] == good
    for bad_args, prefix in (({**good, "path": "../x"}, LOG_TAIL), ({**good, "path": "/etc/passwd"}, LOG_TAIL),
                             ({**good, "lines": 10_001}, LOG_TAIL), ({"host": ""}, LOG_LIST),
                             ({"host": "node1"}, "osd pool create")):
        with pytest.raises(protocol.ProtocolError):
            protocol.decode(command(bad_args, prefix))


def test_host_command_output_is_validated_by_the_server() -> None:
    assert host_result_problem(LOG_LIST, ["ceph.log", "cephadm/ceph-mon.a.log"]) is None
    assert host_result_problem(LOG_LIST, ["../etc/passwd"]) is not None
    assert host_result_problem(LOG_LIST, "ceph.log") is not None
    assert host_result_problem(LOG_TAIL, {"lines": "x\n", "truncated": False}) is None
    assert host_result_problem(LOG_TAIL, {"lines": 3}) is not None
    assert host_result_problem(LOG_TAIL, {"lines": "x" * (MAX_TAIL_BYTES + 1)}) is not None


# ------------------------------------------------------------------------------ the API, simulated

wait_for = partial(support.wait_for, timeout=10.0)


class SimulatedServer:
    """What `calamari-server --simulate` runs, in-process: model, bus, API and a simulated collector
    that ticks once (a long poll interval), so its logs stay put while a test reads them."""

    def __init__(self, data_dir: str) -> None:
        self.service = ModelService(ServiceConfig(data_dir=data_dir, snapshot_every_events=1_000_000))
        self.bus = CollectorBus(self.service, "tcp://127.0.0.1:0")
        self.bus.start()
        self.auth = AuthService(self.service, hasher=FAST_HASHER)
        self.app = build_app(self.service, auth=self.auth, bus=self.bus)
        self.services = self.app.config["CALAMARI"]
        self.client = self.app.test_client()
        self.cluster = SimulatedCluster("hosts=3,osds=6,pools=2,pgs=64,seed=3,churn=0.3")
        for _ in range(20):  # some history: flaps in the cluster log and the OSD logs
            self.cluster.tick()
        self.collector = Collector(self.cluster, self.bus.bound_endpoint or "", poll_interval=3600,
                                   heartbeat_interval=0.2, stats_interval=0.2, result_resend_interval=0.2)
        self.collector.start()
        self.auth.add_user("viewer", PASSWORD, "read-only", "test")
        token = self.client.post("/api/v2/auth/login", json={"username": "viewer", "password": PASSWORD}).json
        self.headers = {"Authorization": f"Bearer {token['token']}"}
        fqdns = {f"{host}.ceph.example" for host in self.cluster.hosts}
        wait_for(lambda: fqdns <= set(self.service.view.servers))  # their collector reported

    def get(self, path: str) -> Any:
        return self.client.get(f"/api/v2/{path}", headers=self.headers)

    def close(self) -> None:
        self.collector.stop()
        self.services.executor.stop()
        self.bus.stop()
        self.service.close()


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatedServer]:
    server = SimulatedServer(str(tmp_path_factory.mktemp("server-logs")))
    yield server
    server.close()


def test_a_simulated_host_lists_its_ceph_logs(simulated: SimulatedServer) -> None:
    r = simulated.get("server/node0000.ceph.example/log")
    assert r.status_code == 200
    osds = [f"ceph/ceph-osd.{osd}.log" for osd in simulated.cluster.host_osds[0]]
    assert r.json == sorted(["ceph/ceph.log", "ceph/ceph-mon.node0000.log", "ceph/ceph-mgr.node0000.log", *osds])
    r = simulated.get("server/node0002.ceph.example/log")
    assert "ceph/ceph-mgr.node0000.log" not in r.json
    assert f"ceph/ceph-osd.{simulated.cluster.host_osds[2][0]}.log" in r.json


def test_a_tail_is_the_end_of_the_hosts_file(simulated: SimulatedServer) -> None:
    cluster = simulated.cluster
    fqdn = "node0001.ceph.example"
    osd = cluster.host_osds[1][0]
    whole = cluster.host_logs(fqdn).tail(f"ceph-osd.{osd}.log", 10_000, MAX_TAIL_BYTES)[0]  # type: ignore[union-attr]
    r = simulated.get(f"server/{fqdn}/log/ceph/ceph-osd.{osd}.log?lines=3")
    assert r.status_code == 200
    assert r.json == {"lines": "".join(whole.splitlines(keepends=True)[-3:]), "truncated": False}
    default = simulated.get(f"server/{fqdn}/log/ceph/ceph.log").json["lines"]
    assert len(default.splitlines()) == 40  # the default count
    # the cluster log's entries, as the mons write them to ceph.log
    assert default.splitlines()[-1].endswith(": cluster " + " ".join(
        simulated.service.cluster_log[cluster.fsid][-1][key] for key in ("priority", "message")))
    wait_for(lambda: not simulated.collector._host_results)  # delivered tails are not kept


@pytest.mark.parametrize(("path", "status"), [
    ("server/no-such-host/log", 404),
    ("server/no-such-host/log/ceph/ceph.log", 404),
    ("server/node0000.ceph.example/log/ceph/no-such.log", 404),
    ("server/node0000.ceph.example/log/ceph/../../etc/passwd", 404),
    ("server/node0000.ceph.example/log/ceph/%2E%2E/%2E%2E/etc/passwd", 404),
    ("server/node0000.ceph.example/log/etc/passwd", 404),  # outside the log root's ceph/
    ("server/node0000.ceph.example/log/ceph", 404),
    ("server/node0000.ceph.example/log/ceph/ceph.log?lines=0", 400),
    ("server/node0000.ceph.example/log/ceph/ceph.log?lines=10001", 400),
    ("server/node0000.ceph.example/log/ceph/ceph.log?lines=x", 400),
])
def test_what_is_not_a_log_file_of_a_known_server_is_refused(simulated: SimulatedServer, path: str,
                                                            status: int) -> None:
    r = simulated.get(path)
    assert r.status_code == status, r.json
    assert "detail" in r.json


def test_the_bus_routes_host_commands_by_host_name_or_fqdn(simulated: SimulatedServer) -> None:
    assert simulated.bus.send_host_command("node0001", "host/a", LOG_LIST)
    assert simulated.bus.send_host_command("node0001.ceph.example", "host/b", LOG_LIST)
    assert not simulated.bus.send_host_command("node0009.ceph.example", "host/c", LOG_LIST)
    with pytest.raises(ValueError):
        simulated.bus.send_host_command("node0001", "host/d", LOG_TAIL, {"path": "../x", "lines": 1, "max_bytes": 1})


# ------------------------------------------------------------------------------ no answer

@pytest.fixture
def harness(tmp_path: Path, capture_dir: str) -> Iterator[Harness]:
    h = Harness(str(tmp_path), capture_dir)
    yield h
    h.close()


def known_server(harness: Harness) -> str:
    return str(harness.call("GET", "server").json[0]["fqdn"])


def test_a_server_whose_collector_is_not_connected_is_503(harness: Harness) -> None:
    fqdn = known_server(harness)
    assert harness.executor.send_to_host is None  # no bus at all
    assert harness.call("GET", f"server/{fqdn}/log").status_code == 503
    harness.executor.send_to_host = lambda host, command_id, prefix, args: False  # none speaks for it
    r = harness.call("GET", f"server/{fqdn}/log/ceph/ceph.log", user="viewer")
    assert r.status_code == 503 and fqdn in r.json["detail"]


def test_a_collector_that_does_not_answer_is_504(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    fqdn = known_server(harness)
    sent: list[tuple[str, str, dict[str, Any]]] = []
    harness.executor.send_to_host = lambda host, command_id, prefix, args: sent.append((host, prefix, args)) or True
    monkeypatch.setattr(servers_api, "HOST_COMMAND_TIMEOUT_S", 0.05)
    assert harness.call("GET", f"server/{fqdn}/log").status_code == 504
    assert harness.call("GET", f"server/{fqdn}/log/ceph/ceph.log?lines=7").status_code == 504
    assert sent == [(fqdn, LOG_LIST, {}), (fqdn, LOG_TAIL, {"path": "ceph.log", "lines": 7, "max_bytes": MAX_TAIL_BYTES})]


@pytest.mark.parametrize(("rc", "out", "status"), [
    (-errno.ENOENT, "", 404),
    (-errno.EHOSTUNREACH, "", 503),
    (-errno.EIO, "", 502),
    (0, ["../../etc/passwd"], 502),  # a listing the server will not pass on
    (0, {"not": "a list"}, 502),
    (0, ["ceph.log"], 200),
])
def test_collector_answers_become_statuses(harness: Harness, rc: int, out: Any, status: int) -> None:
    fqdn = known_server(harness)

    def answer_at_once(host: str, command_id: str, prefix: str, args: dict[str, Any]) -> bool:
        harness.service.on_command_result(command_id, rc, out, "why", datetime.now(UTC))
        return True

    harness.executor.send_to_host = answer_at_once
    r = harness.call("GET", f"server/{fqdn}/log")
    assert r.status_code == status, r.json
    if status == 200:
        assert r.json == ["ceph/ceph.log"]
