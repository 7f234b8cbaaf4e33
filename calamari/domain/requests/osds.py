"""Planning OSD requests: marking one down, in or out, reweighting it, and scrubs and repairs."""

from __future__ import annotations

from typing import Any

from calamari.domain.model import ClusterModel
from calamari.domain.requests.cluster_facts import cluster_of, osd_map_epoch
from calamari.domain.requests.expect import REWEIGHT_STEP
from calamari.domain.requests.plan import Plan, RequestRejected, command

OSD_COMMANDS = {"scrub": "osd scrub", "deep_scrub": "osd deep-scrub", "repair": "osd repair"}


def get_osd(model: ClusterModel, fsid: str, osd_id: int) -> Any:
    cluster_of(model, fsid)
    osd = model.osds.get(fsid, {}).get(osd_id)
    if osd is None or osd.removed:
        raise RequestRejected(f"no OSD {osd_id} in cluster {fsid}", status=404)
    return osd


def plan_osd_update(model: ClusterModel, fsid: str, osd_id: int, body: dict[str, Any]) -> Plan | None:
    """`body`: up (false only), in, reweight (0..1). None when nothing would change."""
    osd = get_osd(model, fsid, osd_id)
    commands: list[dict[str, Any]] = []
    fields: dict[str, Any] = {}
    ids_arg = [str(osd_id)]
    if body.get("up") is True and not osd.up:
        raise RequestRejected("an OSD cannot be marked up; it comes up by itself when its daemon runs",
                              {"up": "may only be set to false"})
    if body.get("up") is False and osd.up:
        commands.append(command("osd down", ids=ids_arg))
        fields["up"] = 0
    if body.get("in") is not None and body["in"] != osd.in_:
        commands.append(command("osd in" if body["in"] else "osd out", ids=ids_arg))
        fields["in"] = int(body["in"])
    reweight = body.get("reweight")
    if reweight is not None and abs(reweight - osd.reweight) >= REWEIGHT_STEP:
        if fields.get("in") == 0 or (not osd.in_ and "in" not in fields):
            raise RequestRejected("an OSD that is out has no reweight to set", {"reweight": "the OSD is out"})
        commands.append(command("osd reweight", id=osd_id, weight=reweight))
        fields["weight"] = reweight
    if not commands:
        return None
    changes = ", ".join(f"{k}={v}" for k, v in body.items() if v is not None)
    return Plan("update", f"Modifying osd.{osd_id} ({changes})", [f"osd:{osd_id}"], commands,
                [{"check": "osd", "id": osd_id, "fields": fields, "after": osd_map_epoch(model, fsid)}], body)


def valid_osd_commands(osd: Any) -> list[str]:
    return list(OSD_COMMANDS) if osd.up and not osd.removed else []


def plan_osd_command(model: ClusterModel, fsid: str, osd_ids: list[int], name: str) -> Plan:
    if name not in OSD_COMMANDS:
        raise RequestRejected(f"unknown OSD command {name!r}", {"command": f"one of {', '.join(OSD_COMMANDS)}"},
                              status=404)
    if not osd_ids:
        raise RequestRejected("no OSDs given", {"ids": "give at least one OSD id"})
    errors: dict[str, str] = {}
    osds = [get_osd(model, fsid, i) for i in osd_ids]
    for osd in osds:
        if name not in valid_osd_commands(osd):
            errors[f"osd.{osd.osd_id}"] = f"cannot {name.replace('_', '-')} a down OSD"
    if errors:
        raise RequestRejected(f"cannot run {name}", errors, status=400)
    label = ", ".join(f"osd.{i}" for i in osd_ids)
    # Scrubs leave the OSD map alone: the request is done when Ceph accepts the instruction.
    return Plan(name, f"Initiating {name.replace('_', ' ')} on {label}", [f"osd-{name}:{i}" for i in osd_ids],
                [command(OSD_COMMANDS[name], who=str(i)) for i in osd_ids], [], {"ids": osd_ids, "command": name})
