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


def same_shape(ours, real, where: str) -> None:
    """Same keys and, key by key, the same JSON value types; int and float are one JSON number
    (Ceph's writer prints an integral float such as a ratio of 1 as an int)."""
    assert set(ours) == set(real), (where, set(ours) ^ set(real))
    for key, value in real.items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            assert isinstance(ours[key], int | float) and not isinstance(ours[key], bool), (where, key)
        else:
            assert type(ours[key]) is type(value), (where, key, type(ours[key]), type(value))


def first_of_kind(nodes: list, kind: str) -> dict:
    return next(node for node in nodes if node["type"] == kind)


@pytest.fixture
def fresh() -> SimulatedCluster:
    return SimulatedCluster("hosts=3,osds=6,pools=5,pgs=40,seed=9")  # pool 5 is erasure coded


def test_osd_tree_has_the_real_shape(sim, capture_dir):
    rc, out, _ = sim.execute("osd tree", {})
    real = capture(capture_dir, "osd_tree")
    assert rc == 0
    same_shape(out, real, "top")
    for kind in ("root", "host", "osd"):
        same_shape(first_of_kind(out["nodes"], kind), first_of_kind(real["nodes"], kind), kind)
    osd_ids = sorted(node["id"] for node in out["nodes"] if node["type"] == "osd")
    assert osd_ids == list(range(9))
    host = first_of_kind(out["nodes"], "host")
    assert all(node["depth"] == 2 for node in out["nodes"] if node["id"] in host["children"])


def test_osd_df_has_the_real_shape(sim, capture_dir):
    rc, out, _ = sim.execute("osd df", {})
    real = capture(capture_dir, "osd_df")
    assert rc == 0
    same_shape(out, real, "top")
    same_shape(out["nodes"][0], real["nodes"][0], "node")
    same_shape(out["summary"], real["summary"], "summary")
    assert [n["id"] for n in out["nodes"]] == list(range(9))
    assert out["summary"]["total_kb"] == sum(n["kb"] for n in out["nodes"])


def test_osd_out_shows_in_tree_and_df(fresh):
    def osd_row(command: str, osd_id: int) -> dict:
        return next(n for n in fresh.execute(command, {})[1]["nodes"] if n["id"] == osd_id)

    total_before = fresh.execute("osd df", {})[1]["summary"]["total_kb"]
    assert fresh.execute("osd out", {"ids": ["1"]})[0] == 0
    assert osd_row("osd tree", 1)["reweight"] == 0 and osd_row("osd tree", 1)["status"] == "up"
    row = osd_row("osd df", 1)
    assert row["reweight"] == 0 and row["kb"] == row["kb_used"] == row["utilization"] == 0
    assert fresh.execute("osd df", {})[1]["summary"]["total_kb"] < total_before
    assert fresh.execute("osd down", {"ids": ["2"]})[0] == 0
    assert osd_row("osd tree", 2)["status"] == "down"


def test_osd_pool_get_and_quota(fresh):
    assert fresh.execute("osd pool get", {"pool": "rbd", "var": "size"}) == (0, {"pool": "rbd", "pool_id": 1, "size": 3}, "")
    assert fresh.execute("osd pool set", {"pool": "rbd", "var": "size", "val": "2"})[0] == 0
    assert fresh.execute("osd pool get", {"pool": "rbd", "var": "size"})[1]["size"] == 2
    rc, everything, _ = fresh.execute("osd pool get", {"pool": "rbd", "var": "all"})
    assert rc == 0 and everything["crush_rule"] == "replicated_rule" and everything["hashpspool"] == "true"
    assert fresh.execute("osd pool get", {"pool": "pool0004", "var": "erasure_code_profile"})[1][
        "erasure_code_profile"] == "ec21"
    assert fresh.execute("osd pool get", {"pool": "rbd", "var": "erasure_code_profile"})[0] < 0
    assert fresh.execute("osd pool get", {"pool": "nope", "var": "size"})[0] == -2
    assert fresh.execute("osd pool get", {"pool": "rbd", "var": "no_such_var"})[0] < 0

    rc, quota, _ = fresh.execute("osd pool get-quota", {"pool": "rbd"})
    assert rc == 0 and quota["quota_max_bytes"] == 0 and quota["pool_id"] == 1
    assert set(quota) == {"pool_name", "pool_id", "quota_max_objects", "current_num_objects", "quota_max_bytes",
                          "current_num_bytes"}
    assert fresh.execute("osd pool set-quota", {"pool": "rbd", "field": "max_bytes", "val": "1024"})[0] == 0
    assert fresh.execute("osd pool get-quota", {"pool": "rbd"})[1]["quota_max_bytes"] == 1024
    assert fresh.execute("osd pool get-quota", {"pool": "nope"})[0] == -2


def test_osd_pool_stats_has_the_real_shape(fresh, capture_dir):
    rc, out, _ = fresh.execute("osd pool stats", {})
    real = capture(capture_dir, "osd_pool_stats")
    assert rc == 0 and isinstance(out, list)
    same_shape(out[0], real[0], "pool")
    assert [p["pool_name"] for p in out] == fresh.execute("osd pool ls", {})[1]
    assert fresh.execute("osd pool stats", {"pool_name": "rbd"})[1] == [out[0]]
    assert fresh.execute("osd pool stats", {"pool_name": "nope"})[0] == -2
    assert fresh.execute("osd out", {"ids": ["0"]})[0] == 0  # its PGs now wait to backfill
    recovery = [p["recovery"] for p in fresh.execute("osd pool stats", {})[1]]
    assert any(r.get("misplaced_objects") for r in recovery)


def test_crush_rule_and_erasure_code_profile_commands(fresh, capture_dir):
    names = fresh.execute("osd crush rule ls", {})[1]
    assert names == [r["rule_name"] for r in fresh.execute("osd crush rule dump", {})[1]]
    real_rule = capture(capture_dir, "osd_crush_rule_dump")[0]
    rc, rule, _ = fresh.execute("osd crush rule dump", {"name": "replicated_rule"})
    assert rc == 0
    same_shape(rule, real_rule, "rule")
    assert fresh.execute("osd crush rule dump", {"name": "nope"})[0] == -2
    assert fresh.execute("osd crush rule create-replicated",
                         {"name": "fast", "root": "default", "type": "host"})[0] == 0
    assert "fast" in fresh.execute("osd crush rule ls", {})[1]

    profiles = fresh.execute("osd erasure-code-profile ls", {})[1]
    assert isinstance(profiles, list) and type(profiles[0]) is type(capture(capture_dir, "osd_erasure_code_profiles")[0])
    assert profiles == sorted(fresh.osd_map()["erasure_code_profiles"])
    rc, profile, _ = fresh.execute("osd erasure-code-profile get", {"name": "ec21"})
    assert rc == 0 and profile["k"] == "2" and profile["m"] == "1"
    assert fresh.execute("osd erasure-code-profile get", {"name": "nope"})[0] == -2


def test_osd_perf_and_blocked_by(fresh, capture_dir):
    rc, out, _ = fresh.execute("osd perf", {})
    real = capture(capture_dir, "osd_perf")
    assert rc == 0
    same_shape(out, real, "top")
    same_shape(out["osdstats"], real["osdstats"], "osdstats")
    same_shape(out["osdstats"]["osd_perf_infos"][0], real["osdstats"]["osd_perf_infos"][0], "info")
    same_shape(out["osdstats"]["osd_perf_infos"][0]["perf_stats"], real["osdstats"]["osd_perf_infos"][0]["perf_stats"],
               "perf_stats")
    assert sorted(i["id"] for i in out["osdstats"]["osd_perf_infos"]) == list(range(6))

    assert fresh.execute("osd blocked-by", {}) == (0, [], "")
    # two of three replicas down: below min_size, so those PGs are peered (inactive) and blocked
    assert fresh.execute("osd down", {"ids": ["0", "2", "4"]})[0] == 0
    rc, blocked, _ = fresh.execute("osd blocked-by", {})
    assert rc == 0 and blocked and set(blocked[0]) == {"id", "num_blocked"}
    assert {b["id"] for b in blocked} <= {0, 2, 4}


def test_pg_dump_summary_and_pgs_brief(fresh, capture_dir):
    rc, summary, _ = fresh.execute("pg dump", {"dumpcontents": "summary"})
    real = capture(capture_dir, "pg_summary")
    assert rc == 0
    same_shape(summary, real, "top")
    same_shape(summary["pg_map"], real["pg_map"], "pg_map")
    for part in ("pg_stats_sum", "osd_stats_sum", "pg_stats_delta"):
        same_shape(summary["pg_map"][part], real["pg_map"][part], part)
    same_shape(summary["pg_map"]["pg_stats_sum"]["stat_sum"], real["pg_map"]["pg_stats_sum"]["stat_sum"], "stat_sum")

    rc, brief, _ = fresh.execute("pg dump", {"dumpcontents": "pgs_brief"})
    real = capture(capture_dir, "pg_pgs_brief")
    assert rc == 0
    same_shape(brief, real, "top")
    same_shape(brief["pg_stats"][0], real["pg_stats"][0], "pg")
    assert len(brief["pg_stats"]) == 40 == fresh.num_pgs
    assert fresh.execute("pg dump", {"dumpcontents": "nonsense"})[0] < 0

    victim = brief["pg_stats"][0]["acting_primary"]
    assert fresh.execute("osd down", {"ids": [str(victim)]})[0] == 0
    after = {p["pgid"]: p for p in fresh.execute("pg dump", {"dumpcontents": "pgs_brief"})[1]["pg_stats"]}
    first = after[brief["pg_stats"][0]["pgid"]]
    assert victim not in first["acting"] and first["state"] != "active+clean"


def test_pg_ls_is_bounded_and_consistent(fresh):
    rc, out, _ = fresh.execute("pg ls", {})
    assert rc == 0 and out["pg_ready"] is True and len(out["pg_stats"]) == 40
    brief = fresh.execute("pg dump", {"dumpcontents": "pgs_brief"})[1]["pg_stats"]
    for listed, short in zip(out["pg_stats"], brief, strict=True):
        assert {k: listed[k] for k in short} == short
        assert isinstance(listed["stat_sum"], dict)


def test_fs_mgr_mon_node_commands(sim, capture_dir):
    assert sim.execute("fs ls", {}) == (0, [], "")  # no file systems, as `fs dump` says

    rc, mgr, _ = sim.execute("mgr dump", {})
    real = capture(capture_dir, "mgr_dump")
    assert rc == 0
    same_shape(mgr, real, "mgr")
    same_shape(mgr["available_modules"][0], real["available_modules"][0], "module")
    assert set(mgr["always_on_modules"]["pacific"]) == set(real["always_on_modules"]["pacific"])

    rc, mon_stat, _ = sim.execute("mon stat", {})
    assert rc == 0 and mon_stat["num_mons"] == 3 and mon_stat["leader"] == mon_stat["quorum"][0]["name"]
    assert set(mon_stat["quorum"][0]) == {"rank", "name"}

    rc, nodes, _ = sim.execute("node ls", {})
    real = capture(capture_dir, "node_ls")
    assert rc == 0 and set(nodes) == set(real)
    for kind in real:
        ours, theirs = next(iter(nodes[kind].values())), next(iter(real[kind].values()))
        assert type(ours[0]) is type(theirs[0]), kind
    assert sorted(o for ids in nodes["osd"].values() for o in ids) == list(range(9))


def test_config_get(sim):
    assert sim.execute("config get", {"who": "osd.3", "key": "osd_pool_default_size"}) == (0, "3", "")
    assert sim.execute("config get", {"who": "mgr", "key": "mgr/dashboard/ssl"})[1] == "false"  # set for mgr
    rc, everything, _ = sim.execute("config get", {"who": "mon"})
    assert rc == 0 and everything["osd_pool_default_size"] == "3"
    assert sim.execute("config get", {"who": "osd", "key": "no_such_option"})[0] == -2
    assert sim.execute("config get", {"who": "nobody", "key": "osd_pool_default_size"})[0] < 0


def test_every_allowed_read_command_is_answered(sim):
    from calamari.api.cli import READ_ONLY_COMMANDS

    for prefix in READ_ONLY_COMMANDS:
        rc, _, err = sim.execute(prefix, {"pool": "rbd", "var": "size", "who": "global", "key": "osd_pool_default_size",
                                          "dumpcontents": "summary", "name": "replicated_rule"}
                                 if prefix in ("osd pool get", "config get", "pg dump", "osd crush rule dump")
                                 else {"pool": "rbd"} if prefix == "osd pool get-quota"
                                 else {"name": "default"} if prefix == "osd erasure-code-profile get" else {})
        assert rc == 0, (prefix, err)
