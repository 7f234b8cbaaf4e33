"""The real-cluster source's reads, against a scripted Ceph (no cluster): a version check is one
`status` and fetches only what moved; a fetch that fails is tried again; reads are paced by their
CPU cost within the collector's share of a core; a command's map is read at once; a failing
backend hands over to the next and is reported once."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from collector.ceph_source import MAX_READ_INTERVAL_S, SHARE_SPLIT, CephSource


class ScriptedCeph:
    """A backend answering the read commands a source sends from a small mutable state; records
    every command. `cost` CPU seconds are added to `cpu` per command (what a `ceph` process would
    cost), `fail` makes named commands raise (rados.Error and the like) or fail with an rc."""

    name = "scripted"

    def __init__(self, cost: float = 0.0002) -> None:
        self.osd_epoch = 10
        self.mon_epoch = 1
        self.election = 3
        self.fs_epoch = 1
        self.checks: dict[str, Any] = {}
        self.pg_version = 100
        self.noout = False
        self.sent: list[str] = []
        self.cost = cost
        self.cpu = 0.0
        self.fail: dict[str, Exception | int] = {}
        self.log = [{"stamp": "2024-01-01T00:00:00", "seq": 1, "name": "mon.a", "message": "hello"}]

    def fsid(self) -> str:
        return "11111111-2222-3333-4444-555555555555"

    def close(self) -> None:
        return None

    def command(self, prefix: str, args: dict[str, Any], target: str, inbuf: bytes = b"") -> tuple[int, bytes, str]:
        self.sent.append(prefix if prefix != "pg dump" else f"pg dump {args['dumpcontents'][0]}")
        self.cpu += self.cost
        failure = self.fail.get(prefix)
        if isinstance(failure, Exception):
            raise failure
        if isinstance(failure, int):
            return failure, b"", f"{prefix} failed"
        if prefix == "osd set":
            self.noout = True
            self.osd_epoch += 1
            return 0, b"", "noout is set"
        return 0, json.dumps(self.answer(prefix, args)).encode(), ""

    def answer(self, prefix: str, args: dict[str, Any]) -> Any:
        quorum = [0]
        if prefix == "status":
            return {"fsid": self.fsid(), "health": {"status": "HEALTH_OK", "checks": self.checks},
                    "election_epoch": self.election, "quorum": quorum, "monmap": {"epoch": self.mon_epoch},
                    "osdmap": {"epoch": self.osd_epoch}, "fsmap": {"epoch": self.fs_epoch},
                    "pgmap": {"num_pgs": 8, "pgs_by_state": [{"state_name": "active+clean", "count": 8}]}}
        if prefix == "osd dump":
            return {"epoch": self.osd_epoch, "crush_version": 1, "flags_set": ["noout"] if self.noout else [],
                    "osds": [], "pools": []}
        if prefix == "osd crush dump":
            return {"devices": [], "buckets": [], "rules": []}
        if prefix == "mon dump":
            return {"epoch": self.mon_epoch, "mons": []}
        if prefix == "quorum_status":
            return {"election_epoch": self.election, "quorum": quorum, "quorum_names": ["a"]}
        if prefix == "fs dump":
            return {"epoch": self.fs_epoch, "filesystems": []}
        if prefix == "health":
            return {"status": "HEALTH_OK", "checks": self.checks}
        if prefix == "pg dump" and args["dumpcontents"] == ["summary"]:
            return {"pg_map": {"version": self.pg_version, "pg_stats_sum": {"stat_sum": {}}, "osd_stats_sum": {}}}
        if prefix == "pg dump":
            return {"pg_stats": [{"pgid": "1.0", "state": "active+clean"}]}
        if prefix == "mgr stat":
            return {"epoch": 5}
        if prefix == "log last":
            return self.log
        if prefix in ("df", "config dump", "osd metadata", "node ls", "osd perf", "osd df"):
            return [] if prefix in ("config dump", "osd metadata") else {}
        raise AssertionError(f"unexpected command {prefix}")


class Clock:
    """Monotonic time that moves on when told (`tick`: the agent's 50 ms between checks)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def tick(self, seconds: float = 0.05) -> None:
        self.now += seconds


def source_of(ceph: ScriptedCeph, clock: Clock | None = None, cpu_share: float = 0.05) -> CephSource:
    return CephSource("/nonexistent/ceph.conf", backends=[ceph], clock=clock or Clock(), log_dir="/nonexistent",
                      cpu_clock=lambda: ceph.cpu, cpu_share=cpu_share)


def test_a_check_is_one_status_when_nothing_changed() -> None:
    ceph = ScriptedCeph()
    clock = Clock()
    source = source_of(ceph, clock)
    first = source.check()
    assert {"osd_map", "crush_map", "mon_map", "mon_status", "fs_map", "health"} <= set(first)
    ceph.sent.clear()
    clock.tick()
    assert source.check() == {}
    assert ceph.sent == ["status"]


def test_a_check_fetches_only_the_map_whose_version_moved() -> None:
    ceph = ScriptedCeph()
    clock = Clock()
    source = source_of(ceph, clock)
    source.check()
    ceph.sent.clear()
    ceph.osd_epoch += 1
    clock.tick()
    changed = source.check()
    assert set(changed) == {"osd_map"}  # the CRUSH version did not move: not fetched again
    assert changed["osd_map"][0] == ceph.osd_epoch
    assert ceph.sent == ["status", "osd dump"]
    ceph.sent.clear()
    ceph.mon_epoch += 1
    ceph.checks = {"OSDMAP_FLAGS": {"severity": "HEALTH_WARN"}}
    clock.tick()
    assert set(source.check()) == {"mon_map", "health"}
    assert ceph.sent == ["status", "mon dump", "health"]


def test_a_map_whose_fetch_failed_is_fetched_at_the_next_read() -> None:
    ceph = ScriptedCeph()
    clock = Clock()
    source = source_of(ceph, clock)
    source.poll()
    ceph.osd_epoch += 1
    ceph.fail["osd dump"] = -110
    clock.tick(1.0)
    with pytest.raises(RuntimeError):
        source.poll()
    del ceph.fail["osd dump"]
    clock.tick(1.0)
    changed = source.poll()
    assert changed["osd_map"][0] == ceph.osd_epoch


def test_a_poll_reads_the_pg_map_and_the_log_which_checks_do_not() -> None:
    ceph = ScriptedCeph()
    clock = Clock()
    source = source_of(ceph, clock)
    assert "pg_summary" in source.poll()
    assert [entry["message"] for entry in source.cluster_log()] == ["hello"]
    assert source.cluster_log() == []  # each entry once
    ceph.sent.clear()
    ceph.pg_version += 1
    clock.tick()
    assert source.check() == {}
    assert "pg dump summary" not in ceph.sent and "log last" not in ceph.sent
    clock.now += 1.0
    assert set(source.poll()) == {"pg_summary"}


def test_expensive_checks_are_spaced_to_stay_within_the_cpu_share() -> None:
    cost = 0.25  # a `ceph` process per command
    ceph = ScriptedCeph(cost=cost)
    clock = Clock()
    source = source_of(ceph, clock, cpu_share=0.05)
    source.check()
    spacing = cost / (0.05 * SHARE_SPLIT["check"])
    ceph.sent.clear()
    for step in range(1, 40):  # the agent calls every 50 ms
        clock.tick()
        if step * 0.05 < spacing - 1e-9:
            assert source.check() == {}
    assert ceph.sent == []  # not one read until the spacing passed
    clock.now = 1000.0 + spacing
    source.check()
    assert ceph.sent == ["status"]
    # cheap checks (librados) are not held back: every call of the agent reads
    cheap = ScriptedCeph(cost=0.0002)
    clock = Clock()
    fast = source_of(cheap, clock)
    fast.check()
    for _ in range(10):
        clock.tick()
        fast.check()
    assert cheap.sent.count("status") == 11


def run_agent_like(source: CephSource, clock: Clock, minutes: float) -> None:
    """Call the source as the agent does by default: a check every 50 ms, a poll (and the log)
    every second, facts and stats every 10 s."""
    for step in range(1, int(minutes * 60 * 20)):
        clock.tick()
        if step % 20 == 0:
            source.poll()
            source.cluster_log()
        else:
            source.check()
        if step % 200 == 0:
            source.server_facts()
            source.stats()


def test_cpu_used_over_time_stays_within_the_share_whatever_a_read_costs() -> None:
    reads_share = 0.05 * sum(SHARE_SPLIT.values())  # the rest is left for the agent's own work
    for cost in (0.0003, 0.01, 0.1, 0.3):  # librados ... one `ceph` process per command
        ceph = ScriptedCeph(cost=cost)
        clock = Clock()
        source = source_of(ceph, clock, cpu_share=0.05)
        source.poll()
        start_cpu, start = ceph.cpu, clock.now
        run_agent_like(source, clock, minutes=10)
        share = (ceph.cpu - start_cpu) / (clock.now - start)
        assert share <= reads_share * 1.05, (cost, share)


def test_reads_too_costly_for_the_share_still_run_now_and_then() -> None:
    ceph = ScriptedCeph(cost=4.0)  # 7 commands a poll: 28 s of CPU, 2,800 s of spacing at 1 %
    clock = Clock()
    source = source_of(ceph, clock, cpu_share=0.05)
    source.poll()
    run_agent_like(source, clock, minutes=20)
    assert source.reads["check"] >= 20 * 60 / MAX_READ_INTERVAL_S["check"] - 1
    assert source.reads["poll"] >= 20 * 60 / MAX_READ_INTERVAL_S["poll"] - 1


def test_a_command_lets_the_next_read_through_at_once() -> None:
    ceph = ScriptedCeph(cost=0.25)
    clock = Clock()
    source = source_of(ceph, clock)
    source.poll()
    clock.now += 1.0
    ceph.sent.clear()
    assert source.poll() == {}  # held back by the pacer
    assert ceph.sent == []
    rc, _, err = source.execute("osd set", {"key": "noout"})
    assert (rc, err) == (0, "noout is set")
    changed = source.poll()  # what the agent does right after a command
    assert changed["osd_map"][1]["flags_set"] == ["noout"]


def test_a_failing_backend_hands_over_to_the_next_and_is_reported_once(caplog) -> None:
    broken, working = ScriptedCeph(), ScriptedCeph()
    broken.name = "bridge"
    working.name = "cli"
    source = CephSource("/nonexistent/ceph.conf", backends=[broken, working], clock=Clock(), log_dir="/nonexistent",
                        cpu_clock=lambda: 0.0)
    broken.fail["status"] = OSError("the librados worker is gone")
    caplog.set_level(logging.WARNING, logger="calamari.collector.ceph")
    for _ in range(5):
        source.query("status")
    assert working.sent.count("status") == 5
    assert source.backend_used == {"bridge": 0, "cli": 5}
    assert caplog.text.count("bridge failed on status") == 1
    del broken.fail["status"]
    caplog.set_level(logging.INFO, logger="calamari.collector.ceph")
    source.query("status")
    assert source.backend_used["bridge"] == 1 and "bridge works again" in caplog.text


def test_the_last_backend_failing_is_the_source_failing() -> None:
    ceph = ScriptedCeph()
    source = source_of(ceph)
    ceph.fail["status"] = OSError("monitors unreachable")
    with pytest.raises(OSError, match="monitors unreachable"):
        source.check()


def test_facts_and_stats_are_paced_too() -> None:
    ceph = ScriptedCeph(cost=0.5)
    clock = Clock()
    source = source_of(ceph, clock)
    source.poll()
    assert source.server_facts() and source.stats()
    clock.now += 10.0
    assert source.server_facts() == [] and source.stats() == []
    clock.now += MAX_READ_INTERVAL_S["facts"]  # the longest spacing
    assert source.server_facts() and source.stats()


def test_an_unknown_client_is_refused() -> None:
    with pytest.raises(ValueError, match="client must be one of"):
        CephSource("/nonexistent/ceph.conf", client="telepathy", backends=[ScriptedCeph()], log_dir="/nonexistent")
