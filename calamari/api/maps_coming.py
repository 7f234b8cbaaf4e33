"""A read of a cluster whose ceph-mgr announced a new map waits for that map, up to a few tens of
milliseconds (calamari.service.maps_coming), so that a client reading right after a change gets
the change rather than what is known to be stale."""

from __future__ import annotations

from flask import Flask, current_app, request


def wait_for_maps_coming() -> None:
    """The before_request hook: a GET of a cluster's resource waits for its maps on their way."""
    if request.method not in ("GET", "HEAD"):
        return
    fsid = (request.view_args or {}).get("fsid")
    if not isinstance(fsid, str):
        return
    coming = getattr(current_app.config["SERVICE"], "maps_coming", None)
    if coming is not None:
        coming.wait(fsid)


def install(app: Flask) -> None:
    """After access.install: only callers let in wait."""
    app.before_request(wait_for_maps_coming)
