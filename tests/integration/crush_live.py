"""What the CRUSH tests against a real cluster share: a server and collector on the session's
cluster, ready once the API shows its CRUSH map, and waiting for a request to succeed."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from calamari.testing.live import ApiClient, DevCluster, server_and_collector, wait_for

Live = tuple[DevCluster, ApiClient, str]


def crush_live_fixture(data_dir_name: str, ready_resource: str) -> Callable[..., Iterator[Live]]:
    """A test module's `live` fixture: the cluster, an API client and the fsid, once
    `/cluster/<fsid>/<ready_resource>` answers (the CRUSH map has arrived); the server keeps its
    data in a fresh folder named after `data_dir_name`."""

    @pytest.fixture(scope="module")
    def live(ceph_cluster: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
        cluster = DevCluster(ceph_cluster["dir"])
        with server_and_collector(cluster, Path(tmp_path_factory.mktemp(data_dir_name))) as (_, _, api):
            fsid = cluster.fsid()
            wait_for(lambda: api.get(f"/cluster/{fsid}/{ready_resource}"), 60, "the CRUSH map in the API")
            yield cluster, api, fsid

    return live


def done(api: ApiClient, request_id: str) -> dict[str, Any]:
    """The request's row once it has ended, which must be without an error."""
    row = api.wait_request(request_id)
    assert row["error"] is False, row["error_message"]
    return row
