"""The documents of the REST API and of `calamari-ctl history`, shaped in this one place.

Two steps, both here: a row per aggregate (`osd_row`, `pool_row`, `cluster_row`, `server_row`,
`request_row`), rendered when an event changes it and kept by the ReadModel; and the document a
route answers, which joins a row with what other objects say (`osd_document`: the pools an OSD
serves, one list per CRUSH root that its OSDs share (`served_pools`), and the server it runs on;
`server_document`; `cluster_document`), or is shaped from the cluster's maps as they are (CRUSH
rules, buckets and types, monitors, configuration, the log).
The live routes and the history of a past state (`with_live_fields`) call the same functions.
Pure: times come in as arguments."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from calamari.domain.cluster import Cluster
from calamari.domain.model import ClusterModel
from calamari.domain.osd import Osd
from calamari.domain.pool import Pool
from calamari.domain.requests import OSD_COMMANDS
from calamari.domain.server import Server, osd_service_keys
from calamari.domain.user_request import UserRequest

CRUSH_RULE_TYPES = {1: "replicated", 3: "erasure"}
CRUSH_WEIGHT_ONE = 0x10000  # Ceph keeps CRUSH weights as 16.16 fixed point
# The host facts a server's document shows, in its order.
SERVER_FACTS = ("boot_time", "kernel", "cpu_count", "mem_total", "frontend_addr", "backend_addr", "frontend_iface",
                "backend_iface")


# ---------------------------------------------------------------------------- rows (per aggregate)

def osd_row(osd: Osd) -> dict[str, Any]:
    md = osd.metadata
    return {
        "id": osd.osd_id,
        "uuid": osd.uuid,
        "up": osd.up,
        "in": osd.in_,
        "reweight": osd.reweight,
        "primary_affinity": osd.primary_affinity,
        "crush_weight": osd.crush_weight,
        "device_class": osd.device_class,
        "server": md.get("hostname") or osd.host,
        "crush_host": osd.host,
        "crush_node_ancestry": osd.crush_ancestry,
        "public_addr": osd.public_addr,
        "cluster_addr": osd.cluster_addr,
        "osd_data": md.get("osd_data"),
        "backend_device_node": md.get("devices") or None,
        "objectstore": md.get("osd_objectstore"),
        "ceph_version": md.get("ceph_version_short"),
        "epoch": osd.epoch,
    }


def pool_row(pool: Pool) -> dict[str, Any]:
    s = pool.settings
    return {
        "id": pool.pool_id,
        "name": pool.name,
        "type": s.get("type"),
        "size": s.get("size"),
        "min_size": s.get("min_size"),
        "pg_num": s.get("pg_num"),
        "pgp_num": s.get("pgp_num"),
        "crush_ruleset": s.get("crush_rule"),
        "crush_rule": s.get("crush_rule"),
        "crash_replay_interval": 0,
        "hashpspool": s.get("hashpspool"),
        "full": s.get("full"),
        "erasure_code_profile": s.get("erasure_code_profile") or None,
        "pg_autoscale_mode": s.get("pg_autoscale_mode"),
        "application": s.get("application", []),
        "quota_max_objects": pool.quota_max_objects,
        "quota_max_bytes": pool.quota_max_bytes,
        "epoch": pool.epoch,
    }


def cluster_row(cluster: Cluster) -> dict[str, Any]:
    return {
        "id": cluster.fsid,
        "name": cluster.name,
        "update_time": cluster.modified_on.isoformat(),
        "health": {"status": cluster.health_status, "checks": cluster.health_checks},
        "flags": cluster.flags,
        "mons": cluster.mons,
        "quorum": cluster.quorum,
        "election_epoch": cluster.election_epoch,
        "pg_by_state": cluster.pg_by_state,
        "pgmap_version": cluster.pgmap_version,
        "filesystems": cluster.filesystems,
        "stale": cluster.stale,
    }


def server_row(server: Server) -> dict[str, Any]:
    facts = server.facts
    return {
        "fqdn": server.fqdn,
        "hostname": server.hostname,
        "managed": server.managed,
        "contact_lost": server.contact_lost,
        "last_contact": server.modified_on.isoformat(),
        **{name: facts.get(name) for name in SERVER_FACTS},
        "services": server.services,
    }


def request_row(req: UserRequest) -> dict[str, Any]:
    """A user request's document as it is: no other object adds to it."""
    return {
        "id": req.request_id,
        "fsid": req.fsid,
        "username": req.username,
        "kind": req.kind,
        "target": req.target,
        "headline": req.headline,
        "state": req.state,
        "status": req.status,
        "error": req.error,
        "error_message": req.error_message,
        "requested_at": req.created_on.isoformat(),
        "completed_at": req.modified_on.isoformat() if req.state == "complete" else None,
        "body": req.body,
    }


# ---------------------------------------------------------------------------- OSDs

def rule_root(rule: dict[str, Any]) -> str | None:
    """The CRUSH root a rule takes its OSDs from (its first `take` step), None when it names none."""
    return next((s.get("item_name") for s in rule.get("steps", []) if s.get("op") == "take"), None)


def pools_by_root(crush: dict[str, Any], pools: Iterable[dict[str, Any]]) -> dict[str | None, list[int]]:
    """Pool ids by the CRUSH root their rule takes from (an OSD serves the pools of its root);
    `pools`: pool rows in id order."""
    rules = {r["rule_id"]: rule_root(r) for r in crush.get("rules", [])}
    by_root: dict[str | None, list[int]] = {}
    for row in pools:
        by_root.setdefault(rules.get(row["crush_ruleset"]), []).append(row["id"])
    return by_root


def osd_server_fqdns(servers: Iterable[dict[str, Any]], fsid: str) -> dict[int, str]:
    """The fqdn of the server each OSD of the cluster runs on, from the servers' services (an
    OSD's metadata names its host as the host calls itself, often by its short name)."""
    return {osd_id: server["fqdn"] for server in servers
            for osd_fsid, osd_id in osd_service_keys(server["services"]) if osd_fsid == fsid}


def valid_osd_commands(row: dict[str, Any]) -> list[str]:
    return list(OSD_COMMANDS) if row["up"] else []


def served_pools(by_root: dict[str | None, list[int]]) -> dict[str | None, list[int]]:
    """The pools the OSDs under each CRUSH root serve (`by_root` from `pools_by_root`): the
    root's own, plus those whose rule names no root, which serve every OSD. One list per root,
    shared by all of its OSDs' documents; key None: OSDs outside any rule's root."""
    anywhere = by_root.get(None, [])
    return {root: sorted({*pools, *anywhere}) if anywhere and root is not None else pools
            for root, pools in {**by_root, None: anywhere}.items()}


def osd_pools(row: dict[str, Any], served: dict[str | None, list[int]]) -> list[int]:
    """The pools an OSD serves; `served` from `served_pools`."""
    ancestry = row["crush_node_ancestry"]
    root = ancestry[0] if ancestry else None
    return served.get(root, served[None]) if root is not None else served[None]


def osd_document(row: dict[str, Any], served: dict[str | None, list[int]],
                 server_fqdns: dict[int, str]) -> dict[str, Any]:
    """An OSD as the API shows it: its row, the server it runs on, the pools it serves and the
    commands it takes now. `served` from `served_pools`, `server_fqdns` from `osd_server_fqdns`."""
    # valid_osd_commands(row), inline: this runs for every OSD of a list of thousands
    return {**row, "server": server_fqdns.get(row["id"], row["server"]), "pools": osd_pools(row, served),
            "valid_commands": list(OSD_COMMANDS) if row["up"] else [],
            "backend_partition_path": None, "osd_journal": None}


# The fields of an OSD document, in its order (what `?fields=` may name)
OSD_FIELDS = ("id", "uuid", "up", "in", "reweight", "primary_affinity", "crush_weight", "device_class", "server",
              "crush_host", "crush_node_ancestry", "public_addr", "cluster_addr", "osd_data", "backend_device_node",
              "objectstore", "ceph_version", "epoch", "pools", "valid_commands", "backend_partition_path",
              "osd_journal")


# ---------------------------------------------------------------------------- servers and clusters

def server_document(row: dict[str, Any], fsid: str | None = None, last_heard: float | None = None,
                    ) -> dict[str, Any]:
    """A server with the services of one cluster (all when `fsid` is None) and their Ceph version
    when they agree on one. `last_heard`: when the host's collector was last heard from (a Unix
    time), which replaces the row's time of its last change."""
    services = [s for s in row["services"] if fsid is None or s["fsid"] == fsid]
    versions = {s.get("version") for s in services if s.get("version")}
    out = {**row, "services": services, "ceph_version": versions.pop() if len(versions) == 1 else None}
    if last_heard is not None:  # (the row's own time may be that of a 'contact lost' event: no contact)
        out["last_contact"] = datetime.fromtimestamp(last_heard, UTC).isoformat()
    return out


# The fields of a server document, in its order (what `?fields=` may name)
SERVER_FIELDS = ("fqdn", "hostname", "managed", "contact_lost", "last_contact", *SERVER_FACTS, "services",
                 "ceph_version")


def cluster_summary(row: dict[str, Any]) -> dict[str, Any]:
    """A cluster as the list of clusters shows it."""
    return {"id": row["id"], "name": row["name"], "update_time": row["update_time"]}


def contact_age(last: float | None, now: float) -> dict[str, Any]:
    """When the collector last confirmed the cluster's state as current, and how long before
    `now` (Unix times): it tells how old the shown state may be. None before the first
    heartbeat since a restart."""
    if last is None:
        return {"last_contact": None, "age_s": None}
    return {"last_contact": datetime.fromtimestamp(last, UTC).isoformat(), "age_s": round(max(0.0, now - last), 1)}


def cluster_document(row: dict[str, Any], counters: dict[str, Any], contact: dict[str, Any] | None = None,
                     ) -> dict[str, Any]:
    """One cluster: its row, the collector's contact (`contact_age`, live only) and its counters."""
    return {**row, **(contact or {}), "counters": counters}


def monitor_documents(cluster: Cluster, servers: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The cluster's monitors, with quorum membership and the server each runs on."""
    hosts = {s["id"]: server["fqdn"] for server in servers
             for s in server["services"] if s["type"] == "mon" and s["fsid"] == cluster.fsid}
    quorum = set(cluster.quorum)
    return [{"name": m["name"], "rank": m["rank"], "in_quorum": m["name"] in quorum, "addr": m["addr"],
             "server": hosts.get(m["name"])} for m in cluster.mons]


# ---------------------------------------------------------------------------- CRUSH

def osds_under(osds: Iterable[dict[str, Any]], root: str | None) -> int:
    """How many of the OSD rows are under the CRUSH root (all of them for None)."""
    return sum(1 for r in osds if root is None or root in r["crush_node_ancestry"])


def crush_rule_document(rule: dict[str, Any], osd_count: int) -> dict[str, Any]:
    """A CRUSH rule; `osd_count`: the OSDs under the root it takes from (`osds_under`)."""
    return {"id": rule["rule_id"], "name": rule["rule_name"], "ruleset": rule.get("ruleset", rule["rule_id"]),
            "type": CRUSH_RULE_TYPES.get(rule.get("type"), str(rule.get("type"))),
            "min_size": rule.get("min_size"), "max_size": rule.get("max_size"), "osd_count": osd_count,
            "steps": [{"op": s.get("op"), "type": s.get("type"), "num": s.get("num"), "item": s.get("item"),
                       "item_name": s.get("item_name")} for s in rule.get("steps", [])]}


def crush_rule_documents(crush: dict[str, Any], osds: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every CRUSH rule of the map, the OSDs under each root counted once."""
    counts: dict[str | None, int] = {}
    docs = []
    for rule in crush.get("rules", []):
        root = rule_root(rule)
        if root not in counts:
            counts[root] = osds_under(osds, root)
        docs.append(crush_rule_document(rule, counts[root]))
    return docs


def ruleset_documents(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rule documents grouped by ruleset, in ruleset order."""
    sets: dict[int, list[dict[str, Any]]] = {}
    for rule in rules:
        sets.setdefault(rule["ruleset"], []).append(rule)
    return [{"id": k, "rules": v} for k, v in sorted(sets.items())]


def crush_node_document(bucket: dict[str, Any]) -> dict[str, Any]:
    """A CRUSH bucket, with its weights and its items' as numbers (Ceph stores them in 16.16 fixed point)."""
    return {"id": bucket["id"], "name": bucket["name"], "bucket_type": bucket.get("type_name"),
            "weight": round(bucket.get("weight", 0) / CRUSH_WEIGHT_ONE, 5), "alg": bucket.get("alg"),
            "hash": bucket.get("hash"),
            "items": [{"id": i["id"], "weight": round(i.get("weight", 0) / CRUSH_WEIGHT_ONE, 5), "pos": i.get("pos")}
                      for i in bucket.get("items", [])]}


def crush_type_document(crush_type: dict[str, Any]) -> dict[str, Any]:
    return {"id": crush_type["type_id"], "name": crush_type["name"]}


# ---------------------------------------------------------------------------- configuration and log

def config_document(key: str, value: str) -> dict[str, Any]:
    return {"key": key, "value": value}


def cluster_log_document(entries: Iterable[Any]) -> dict[str, Any]:
    """Log entries as the text lines `ceph -w` prints (entries that are no mapping are left out)."""
    return {"lines": "\n".join(f"{e.get('stamp', '')} {e.get('name', '')} {e.get('priority', '')} "
                               f"{e.get('message', '')}" for e in entries if isinstance(e, dict))}


# ---------------------------------------------------------------------------- past states

def with_live_fields(model: ClusterModel, fsid: str, docs: dict[str, Any]) -> dict[str, Any]:
    """A past state's rows (calamari.domain.history.cluster_documents) as the live routes shape
    them: OSD pools and commands, server versions, cluster counters, from that state alone."""
    served = served_pools(pools_by_root(model.clusters[fsid].crush, docs["pool"]))
    server_fqdns = osd_server_fqdns(docs["server"], fsid)
    return {
        **docs,
        "cluster": cluster_document(docs["cluster"], docs["counters"]),
        "osd": [osd_document(row, served, server_fqdns) for row in docs["osd"]],
        "server": [server_document(row, fsid) for row in docs["server"]],
    }
