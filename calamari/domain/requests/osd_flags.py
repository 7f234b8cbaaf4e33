"""Planning changes to the cluster's OSD flags (noout, pause, ...)."""

from __future__ import annotations

from calamari.domain.model import ClusterModel
from calamari.domain.requests.cluster_facts import cluster_of
from calamari.domain.requests.plan import Plan, RequestRejected, command

OSD_FLAGS = ("pause", "noup", "nodown", "noout", "noin", "nobackfill", "norebalance", "norecover",
             "noscrub", "nodeep-scrub", "nosnaptrim")


def osd_flags(cluster_flags: list[str]) -> dict[str, bool]:
    present = set(cluster_flags)
    flags = {f: f in present for f in OSD_FLAGS}
    flags["pause"] = {"pauserd", "pausewr"} <= present
    return flags


def plan_osd_config(model: ClusterModel, fsid: str, body: dict[str, bool]) -> Plan | None:
    cluster = cluster_of(model, fsid)
    current = osd_flags(cluster.flags)
    unknown = [k for k in body if k not in OSD_FLAGS]
    if unknown:
        raise RequestRejected("unknown OSD flags", {k: f"not an OSD flag; known: {', '.join(OSD_FLAGS)}" for k in unknown})
    wanted = {k: v for k, v in body.items() if v is not None and current[k] != v}
    if not wanted:
        return None
    commands = [command("osd set" if v else "osd unset", key=k) for k, v in sorted(wanted.items())]
    to_set = [f for k, v in wanted.items() if v for f in (("pauserd", "pausewr") if k == "pause" else (k,))]
    to_unset = [f for k, v in wanted.items() if not v for f in (("pauserd", "pausewr") if k == "pause" else (k,))]
    words = ", ".join(f"{'set' if v else 'unset'} {k}" for k, v in sorted(wanted.items()))
    return Plan("update", f"Updating OSD flags ({words})", ["osd_flags"], commands,
                [{"check": "flags", "set": sorted(to_set), "unset": sorted(to_unset)}], wanted)
