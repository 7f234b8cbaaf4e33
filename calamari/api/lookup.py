"""Looking up what a route names: the cluster (404 when there is no such cluster), the newest
sync objects it sent (503 until it has), and one item of a collection (404 when it is not there, 410 when it was retired)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, TypeVar

from flask import current_app

from calamari.api.common import ApiError, services
from calamari.api.high_availability import accepts_changes, role_status

Item = TypeVar("Item")


def cluster_model(fsid: str) -> Any:
    cluster = services().service.model.clusters.get(fsid)
    if cluster is None:
        raise ApiError(404, f"no cluster {fsid}")
    return cluster


def held(fsid: str, name: str) -> Any:
    """The newest sync object of a kind; 503 until the cluster has sent one. A standby has none:
    only the active server hears the collectors (the 503 then names it)."""
    cluster_model(fsid)
    item = services().service.model.held_document(fsid, name)
    if item is None:
        if not accepts_changes(current_app):
            active = role_status(current_app)["active"]
            raise ApiError(503, f"this server is a standby and holds no {name} as sent by the collectors: ask the "
                                f"active server{f' at {active}' if active else ''}",
                           {"server": "standby"})
        raise ApiError(503, f"no {name} received from cluster {fsid} yet; retry shortly")
    return item[1]


def found(item: Item | None, missing: str) -> Item:
    """`item`, or 404 with `missing` as the reason when it is None."""
    if item is None:
        raise ApiError(404, missing)
    return item


def first(items: Iterable[Item], wanted: Callable[[Item], bool], missing: str) -> Item:
    """The first of `items` that is `wanted`; 404 with `missing` as the reason when none is."""
    return found(next((item for item in items if wanted(item)), None), missing)


def retired_error(kind: str, item_id: str, retired_at: datetime | None, option: str) -> ApiError:
    """410 for an id that left the live model (its events stay: history shows it), else 404."""
    if retired_at is None:
        return ApiError(404, f"no {kind} {item_id[:100]}")
    error = ApiError(410, f"{kind} {item_id[:100]} was retired from the live model at {retired_at.isoformat()} "
                          f"(older than {option}); its events are kept: history still shows it")
    error.extra = {"retired_at": retired_at.isoformat()}
    return error
