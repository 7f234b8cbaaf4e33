"""List routes stay correct while the ingest thread adds and removes rows: no request may fail
because a projection changed size while it was being read."""

import threading

from calamari.testing.strategies import ClusterState, OsdState, PoolState, osd_map
from tests.unit.api_support import Harness


def test_lists_while_osds_and_pools_come_and_go(tmp_path, capture_dir):
    api = Harness(str(tmp_path), capture_dir)
    state = ClusterState(fsid=api.fsid)
    state.pools = {1: PoolState(name="rbd")}
    stop = threading.Event()
    failures: list[str] = []

    def churn() -> None:
        epoch = 1000
        while not stop.is_set():
            epoch += 1
            n = 50 + (epoch % 2) * 150  # 50 or 200 OSDs: rows are added and removed each map
            state.osds = {i: OsdState(uuid=f"00000000-0000-4000-8000-{i:012d}") for i in range(n)}
            state.pools = {p: PoolState(name=f"p{p}") for p in range(1, 2 + (epoch % 2) * 20)}
            api.service.on_sync_object(api.fsid, "osd_map", epoch, osd_map(state, epoch),
                                       api.service.model.clusters[api.fsid].modified_on)

    writer = threading.Thread(target=churn, daemon=True)
    writer.start()
    try:
        token = api.token("viewer")
        headers = {"Authorization": f"Bearer {token}"}
        for _ in range(150):
            for path in ("osd", "pool", "server", "osd?pool=1"):
                r = api.client.get(f"/api/v2/cluster/{api.fsid}/{path}", headers=headers)
                if r.status_code != 200:
                    failures.append(f"{path}: {r.status_code} {r.data[:200]!r}")
            r = api.client.get("/api/v2/request", headers=headers)
            if r.status_code != 200:
                failures.append(f"request: {r.status_code}")
    finally:
        stop.set()
        writer.join(30)
        api.close()
    assert failures == []
