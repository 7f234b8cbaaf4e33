"""A real calamari-server (with a simulated cluster) whose data dir is a small tmpfs, filled up:
logins and changes answer 503 with the reason at once, a pool asked for on the full disk is never
created (not when space returns, not after a restart: the only request left is the one accepted
later), and the server works again by itself once there is space. Needs root to mount the tmpfs
(skipped otherwise)."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
from support import tmpfs_mount

from calamari.testing.live import ApiClient, ApiError, CalamariServer, wait_for

POOL = {"name": "asked-on-full-disk", "pg_num": 8}


@pytest.fixture
def small_disk(tmp_path):
    with tmpfs_mount(tmp_path / "disk", "48m") as mount:
        yield mount


def fill(path: Path) -> None:
    """Write zeros to `path` until the file system has no space left."""
    chunk = bytes(1 << 20)
    with open(path, "wb", buffering=0) as f:
        try:
            while True:
                f.write(chunk)
        except OSError as err:
            assert err.errno == errno.ENOSPC, err
        try:  # the last partial block too
            while True:
                f.write(bytes(4096))
        except OSError as err:
            assert err.errno == errno.ENOSPC, err


def status_of(call) -> int:
    try:
        return call()[0]
    except ApiError as err:
        return err.status


def pool_requests(api: ApiClient, fsid: str) -> list[dict]:
    rows = api.get(f"/cluster/{fsid}/request?page_size=1000")["results"]
    return [r for r in rows if (r.get("body") or {}).get("name") == POOL["name"]]


def test_a_full_data_disk_refuses_changes_at_once_and_recovers_by_itself(small_disk, tmp_path):
    data = small_disk / "data"
    data.mkdir()
    (data / "server.log").symlink_to(tmp_path / "server.log")  # the log must not need the full disk
    server = CalamariServer(data, extra=["--simulate", "hosts=1,osds=3", "--whisper-retention", "1m:1h"])
    try:
        api = server.start()
        fsid = wait_for(lambda: next((c["id"] for c in api.get("/cluster")), None), 60, "the simulated cluster")
        fill(small_disk / "filler")

        # the first write on the full disk fails; from then on the refusal is immediate
        fresh = ApiClient(server.url, timeout=15)  # a login stuck for 30 s would time out here

        def login() -> tuple[int, dict]:
            return fresh.call("POST", "/auth/login", {"username": server.USER, "password": server.PASSWORD})

        wait_for(lambda: status_of(login) == 503, 60, "a login on the full disk to answer 503")
        with pytest.raises(ApiError) as refused_login:
            login()
        assert refused_login.value.status == 503, refused_login.value.body
        assert refused_login.value.body["reason"] == "the data disk is full"
        with pytest.raises(ApiError) as refused:
            api.call("POST", f"/cluster/{fsid}/pool", POOL)
        assert refused.value.status == 503 and "disk is full" in refused.value.body["detail"]
        assert pool_requests(api, fsid) == []

        os.remove(small_disk / "filler")  # space returns; nothing is restarted
        wait_for(lambda: status_of(login) == 200, 60, "logins to work again")
        assert pool_requests(api, fsid) == []
        assert POOL["name"] not in [p["name"] for p in api.get(f"/cluster/{fsid}/pool")]

        request_id = api.submit("POST", f"/cluster/{fsid}/pool", POOL)  # not 409: nothing was left pending
        assert api.wait_request(request_id)["error"] is False

        server.stop()  # after a restart, only the accepted request is there, complete
        api = server.start()
        rows = pool_requests(api, fsid)
        assert [(r["id"], r["state"]) for r in rows] == [(request_id, "complete")]
    finally:
        server.stop()
