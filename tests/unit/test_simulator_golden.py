"""The simulator is deterministic: the same spec and clock give the same cluster and the same
messages. A fixed script (a few hundred ticks of several clusters, with write commands, read-only
commands, sync objects, stats, host facts and host log files along the way) must give, byte for
byte, the documents recorded in fixtures/simulator_golden.json.

The digests there were recorded from the simulator as it was when it was one module, before it was
split into a package by job; re-record them (`python tests/unit/test_simulator_golden.py --record`)
only for a change that is meant to alter what the simulator says."""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from collector.simulator import SimulatedCluster

FIXTURE = Path(__file__).with_name("fixtures") / "simulator_golden.json"
TICKS = 300
SPECS = {
    "default": "hosts=3,osds=9,pools=2,pgs=128,seed=1",
    "churning": "hosts=4,osds=12,pools=5,pgs=320,seed=11,churn=0.05",
    "wide": "hosts=7,osds=40,pools=6,pgs=2000,seed=3,churn=0.02,mons=5",
    "tiny": "hosts=1,osds=2,pools=1,pgs=16,seed=5,churn=0.3",
    "empty": "hosts=2,osds=3,pools=0,pgs=0,seed=9,churn=0.1,mons=1",
}
# the tick at which the script replaces the CRUSH map with the fixture's text
SET_CRUSH_MAP_TICK = 150


class StepClock:
    """A clock that moves one second per reading, so that any change in when (or how often) the
    simulator reads the time changes its output."""

    def __init__(self) -> None:
        self.now = 1_790_000_000.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


# run one every other tick, in this order: most write commands, their refusals, and reads in between
COMMANDS: list[tuple[str, dict[str, Any]]] = [
    ("osd pool create", {"pool": "golden", "pg_num": 24}),
    ("osd pool create", {"pool": "golden", "pg_num": 24}),
    ("osd pool create", {"pool": "", "pg_num": 8}),
    ("osd pool create", {"pool": "big", "pg_num": 70000}),
    ("osd pool create", {"pool": "ec", "pg_num": 8, "pool_type": "erasure", "rule": "ec21"}),
    ("osd pool create", {"pool": "norule", "pg_num": 8, "rule": "nothing"}),
    ("osd pool create", {"pool": "two", "pg_num": 8, "size": 2}),
    ("osd pool set", {"pool": "golden", "var": "pg_num", "val": "40"}),
    ("osd pool set", {"pool": "golden", "var": "size", "val": "2"}),
    ("osd pool set", {"pool": "golden", "var": "size", "val": "9"}),
    ("osd pool set", {"pool": "golden", "var": "min_size", "val": "1"}),
    ("osd pool set", {"pool": "golden", "var": "min_size", "val": "5"}),
    ("osd pool set", {"pool": "golden", "var": "pgp_num", "val": "16"}),
    ("osd pool set", {"pool": "golden", "var": "pg_num", "val": "0"}),
    ("osd pool set", {"pool": "golden", "var": "crush_rule", "val": "ec21"}),
    ("osd pool set", {"pool": "golden", "var": "crush_rule", "val": "0"}),
    ("osd pool set", {"pool": "golden", "var": "crush_rule", "val": "nothing"}),
    ("osd pool set", {"pool": "golden", "var": "pg_autoscale_mode", "val": "warn"}),
    ("osd pool set", {"pool": "golden", "var": "pg_autoscale_mode", "val": "maybe"}),
    ("osd pool set", {"pool": "golden", "var": "hashpspool", "val": "false"}),
    ("osd pool set", {"pool": "golden", "var": "hashpspool", "val": "false", "yes_i_really_mean_it": True}),
    ("osd pool set", {"pool": "golden", "var": "hashpspool", "val": "perhaps"}),
    ("osd pool set", {"pool": "golden", "var": "colour", "val": "red"}),
    ("osd pool set", {"pool": "nothing", "var": "size", "val": "2"}),
    ("osd pool set", {"pool": "golden", "var": "size", "val": "x"}),
    ("osd pool set-quota", {"pool": "golden", "field": "max_bytes", "val": "1024"}),
    ("osd pool set-quota", {"pool": "golden", "field": "max_objects", "val": "100"}),
    ("osd pool set-quota", {"pool": "golden", "field": "max_bytes", "val": "-1"}),
    ("osd pool set-quota", {"pool": "golden", "field": "colour", "val": "1"}),
    ("osd pool set-quota", {"pool": "nothing", "field": "max_bytes", "val": "1"}),
    ("osd pool set-quota", {"pool": "rbd", "field": "max_bytes", "val": "1024"}),
    ("health", {}),
    ("osd pool set-quota", {"pool": "rbd", "field": "max_bytes", "val": "0"}),
    ("osd pool rename", {"srcpool": "golden", "destpool": "golden2"}),
    ("osd pool rename", {"srcpool": "golden", "destpool": "golden2"}),
    ("osd pool rename", {"srcpool": "nothing", "destpool": "other"}),
    ("osd pool rename", {"srcpool": "golden2", "destpool": "rbd"}),
    ("osd out", {"ids": ["1"]}),
    ("osd pool stats", {}),
    ("osd out", {"ids": ["osd.1", "0"]}),
    ("osd pool stats", {}),
    ("osd in", {"ids": ["1", "0"]}),
    ("osd in", {"ids": ["99"]}),
    ("osd in", {}),
    ("osd down", {"ids": ["0"]}),
    ("osd down", {"ids": ["0"]}),
    ("osd reweight", {"id": 1, "weight": 0.5}),
    ("osd reweight", {"id": 1, "weight": 2.0}),
    ("osd set", {"key": "noout"}),
    ("osd set", {"key": "pause"}),
    ("osd set", {"key": "bogus"}),
    ("osd unset", {"key": "pause"}),
    ("osd scrub", {"who": "1"}),
    ("osd deep-scrub", {"who": "*"}),
    ("osd repair", {"who": "0"}),
    ("pg scrub", {"pgid": "1.0"}),
    ("pg deep-scrub", {"pgid": "1.1"}),
    ("pg repair", {"pgid": "99.0"}),
    ("pg scrub", {"pgid": "1.zz"}),
    ("osd crush add-bucket", {"name": "rack1", "type": "rack"}),
    ("osd crush add-bucket", {"name": "rack1", "type": "rack"}),
    ("osd crush add-bucket", {"name": "bad name", "type": "rack"}),
    ("osd crush add-bucket", {"name": "r2", "type": "osd"}),
    ("osd crush move", {"name": "rack1", "args": ["root=default"]}),
    ("osd crush move", {"name": "rack1", "args": ["root=default"]}),
    ("osd crush move", {"name": "node0000", "args": ["rack=rack1"]}),
    ("osd crush move", {"name": "rack1", "args": ["host=node0000"]}),
    ("osd crush move", {"name": "default", "args": ["rack=rack1"]}),
    ("osd crush move", {"name": "nothing", "args": ["root=default"]}),
    ("osd crush move", {"name": "rack1", "args": ["root=default", "row=x"]}),
    ("osd crush move", {"name": "rack1", "args": ["shelf=default"]}),
    ("osd crush move", {"name": "rack1", "args": ["root=nowhere"]}),
    ("osd crush move", {"name": "rack1", "args": ["rack=default"]}),
    ("osd crush move", {"name": "osd.0", "args": ["host=node0000"]}),
    ("osd crush move", {"name": "osd.1", "args": ["rack=rack1"]}),
    ("osd crush move", {"name": "osd.1", "args": ["host=node0000"]}),
    ("osd crush move", {"name": "osd.0", "args": ["host=node0001"]}),
    ("osd metadata", {"id": 0}),
    ("osd crush move", {"name": "osd.0", "args": ["host=node0000"]}),
    ("osd crush reweight", {"name": "osd.1", "weight": 2.5}),
    ("osd crush reweight", {"name": "rack1", "weight": 1.0}),
    ("osd crush reweight", {"name": "osd.999", "weight": 1.0}),
    ("osd crush reweight", {"name": "osd.1", "weight": 70000.0}),
    ("osd crush unlink", {"name": "osd.0"}),
    ("osd crush unlink", {"name": "osd.0"}),
    ("osd crush unlink", {"name": "nothing"}),
    ("osd crush unlink", {"name": "osd.1", "ancestor": "nowhere"}),
    ("osd crush unlink", {"name": "node0000", "ancestor": "default"}),
    ("osd crush rename-bucket", {"srcname": "rack1", "dstname": "rack-a"}),
    ("osd crush rename-bucket", {"srcname": "rack1", "dstname": "rack-a"}),
    ("osd crush rename-bucket", {"srcname": "osd.1", "dstname": "disk"}),
    ("osd crush rename-bucket", {"srcname": "nothing", "dstname": "other"}),
    ("osd crush rename-bucket", {"srcname": "rack-a", "dstname": "default"}),
    ("osd crush rename-bucket", {"srcname": "rack-a", "dstname": "no way"}),
    ("osd crush rm", {"name": "rack-a"}),
    ("osd crush rm", {"name": "osd.1"}),
    ("osd crush rm", {"name": "nothing"}),
    ("osd crush rule create-replicated", {"name": "fast", "root": "default", "type": "host"}),
    ("osd crush rule create-replicated", {"name": "fast", "root": "default", "type": "host"}),
    ("osd crush rule create-replicated", {"name": "disks", "root": "default", "type": "osd", "class": "hdd"}),
    ("osd crush rule create-replicated", {"name": "ssd", "root": "default", "type": "host", "class": "ssd"}),
    ("osd crush rule create-replicated", {"name": "x", "root": "nowhere", "type": "host"}),
    ("osd crush rule create-replicated", {"name": "y", "root": "default", "type": "shelf"}),
    ("osd crush rule create-replicated", {"name": "bad name", "root": "default", "type": "host"}),
    ("osd crush rule create-erasure", {"name": "ecrule"}),
    ("osd crush rule create-erasure", {"name": "ecrule2", "profile": "ec21"}),
    ("osd crush rule create-erasure", {"name": "ecrule"}),
    ("osd crush rule create-erasure", {"name": "ecrule3", "profile": "nothing"}),
    ("osd crush rule create-erasure", {"name": "bad name"}),
    ("osd crush rm", {"name": "default"}),
    ("osd crush rename-bucket", {"srcname": "default", "dstname": "top"}),
    ("osd crush rule create-erasure", {"name": "ecrule4"}),
    ("osd crush rename-bucket", {"srcname": "top", "dstname": "default"}),
    ("osd crush rule rename", {"srcname": "fast", "dstname": "faster"}),
    ("osd crush rule rename", {"srcname": "fast", "dstname": "faster"}),
    ("osd crush rule rename", {"srcname": "nothing", "dstname": "other"}),
    ("osd crush rule rename", {"srcname": "faster", "dstname": "ecrule"}),
    ("osd crush rule rename", {"srcname": "faster", "dstname": "bad name"}),
    ("osd crush rule rm", {"name": "faster"}),
    ("osd crush rule rm", {"name": "faster"}),
    ("osd crush rule rm", {"name": "replicated_rule"}),
    ("osd pool delete", {"pool": "golden2"}),
    ("osd pool delete", {"pool": "golden2", "pool2": "golden2", "yes_i_really_really_mean_it": True}),
    ("osd pool rm", {"pool": "golden2", "pool2": "golden2", "yes_i_really_really_mean_it": True}),
    ("osd unset", {"key": "noout"}),
    ("osd pool set", {"pool": "rbd", "var": "pg_num", "val": "8"}),
    ("osd pool delete", {"pool": "ec", "pool2": "ec", "yes_i_really_really_mean_it": True}),
    ("osd pool delete", {"pool": "two", "pool2": "two", "yes_i_really_really_mean_it": True}),
    ("osd pool delete", {"pool": "rbd", "pool2": "rbd", "yes_i_really_really_mean_it": True}),
    ("pg dump", {"dumpcontents": ["pgs_brief"]}),
    ("no such command", {}),
]

# every read-only command, run every 30 ticks
READ_COMMANDS: list[tuple[str, dict[str, Any]]] = [
    ("status", {}), ("health", {}), ("health detail", {}), ("df", {}), ("osd dump", {}), ("osd stat", {}),
    ("osd ls", {}), ("osd pool ls", {}), ("osd pool ls", {"detail": True}), ("osd crush dump", {}),
    ("osd crush rule dump", {}), ("osd crush rule dump", {"name": "replicated_rule"}),
    ("osd crush rule dump", {"name": "nothing"}), ("osd crush rule ls", {}), ("osd tree", {}), ("osd df", {}),
    ("osd pool get", {"pool": "rbd", "var": "all"}), ("osd pool get", {"pool": "rbd", "var": "size"}),
    ("osd pool get", {"pool": "rbd", "var": "erasure_code_profile"}),
    ("osd pool get", {"pool": "pool0004", "var": "erasure_code_profile"}),
    ("osd pool get", {"pool": "rbd", "var": "colour"}), ("osd pool get", {"pool": "nothing", "var": "size"}),
    ("osd pool get-quota", {"pool": "rbd"}), ("osd pool get-quota", {"pool": "nothing"}),
    ("osd pool stats", {}), ("osd pool stats", {"pool_name": "rbd"}), ("osd pool stats", {"pool_name": "nothing"}),
    ("osd erasure-code-profile ls", {}), ("osd erasure-code-profile get", {"name": "ec21"}),
    ("osd erasure-code-profile get", {"name": "nothing"}), ("osd perf", {}), ("osd blocked-by", {}),
    ("pg dump", {"dumpcontents": "summary"}), ("pg dump", {"dumpcontents": ["pgs_brief"]}),
    ("pg dump", {"dumpcontents": ["summary", "pgs_brief"]}), ("pg dump", {}), ("pg ls", {}), ("fs ls", {}),
    ("mgr dump", {}), ("mon stat", {}), ("config get", {"who": "osd.1"}),
    ("config get", {"who": "mgr", "key": "mgr/dashboard/ssl"}), ("config get", {"who": "global", "key": "nothing"}),
    ("config get", {"who": "global.x"}), ("config get", {"who": "bogus"}), ("node ls", {}), ("osd metadata", {}),
    ("osd metadata", {"id": 1}), ("osd metadata", {"id": 999}), ("mon dump", {}), ("quorum_status", {}),
    ("fs dump", {}), ("config dump", {}), ("pg stat", {}), ("versions", {}),
]
SYNC_OBJECTS = ("osd_map", "mon_map", "mon_status", "fs_map", "pg_summary", "crush_map", "df", "health", "config",
                "osd_metadata", "nothing")


def host_log_files(sim: SimulatedCluster) -> Iterator[Any]:
    for host in [*sim.hosts, f"{sim.hosts[-1]}.ceph.example", "elsewhere"]:
        logs = sim.host_logs(host)
        if logs is None:
            yield None
            continue
        paths = logs.list()
        yield paths
        for path in paths:
            yield logs.tail(path, 1000, 1 << 30)


def set_crush_map(sim: SimulatedCluster, texts: dict[str, Any]) -> Iterator[Any]:
    """Maps the simulator refuses, then one it applies, then that one again (the resend of the
    update that made the current version)."""
    version = sim.crush_version
    text = texts["accepted"]
    yield sim.execute("osd setcrushmap", {"prior_version": version - 1}, input=text)  # stale
    yield sim.execute("osd setcrushmap", {"prior_version": version}, input="")
    yield sim.execute("osd setcrushmap", {"prior_version": version}, input="device 0 osd.0\nnonsense")
    for refused in texts["refused"]:
        yield sim.execute("osd setcrushmap", {"prior_version": version}, input=refused)
    yield sim.execute("osd setcrushmap", {"prior_version": version}, input=text)
    yield sim.execute("osd setcrushmap", {"prior_version": version}, input=text)
    yield sim.crush_map()


def opening(sim: SimulatedCluster) -> Iterator[Any]:
    yield sim.fsid, sim.hosts, sim.reporting_hosts()
    yield sim.sync_objects()


def ticks(sim: SimulatedCluster, crush_texts: dict[str, Any] | None, last: int = TICKS) -> Iterator[Any]:
    """Ticks 1..last of the script, with what the simulator says along them, in order."""
    commands = iter(COMMANDS)
    for tick in range(1, last + 1):
        yield sim.poll()
        yield sim.cluster_log()
        if tick % 2 == 0:
            command = next(commands, None)
            if command is not None:
                yield command, sim.execute(*command)
        if tick % 7 == 0:
            yield sim.stats()
            yield sim.server_facts()
        if tick % 30 == 0:
            for command in READ_COMMANDS:
                yield command, sim.execute(*command)
            for name in SYNC_OBJECTS:
                yield sim.current(name)
            yield from host_log_files(sim)
        if tick == SET_CRUSH_MAP_TICK and crush_texts is not None:
            yield from set_crush_map(sim, crush_texts)


def script(spec: str, crush_texts: dict[str, Any] | None) -> Iterator[Any]:
    """Everything the simulator says along the whole script, in order."""
    sim = SimulatedCluster(spec, clock=StepClock())
    yield from opening(sim)
    yield from ticks(sim, crush_texts)
    yield sim.sync_objects()


def run_until_crush_map_change(spec: str) -> SimulatedCluster:
    """The simulator as the script leaves it just before it replaces the CRUSH map."""
    sim = SimulatedCluster(spec, clock=StepClock())
    for _ in (*opening(sim), *ticks(sim, None, SET_CRUSH_MAP_TICK)):
        pass
    return sim


def digest(outputs: Iterator[Any], dump: Path | None = None) -> str:
    hasher = hashlib.sha256()
    lines = []
    for output in outputs:
        line = json.dumps(output, separators=(",", ":"))
        hasher.update(line.encode())
        hasher.update(b"\n")
        if dump is not None:
            lines.append(line)
    if dump is not None:
        dump.write_text("\n".join(lines) + "\n")
    return hasher.hexdigest()


def recorded() -> dict[str, Any]:
    return json.loads(FIXTURE.read_text())


@pytest.mark.parametrize("name", sorted(SPECS))
def test_the_same_spec_and_clock_give_the_recorded_output(name: str) -> None:
    golden = recorded()
    assert golden["specs"][name] == SPECS[name]
    assert digest(script(SPECS[name], golden["crush_text"].get(name))) == golden["digests"][name]


def test_the_script_replaces_the_crush_map() -> None:
    """The recorded CRUSH text is applied (so the digests cover `osd setcrushmap`)."""
    golden = recorded()
    for name, texts in golden["crush_text"].items():
        outputs = list(set_crush_map(run_until_crush_map_change(SPECS[name]), texts))
        refused = len(texts["refused"])
        assert [rc for rc, _, _ in outputs[:-1]] == [-1, -22, -22] + [-22] * refused + [0, 0]


def record(dump_dir: Path | None) -> None:
    """Write the fixture from the simulator as it is now (and, given a folder, every output line
    by spec there, to compare two versions with diff)."""
    from calamari.crush.text_render import render_crush_text

    crush_text = {}
    for name in ("churning", "wide"):
        sim = run_until_crush_map_change(SPECS[name])
        text = render_crush_text(sim.crush_map())
        host = sim.hosts[-1]
        # a new rack between the root and the last host, and a rule taking a device class
        accepted = text.replace("root default {", f"rack golden-rack {{\n\talg straw2\n\thash 0\n"
                                                  f"\titem {host} weight 12.000\n}}\nroot default {{", 1)
        root = accepted.index("root default {")
        accepted = accepted[:root] + accepted[root:].replace(f"\titem {host} weight", "\titem golden-rack weight", 1)
        accepted = accepted.replace("# end crush map", "rule golden_rule {\n\tid 9\n\ttype replicated\n\tmin_size 1\n"
                                    "\tmax_size 10\n\tstep set_chooseleaf_vary_r 1\n\tstep take default class hdd\n"
                                    "\tstep chooseleaf firstn 0 type host\n\tstep emit\n}\n# end crush map")
        first_rule = text.index("rule ")
        refused = [
            text.replace("type 2 chassis", "type 2 shelf"),
            text.replace("device 1 osd.1 class hdd\n", ""),
            text.replace("device 1 osd.1 class hdd", "device 1 osd.1 class ssd"),
            text.replace("tunable choose_total_tries 50", "tunable choose_total_tries 51"),
            text.replace("alg straw2", "alg straw", 1),
            text[:first_rule] + "# end crush map\n",  # no rules: the pools' rules are gone
            text.replace("\tid -3\t", "\tid -2\t", 1),  # -2 is the shadow of the root's -1
        ]
        crush_text[name] = {"accepted": accepted, "refused": refused}
    digests = {name: digest(script(spec, crush_text.get(name)),
                            dump_dir / f"{name}.jsonl" if dump_dir else None)
               for name, spec in SPECS.items()}
    FIXTURE.parent.mkdir(exist_ok=True)
    FIXTURE.write_text(json.dumps({"specs": SPECS, "crush_text": crush_text, "digests": digests}, indent=1) + "\n")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--record"]:
        record(Path(sys.argv[2]) if len(sys.argv) > 2 else None)
    elif sys.argv[1:2] == ["--dump"]:
        golden = recorded()
        folder = Path(sys.argv[2])
        for spec_name, spec_text in SPECS.items():
            print(spec_name, digest(script(spec_text, golden["crush_text"].get(spec_name)), folder / f"{spec_name}.jsonl"))
    else:
        sys.exit("usage: test_simulator_golden.py --record [DUMP_DIR] | --dump DUMP_DIR")
