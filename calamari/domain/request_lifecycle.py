"""The life of a user request in the model: submitted, executing, each command's result, and done
when a map shows every change it asked for (or failed with Ceph's message, a timeout, or its
cluster forgotten or reset)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from calamari.domain import ids
from calamari.domain.model_state import ModelState
from calamari.domain.sync_versions import SyncVersion
from calamari.domain.user_request import COMPLETE, UserRequest


def submit_request(model: ModelState, request_id: str, fsid: str, username: str, kind: str, target: str,
                   headline: str, body: dict[str, Any], commands: list[dict[str, Any]],
                   at: datetime, expect: list[dict[str, Any]] | None = None) -> UserRequest:
    return model.create(UserRequest, UserRequest.UserRequestSubmitted, ids.user_request_id(request_id),
                        at, request_id=request_id, fsid=fsid, username=username, kind=kind,
                        target=target, headline=headline, body=body, commands=commands, expect=expect)


def request_executing(model: ModelState, request_id: str, status: str, at: datetime) -> None:
    model.emit(model.requests[request_id], UserRequest.UserRequestExecuting, at, status=status)


def request_command_succeeded(model: ModelState, request_id: str, index: int, output: Any,
                              awaiting: dict[str, Any], at: datetime) -> None:
    """A command ran. `awaiting` names the sync object and the version beyond which its effect
    must show ({"name": "osd_map", "after": 41}); an empty dict completes at once."""
    req = model.requests[request_id]
    if index < len(req.commands) - 1:  # more commands to run: not waiting for a map yet
        model.emit(req, UserRequest.UserRequestCommandSucceeded, at, index=index, output=output,
                   status=f"Running command {index + 2} of {len(req.commands)}", awaiting={})
        return
    if not getattr(req, "expect", None):
        awaiting = {}
    shown_in = "a CRUSH map" if awaiting.get("name") == "crush_map" else "an OSD map"
    status = (f"Waiting for {shown_in} showing the change" if awaiting else "Command completed")
    model.emit(req, UserRequest.UserRequestCommandSucceeded, at, index=index, output=output,
               status=status, awaiting=awaiting)
    if not awaiting or _shows_expected(model, req):
        _request_done(model, req, UserRequest.UserRequestCompleted, at, status="Completed")


def request_failed(model: ModelState, request_id: str, error_message: str, at: datetime) -> None:
    req = model.requests[request_id]
    if req.state != COMPLETE:
        _request_done(model, req, UserRequest.UserRequestFailed, at, error_message=error_message)


def fail_open_requests(model: ModelState, fsid: str, error_message: str, at: datetime) -> None:
    """Fail every open request of a cluster (it was forgotten, or its versions reset)."""
    for req in model.open_requests():
        if req.fsid == fsid:
            request_failed(model, req.request_id, error_message, at)


def complete_awaiting(model: ModelState, fsid: str, name: str, at: datetime) -> None:
    """A request completes when a newer map shows every change it asked for (a newer map that
    does not yet show it, e.g. pg_num still ramping, leaves it waiting)."""
    for req in model.open_requests():
        if req.fsid == fsid and req.awaiting.get("name") == name and _shows_expected(model, req):
            _request_done(model, req, UserRequest.UserRequestCompleted, at, status="Completed")


def _request_done(model: ModelState, req: UserRequest, event_class: type, at: datetime, **fields: Any) -> None:
    model.emit(req, event_class, at, **fields)
    model.request_finished(req.request_id)


def _shows_expected(model: ModelState, req: UserRequest) -> bool:
    from calamari.domain.requests.expect import expectation_met

    name = req.awaiting.get("name", "osd_map")
    held = model.held.get(req.fsid, {}).get(name)
    if held is None or not _past(held[0], req.awaiting.get("after", -1)):
        return False
    version, document = model.held_document(req.fsid, name) or held
    return expectation_met(getattr(req, "expect", []), document, version)


def _past(version: SyncVersion, after: SyncVersion) -> bool:
    if isinstance(version, int) and isinstance(after, int):
        return version > after
    return version != after
