"""Two open requests may not change the same object: the objects a plan targets checked against
those of the cluster's unfinished requests (409)."""

from __future__ import annotations

from calamari.domain.model import ClusterModel
from calamari.domain.requests.plan import Plan, RequestRejected
from calamari.domain.user_request import COMPLETE

CRUSH_MAP_TARGET = "crush-map"  # replacing the whole CRUSH map: overlaps every "crush-" target


def open_targets(model: ClusterModel, fsid: str) -> dict[str, str]:
    """Objects that unfinished requests of the cluster are changing -> the request's id."""
    busy: dict[str, str] = {}
    for req in model.open_requests():
        if req.fsid == fsid and req.state != COMPLETE:
            for target in req.target.split(","):
                if target:
                    busy[target] = req.request_id
    return busy


def _overlaps(target: str, busy_target: str) -> bool:
    # replacing the whole CRUSH map conflicts with every other CRUSH change, and they with it
    if CRUSH_MAP_TARGET in (target, busy_target):
        return target.startswith("crush-") and busy_target.startswith("crush-")
    return target == busy_target


def check_conflicts(model: ClusterModel, fsid: str, plan: Plan) -> None:
    busy = open_targets(model, fsid)
    for target in plan.targets:
        holder = busy.get(target) or next((busy[b] for b in busy if _overlaps(target, b)), None)
        if holder is not None:
            raise RequestRejected(f"request {holder} is still changing {target}; wait for it to finish",
                                  {"request": holder}, status=409)
