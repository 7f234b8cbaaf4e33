"""A data dir written by calamari 0.1.0 (tests/fixtures/store-0.1.0: an SQLite event store and one snapshot
taken midway, made by a real server over a simulated cluster) keeps loading after the code moves around: event
topics and snapshots name aggregate classes by module path, so a moved class must still be found.

What the fixture holds: users `admin` (admin) and `reader` (read-only); a 2-host, 6-OSD simulated cluster; pool
`images` created with size 2 (request complete), osd.3 marked out (request complete), then, after the snapshot,
`images` changed to size 3 (request complete)."""

import shutil
from pathlib import Path

import pytest

from calamari.adapters.snapshots import newest_snapshot
from calamari.service.model import ModelService, ServiceConfig

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "store-0.1.0"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    target = tmp_path / "data"
    target.mkdir()
    shutil.copy(FIXTURE / "events.db", target / "events.db")
    shutil.copytree(FIXTURE / "snapshots", target / "snapshots")
    return target


def restored(data_dir: Path) -> tuple[dict, dict]:
    service = ModelService(ServiceConfig(data_dir=str(data_dir)))
    try:
        view = service.view.as_dict()
        users = {name: user.role for name, user in service.model.users.items()}
        return view, users
    finally:
        service.close()


def check_state(view: dict, users: dict) -> None:
    assert users == {"admin": "admin", "reader": "read-only"}
    (fsid,) = view["clusters"]
    pools = {row["name"]: row for row in view["pools"][fsid].values()}
    assert pools["images"]["size"] == 3
    osds = view["osds"][fsid]
    assert len(osds) == 6
    assert osds[3]["in"] is False
    assert sum(1 for row in osds.values() if row["in"]) == 5
    requests = list(view["requests"].values())
    assert len(requests) == 3
    assert {r["state"] for r in requests} == {"complete"}
    assert {r["username"] for r in requests} == {"admin"}
    assert sorted(r["target"] for r in requests) == ["osd:3", "pool-name:images", "pool:3"]


def test_snapshot_and_events_of_0_1_0_load(data_dir: Path) -> None:
    assert newest_snapshot(str(data_dir / "snapshots")) is not None
    view, users = restored(data_dir)
    check_state(view, users)


def test_events_of_0_1_0_replay_without_snapshot_to_the_same_state(data_dir: Path) -> None:
    with_snapshot = restored(data_dir)
    fresh = data_dir.parent / "replay"
    fresh.mkdir()
    shutil.copy(FIXTURE / "events.db", fresh / "events.db")
    from_events = restored(fresh)
    check_state(*from_events)
    assert from_events == with_snapshot
