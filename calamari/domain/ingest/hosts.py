"""What a host's collector reports about the host (`server_facts`): its facts and services, and
the servers it turns out to be the same as (a short host name, a loopback name it used before)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from calamari.domain import ids
from calamari.domain.contact import heartbeat
from calamari.domain.maps import InvalidMap
from calamari.domain.model_state import ModelState
from calamari.domain.server import LOOPBACK_NAMES, Server, facts_changed

# The facts of a host kept on its server.
KEPT_FACTS = ("hostname", "boot_time", "kernel", "cpu_count", "mem_total", "frontend_addr", "backend_addr",
              "frontend_iface", "backend_iface")


def server_facts(model: ModelState, fsid: str | None, facts: dict[str, Any], at: datetime) -> None:
    """A host's report: its server is discovered, rediscovered or reclaimed, its facts and services
    updated, and it is in contact. Raises InvalidMap, with nothing changed, when it is malformed."""
    fqdn = facts.get("fqdn") or facts.get("hostname")
    if not isinstance(fqdn, str) or not fqdn:
        raise InvalidMap("server_facts", "fqdn", "missing")
    services = facts.get("services", [])
    if not isinstance(services, list) or not all(
        isinstance(s, dict) and isinstance(s.get("type"), str) and s.get("id") is not None
        for s in services
    ):
        raise InvalidMap("server_facts", "services", "must be a list of {type, id, ...}")
    server = model.servers.get(fqdn)
    renamed = server is None or server.merged_into is not None
    if server is None:
        server = model.create(Server, Server.ServerDiscovered, ids.server_id(fqdn), at, fqdn=fqdn,
                              hostname=str(facts.get("hostname") or fqdn.split(".")[0]))
    elif server.forgotten:
        model.emit(server, Server.ServerRediscovered, at)
    if server.merged_into is not None:
        model.emit(server, Server.ServerReclaimed, at)
    kept = {k: facts[k] for k in KEPT_FACTS if k in facts}
    if facts_changed(server.facts, kept):
        model.emit(server, Server.ServerFactsChanged, at, facts=kept)
    inherited = _merge_short_name(model, server, at)
    if renamed:
        inherited += _merge_loopback_names(model, server, at)
    reported = [{"fsid": s.get("fsid") or fsid, "type": s["type"], "id": str(s["id"]),
                 "running": bool(s.get("running", True)), "version": s.get("version")}
                for s in services]
    reported_fsids = {s["fsid"] for s in reported} | ({fsid} if fsid else set())
    reported_keys = {(s["fsid"], s["type"], s["id"]) for s in reported}
    # The host's report replaces its services of the clusters it names, except OSDs: where
    # an OSD lives is the OSD metadata's to say (the report adds running state and version).
    others = [s for s in server.services + inherited
              if (s["fsid"], s["type"], s["id"]) not in reported_keys
              and (s["fsid"] not in reported_fsids or s["type"] == "osd")]
    set_services(model, server, others + reported, at)
    heartbeat(model, fsid, fqdn, at)


def _merge_loopback_names(model: ModelState, server: Server, at: datetime) -> list[dict[str, Any]]:
    """The host reported itself as `localhost` before (getfqdn() on a host whose /etc/hosts
    lists its name after localhost): that server is this one, and gives its services over."""
    inherited: list[dict[str, Any]] = []
    for other in list(model.servers.values()):
        if other is not server and other.hostname == server.hostname and other.merged_into is None \
                and not other.forgotten and other.fqdn.split(".", 1)[0] in LOOPBACK_NAMES:
            inherited += other.services
            model.emit(other, Server.ServerMergedInto, at, fqdn=server.fqdn)
            model.last_contact_host.pop(other.fqdn, None)
    return inherited


def _merge_short_name(model: ModelState, server: Server, at: datetime) -> list[dict[str, Any]]:
    """A server first named by its short host name (from the OSD metadata, before its
    collector reported) is this one: it gives its services over and is retired."""
    short = model.servers.get(server.hostname)
    if short is None or short is server or short.managed or short.merged_into is not None:
        return []
    inherited = list(short.services)
    model.emit(short, Server.ServerMergedInto, at, fqdn=server.fqdn)
    return inherited


def set_services(model: ModelState, server: Server, services: list[dict[str, Any]], at: datetime) -> None:
    """Record a server's services (sorted by cluster, type and id) when they changed."""
    services = sorted(services, key=lambda s: (s["fsid"], s["type"], _id_order(s["id"])))
    if services != server.services:
        def key(s: dict[str, Any]) -> str:
            return f"{s['type']}.{s['id']}"
        old = {key(s) for s in server.services}
        new = {key(s) for s in services}
        model.emit(server, Server.ServerServicesChanged, at, services=services,
                   added=sorted(new - old), removed=sorted(old - new))


def _id_order(value: str) -> tuple[int, str]:
    # ASCII and short: isdigit() also takes '²', and int() refuses thousands of digits
    return (int(value), "") if value.isascii() and value.isdigit() and len(value) < 19 else (1 << 62, value)
