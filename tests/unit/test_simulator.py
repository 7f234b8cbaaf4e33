"""The simulated cluster: real 16.2 shapes (key by key against captures), determinism, PG counter
consistency and the commands it executes."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import pytest

from collector.simulator import SimSpec, SimulatedCluster

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "ceph-pacific-3osd"
needs_fixtures = pytest.mark.skipif(not FIXTURES.exists(), reason="Ceph 16.2 captures not available")
SPEC = "hosts=4,osds=12,pools=5,pgs=320,seed=11,churn=0.05"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_790_000_000.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


def fixture(step: str, name: str):
    return json.loads((FIXTURES / step / name).read_text())


def sim(spec: str = SPEC) -> SimulatedCluster:
    return SimulatedCluster(spec, clock=FakeClock())


def key_sets_match(real: dict, simulated: dict, path: str = "") -> None:
    assert set(real) == set(simulated), f"{path}: {set(real) ^ set(simulated)}"


def test_spec_parsing() -> None:
    spec = SimSpec.parse("hosts=50,osds=1000,pools=20,pgs=65536,seed=7,churn=0.01")
    assert (spec.hosts, spec.osds, spec.pools, spec.pgs, spec.seed, spec.churn) == (50, 1000, 20, 65536, 7, 0.01)
    for bad in ("hosts=0", "osds=x", "bogus=1", "churn=2", "hosts=5,osds=2"):
        with pytest.raises(ValueError):
            SimSpec.parse(bad)


@needs_fixtures
def test_osd_map_has_the_shape_of_a_real_one() -> None:
    real = fixture("03-ec-pool", "osd_dump.json")
    simulated = sim().osd_map()
    key_sets_match(real, simulated, "osd_map")
    key_sets_match(real["osds"][0], simulated["osds"][0], "osds[]")
    key_sets_match(real["osd_xinfo"][0], simulated["osd_xinfo"][0], "osd_xinfo[]")
    for real_pool in real["pools"]:
        key_sets_match(real_pool, simulated["pools"][0], "pools[]")
    for key, value in real.items():
        assert type(simulated[key]) is type(value), key
    for key, value in real["pools"][0].items():
        assert type(simulated["pools"][0][key]) is type(value), key
    for key, value in real["osds"][0].items():
        assert type(simulated["osds"][0][key]) is type(value), key
    erasure = [p for p in simulated["pools"] if p["type"] == 3]
    assert erasure and erasure[0]["erasure_code_profile"] in simulated["erasure_code_profiles"]


@needs_fixtures
@pytest.mark.parametrize(
    ("name", "capture"),
    [("mon_map", "mon_dump.json"), ("mon_status", "quorum_status.json"), ("fs_map", "fs_dump.json"),
     ("crush_map", "osd_crush_dump.json"), ("df", "df_detail.json"), ("health", "health_detail.json")],
)
def test_other_sync_objects_have_the_shape_of_real_ones(name: str, capture: str) -> None:
    cluster = sim()
    objects = cluster.sync_objects()
    real = fixture("05-osd2-down", capture)
    data = objects[name][1]
    key_sets_match(real, data, name)
    if name == "crush_map":
        key_sets_match(real["buckets"][0], data["buckets"][0], "buckets[]")
        key_sets_match(real["rules"][0], data["rules"][0], "rules[]")
        key_sets_match(real["devices"][0], data["devices"][0], "devices[]")
    if name == "df":
        key_sets_match(real["pools"][0]["stats"], data["pools"][0]["stats"], "df pools[].stats")
        key_sets_match(real["stats"], data["stats"], "df stats")
    if name in ("mon_map", "mon_status"):
        mons = data["mons"] if name == "mon_map" else data["monmap"]["mons"]
        real_mons = real["mons"] if name == "mon_map" else real["monmap"]["mons"]
        key_sets_match(real_mons[0], mons[0], "mons[]")


@needs_fixtures
def test_health_of_a_down_osd_and_a_flag_looks_like_ceph() -> None:
    cluster = sim("hosts=3,osds=3,pools=1,pgs=16,seed=1")
    cluster.execute("osd set", {"key": "noout"})
    cluster.execute("osd down", {"ids": ["2"]})
    health = cluster.health()
    real = fixture("05-osd2-down", "health_detail.json")
    assert health["status"] == real["status"] == "HEALTH_WARN"
    for check in ("OSDMAP_FLAGS", "OSD_DOWN"):
        key_sets_match(real["checks"][check], health["checks"][check], check)
    assert health["checks"]["OSD_DOWN"]["detail"][0]["message"].startswith("osd.2 (root=default,host=")


@needs_fixtures
def test_osd_metadata_and_log_entries_have_real_keys() -> None:
    cluster = sim()
    _, metadata = cluster.osd_metadata()
    key_sets_match(fixture("00-baseline", "osd_metadata.json")[0], metadata[0], "osd_metadata[]")
    cluster.execute("osd down", {"ids": ["1"]})
    log_entry = cluster.cluster_log()[0]
    key_sets_match(fixture("11-scrub-and-flag", "log_last.json")[0], log_entry, "log entry")


def test_same_seed_gives_the_same_cluster() -> None:
    a, b = sim(), sim()
    assert a.fsid == b.fsid
    for _ in range(8):
        assert a.poll() == b.poll()
    assert sim("hosts=4,osds=12,pools=5,pgs=320,seed=12").fsid != a.fsid


def check_counters(cluster: SimulatedCluster) -> None:
    summary = cluster.pg_summary()
    assert sum(summary["by_state"].values()) == summary["num_pgs"]
    assert sum(sum(c.values()) for c in summary["by_pool"].values()) == summary["num_pgs"]
    expected_osd_counts = sum(
        pool.size for pool in cluster.pools.values() for _ in range(len(pool.pg_indexes))
    )
    assert sum(sum(c.values()) for c in summary["by_osd"].values()) == expected_osd_counts
    assert all(n > 0 for counts in summary["by_osd"].values() for n in counts.values())


def test_pg_counters_stay_consistent_under_churn_and_commands() -> None:
    cluster = sim("hosts=4,osds=12,pools=5,pgs=320,seed=3,churn=0.2")
    states_seen = set()
    for tick in range(30):
        changed = cluster.poll()
        if "pg_summary" in changed:
            states_seen |= set(changed["pg_summary"][1]["by_state"])
        if tick == 5:
            assert cluster.execute("osd pool create", {"pool": "new", "pg_num": 16})[0] == 0
        if tick == 10:
            assert cluster.execute("osd pool set", {"pool": "new", "var": "pg_num", "val": "8"})[0] == 0
        if tick == 15:
            assert cluster.execute("osd pool delete", {"pool": "rbd", "pool2": "rbd",
                                                       "yes_i_really_really_mean_it": True})[0] == 0
        check_counters(cluster)
    assert {"active+clean", "active+undersized+degraded"} <= states_seen
    assert cluster.pg_summary()["num_pgs"] == 320 - 64 + 8


def test_pool_commands_show_in_the_next_map() -> None:
    cluster = sim("hosts=3,osds=6,pools=1,pgs=32,seed=1")
    cluster.poll()
    epoch = cluster.epoch
    assert cluster.execute("osd pool create", {"pool": "images", "pg_num": 16}) == (0, "", "pool 'images' created")
    changed = cluster.poll()
    pools = {p["pool_name"]: p for p in changed["osd_map"][1]["pools"]}
    assert changed["osd_map"][0] > epoch and pools["images"]["pg_num"] == 16
    assert changed["pg_summary"][1]["by_pool"][str(pools["images"]["pool"])] == {"creating+peering": 16}
    assert cluster.execute("osd pool set", {"pool": "images", "var": "size", "val": "2"})[0] == 0
    assert cluster.execute("osd pool set-quota", {"pool": "images", "field": "max_bytes", "val": "1000"})[0] == 0
    assert cluster.execute("osd pool rename", {"srcpool": "images", "destpool": "photos"})[0] == 0
    pools = {p["pool_name"]: p for p in cluster.poll()["osd_map"][1]["pools"]}
    assert "images" not in pools
    assert (pools["photos"]["size"], pools["photos"]["quota_max_bytes"]) == (2, 1000)
    assert pools["photos"]["last_change"] == str(cluster.epoch)
    rc, _, err = cluster.execute("osd pool delete", {"pool": "photos"})
    assert rc == -1 and "DESTROY" in err
    assert cluster.execute("osd pool delete", {"pool": "photos", "pool2": "photos",
                                               "yes_i_really_really_mean_it": True})[0] == 0
    assert "photos" not in {p["pool_name"] for p in cluster.poll()["osd_map"][1]["pools"]}


def test_hashpspool_can_be_unset_and_set_with_confirmation() -> None:
    """The pool PATCH route sends `osd pool set POOL hashpspool false --yes-i-really-mean-it`."""
    cluster = sim("hosts=3,osds=6,pools=1,pgs=32,seed=1")
    cluster.poll()
    rc, _, err = cluster.execute("osd pool set", {"pool": "rbd", "var": "hashpspool", "val": "false"})
    assert rc == -errno.EPERM and "yes-i-really-mean-it" in err
    assert cluster.execute("osd pool set", {"pool": "rbd", "var": "hashpspool", "val": "maybe",
                                            "yes_i_really_mean_it": True})[0] == -errno.EINVAL
    assert cluster.execute("osd pool set", {"pool": "rbd", "var": "hashpspool", "val": "false",
                                            "yes_i_really_mean_it": True})[0] == 0
    pool = cluster.poll()["osd_map"][1]["pools"][0]
    assert (pool["flags"], pool["flags_names"]) == (0, "")
    assert cluster.execute("osd pool set", {"pool": "rbd", "var": "hashpspool", "val": "true",
                                            "yes_i_really_mean_it": True})[0] == 0
    pool = cluster.poll()["osd_map"][1]["pools"][0]
    assert (pool["flags"], pool["flags_names"]) == (1, "hashpspool")


def test_osd_commands_show_in_the_next_map() -> None:
    cluster = sim("hosts=3,osds=6,pools=1,pgs=32,seed=1")
    cluster.poll()
    assert cluster.execute("osd out", {"ids": ["1"]}) == (0, "", "marked out osd.1. ")
    assert cluster.execute("osd reweight", {"id": 2, "weight": 0.5})[0] == 0
    assert cluster.execute("osd down", {"ids": ["osd.3"]})[0] == 0
    assert cluster.execute("osd set", {"key": "noout"}) == (0, "", "noout is set")
    osd_map = cluster.poll()["osd_map"][1]
    osds = {o["osd"]: o for o in osd_map["osds"]}
    assert osds[1]["in"] == 0 and osds[1]["weight"] == 0
    assert osds[2]["weight"] == 0.5
    assert osds[3]["up"] == 0 and osds[3]["state"] == ["exists"]
    assert "noout" in osd_map["flags_set"] and osd_map["flags"].startswith("noout,")
    assert osd_map["flags_num"] == 5799936 + 128  # the captured value with noout set
    for _ in range(5):
        cluster.poll()
    osd_map = cluster.osd_map()
    assert {o["osd"]: o for o in osd_map["osds"]}[3]["up"] == 1  # a downed OSD reasserts itself
    assert cluster.execute("osd in", {"ids": ["1"]})[0] == 0
    assert cluster.execute("osd unset", {"key": "noout"})[0] == 0
    osd_map = cluster.poll()["osd_map"][1]
    assert {o["osd"]: o for o in osd_map["osds"]}[1]["in"] == 1 and "noout" not in osd_map["flags_set"]


def test_scrub_commands_change_pg_states() -> None:
    cluster = sim("hosts=3,osds=6,pools=1,pgs=32,seed=1")
    cluster.poll()
    assert cluster.execute("osd deep-scrub", {"who": "0"})[0] == 0
    states = cluster.poll()["pg_summary"][1]["by_state"]
    assert states.get("active+clean+scrubbing+deep", 0) > 0
    assert cluster.execute("pg scrub", {"pgid": "1.1f"})[0] == 0
    assert cluster.execute("osd repair", {"who": "1"})[0] == 0
    states = cluster.pg_summary()["by_state"]
    assert states.get("active+clean+scrubbing", 0) >= 1
    assert states.get("active+clean+scrubbing+deep+repair", 0) >= 1
    assert cluster.execute("pg scrub", {"pgid": "1.ff"})[0] == -2


@pytest.mark.parametrize(
    ("prefix", "args"),
    [("osd pool set", {"pool": "nope", "var": "size", "val": "2"}),
     ("osd pool set", {"pool": "rbd", "var": "bogus", "val": "2"}),
     ("osd pool set", {"pool": "rbd", "var": "size", "val": "many"}),
     ("osd out", {"ids": ["99"]}), ("osd reweight", {"id": 0, "weight": 3}),
     ("osd set", {"key": "nonsense"}), ("rm -rf /", {}), ("osd pool create", {})],
)
def test_bad_commands_fail_like_ceph(prefix: str, args: dict) -> None:
    cluster = sim("hosts=3,osds=6,pools=1,pgs=32,seed=1")
    epoch = cluster.epoch
    rc, _, err = cluster.execute(prefix, args)
    assert rc < 0 and err
    assert cluster.epoch == epoch


def test_server_facts_and_stats_cover_every_host() -> None:
    cluster = sim()
    facts = dict(cluster.server_facts())
    assert sorted(facts) == cluster.hosts
    all_osds = [s["id"] for f in facts.values() for s in f["services"] if s["type"] == "osd"]
    assert sorted(all_osds, key=int) == [str(i) for i in range(12)]
    first = facts[cluster.hosts[0]]
    assert set(first) >= {"hostname", "fqdn", "boot_time", "kernel", "cpu_count", "mem_total", "services",
                          "frontend_addr", "backend_addr"}
    stats = dict(cluster.stats())
    names = {point[0] for point in stats[cluster.hosts[0]]}
    prefix = f"ceph.cluster.{cluster.fsid}"
    assert f"{prefix}.df.total_bytes" in names and f"{prefix}.osd.0.apply_latency_ms" in names
    assert f"{prefix}.pool.1.num_write_kb" in names and f"{prefix}.io.write_op_per_sec" in names
    assert f"servers.{cluster.hosts[1]}.cpu.total.idle" in {p[0] for p in stats[cluster.hosts[1]]}
