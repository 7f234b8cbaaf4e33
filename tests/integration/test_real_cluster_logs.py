"""A server's Ceph log files through the API against a real Ceph 16.2 cluster: the collector finds
the daemons' logs where the cluster's ceph.conf puts them (`log file = <dir>/log/$name.log`), the
API lists them, and a tail equals the end of the real file on disk (which the daemons keep writing,
so the answer must be the end of some version of the file between the reads before and after)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from calamari.testing.live import ApiClient, ApiError, DevCluster, server_and_collector, wait_for
from collector.host import fqdn as local_fqdn

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def live(ceph_cluster: dict[str, str], tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[tuple[DevCluster, ApiClient, str]]:
    cluster = DevCluster(ceph_cluster["dir"])
    with server_and_collector(cluster, Path(tmp_path_factory.mktemp("calamari-logs"))) as (_, _, api):
        host = local_fqdn()  # the collector runs here and reports this machine
        wait_for(lambda: api.get(f"/server/{quote(host)}/log"), 60, "the collector's host to list its logs")
        yield cluster, api, host


def regular_files(directory: Path) -> set[str]:
    return {entry.name for entry in os.scandir(directory) if entry.is_file(follow_symlinks=False)}


def expected_tail(data: bytes, lines: int) -> bytes:
    parts = data.split(b"\n")
    whole = [part + b"\n" for part in parts[:-1]] + ([parts[-1]] if parts[-1] else [])
    return b"".join(whole[-lines:])


def is_tail_of_a_version(answer: bytes, before: bytes, after: bytes, lines: int) -> bool:
    """Whether `answer` is the last `lines` lines of the file as it was at some moment between
    `before` and `after` (a log only grows: each version is a prefix of `after`)."""
    start = max(0, len(before) - len(answer))
    while (found := after.find(answer, start)) >= 0:
        end = found + len(answer)
        if end >= len(before) and expected_tail(after[:end], lines) == answer:
            return True
        start = found + 1
    return False


def test_the_daemons_logs_are_listed(live: tuple[DevCluster, ApiClient, str]) -> None:
    cluster, api, host = live
    log_dir = cluster.dir / "log"
    before = regular_files(log_dir)
    listed = api.get(f"/server/{quote(host)}/log")
    after = regular_files(log_dir)
    assert {"mon.a.log", "mgr.x.log", "osd.0.log", "osd.1.log", "osd.2.log"} <= before
    assert all(path.startswith("ceph/") for path in listed)
    assert {f"ceph/{name}" for name in before} <= set(listed) <= {f"ceph/{name}" for name in after}


@pytest.mark.parametrize(("name", "lines"), [("mon.a.log", 25), ("osd.1.log", 40), ("mgr.x.log", 3)])
def test_a_tail_is_the_end_of_the_file_on_disk(live: tuple[DevCluster, ApiClient, str], name: str,
                                               lines: int) -> None:
    cluster, api, host = live
    path = cluster.dir / "log" / name
    before = path.read_bytes()
    query = "" if lines == 40 else f"?lines={lines}"  # 40 is the default
    answer = api.get(f"/server/{quote(host)}/log/ceph/{name}{query}")
    after = path.read_bytes()
    assert answer["truncated"] is False
    text = answer["lines"].encode()
    assert text.count(b"\n") in (lines, lines - 1)  # (the last line may still be being written)
    assert is_tail_of_a_version(text, before, after, lines)


def test_files_outside_the_log_directory_cannot_be_read(live: tuple[DevCluster, ApiClient, str]) -> None:
    cluster, api, host = live
    trap = cluster.dir / "log" / "conf.log"
    trap.symlink_to(cluster.dir / "ceph.conf")  # a symlink pointing out of the log directory
    try:
        assert "ceph/conf.log" not in api.get(f"/server/{quote(host)}/log")
        for path in ("ceph/conf.log", "ceph/../ceph.conf", "ceph/%2E%2E/ceph.conf", "ceph/%2Fetc%2Fpasswd",
                     quote(str(cluster.dir / "ceph.conf"))):
            with pytest.raises(ApiError) as refused:
                api.get(f"/server/{quote(host)}/log/{path}")
            assert refused.value.status == 404, path
    finally:
        trap.unlink()
    with pytest.raises(ApiError) as unknown:
        api.get("/server/no-such-host.example/log")
    assert unknown.value.status == 404
