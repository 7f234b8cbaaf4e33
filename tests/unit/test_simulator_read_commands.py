"""The simulator answers read-only Ceph commands in the shapes a real Pacific cluster prints
(compared with the captures), so the cli route works against a simulated cluster too."""

import json
import os

import pytest

from collector.simulator import SimulatedCluster


def capture(capture_dir: str, name: str):
    with open(os.path.join(capture_dir, "00-baseline", f"{name}.json")) as f:
        return json.load(f)


@pytest.fixture(scope="module")
def sim() -> SimulatedCluster:
    return SimulatedCluster("hosts=3,osds=9,pools=3,pgs=96,seed=5")


def test_status_has_the_real_shape(sim, capture_dir):
    rc, out, _ = sim.execute("status", {})
    real = capture(capture_dir, "status")
    assert rc == 0
    for key in ("fsid", "health", "election_epoch", "quorum", "quorum_names", "monmap", "osdmap", "pgmap", "fsmap"):
        assert key in out and type(out[key]) is type(real[key]), key
    assert set(real["osdmap"]) - {"osd_up_since", "osd_in_since"} <= set(out["osdmap"])
    assert out["osdmap"]["num_osds"] == 9 == len(sim.osd_map()["osds"])
    assert sum(s["count"] for s in out["pgmap"]["pgs_by_state"]) == out["pgmap"]["num_pgs"] == 96


def test_pg_stat_and_osd_commands(sim, capture_dir):
    rc, out, _ = sim.execute("pg stat", {})
    real = capture(capture_dir, "pg_stat")
    assert rc == 0 and set(real["pg_summary"]) <= set(out["pg_summary"])
    assert sum(s["num"] for s in out["pg_summary"]["num_pg_by_state"]) == 96
    assert sim.execute("osd ls", {})[1] == list(range(9))
    assert sim.execute("osd pool ls", {})[1] == [p["pool_name"] for p in sim.osd_map()["pools"]]
    assert sim.execute("osd metadata", {"id": 4})[1]["id"] == 4
    assert sim.execute("osd metadata", {"id": 99})[0] < 0
    assert sim.execute("no such command", {})[0] < 0


def test_a_change_shows_in_the_next_read(sim):
    before = sim.execute("osd stat", {})[1]
    assert sim.execute("osd out", {"ids": ["2"]})[0] == 0
    after = sim.execute("osd stat", {})[1]
    assert after["num_in_osds"] == before["num_in_osds"] - 1 and after["epoch"] > before["epoch"]
