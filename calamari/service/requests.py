"""The request executor: records a planned user request, sends its Ceph commands one after the
other through the collector bus, and turns results, new maps and timeouts into the request's
outcome. Also runs the read-only commands of the `cli` route and waits for their answers.

Command ids sent to the collector are "<request id>/<index>", so a result can be matched to its
request and command even after a restart."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from calamari import protocol
from calamari.adapters.codec import pack
from calamari.domain.requests import Plan, RequestRejected, awaited_sync_object, check_conflicts
from calamari.domain.user_request import COMPLETE, SUBMITTED
from calamari.service.model import NotPersisted

log = logging.getLogger(__name__)

STORE_RETRY_S = 5.0  # how soon a request outcome that could not be stored is stored again

# send_command(fsid, command_id, prefix, args, target[, input=text]) -> False when no collector can
# take it; `input` is passed only for commands that carry input data
Sender = Callable[[str, str, str, dict[str, Any], str], bool]
# send_host_command(host, command_id, prefix, args) -> False when no collector speaks for the host
HostSender = Callable[[str, str, str, dict[str, Any]], bool]


@dataclass
class _Waiting:
    request_id: str
    deadline: float
    reason: str  # the error message if the deadline passes


def _check_encodable(plan: Plan) -> None:
    """RequestRejected (400) for a plan whose commands no bus frame, or whose body no stored event,
    can carry (e.g. an integer beyond 64 bits): refused before anything is stored, so that it can
    neither block the event writer nor fail only once sent."""
    try:
        pack(plan.body)
        for cmd in plan.commands:
            pack(cmd)
            protocol.encode(protocol.COMMAND, {"request_id": "", "prefix": cmd["prefix"], "args": cmd.get("args", {}),
                                               "target": cmd.get("target", "mon")}, fsid=None, host="", seq=0, ts=0)
    except (OverflowError, TypeError, ValueError) as exc:
        raise RequestRejected(f"the request cannot be sent: {exc}",
                              {"body": "a value beyond what a command can carry (integers are at most 64-bit)"}) from None


class RequestExecutor:
    def __init__(self, service: Any, send: Sender | None = None, clock: Callable[[], float] = time.time,
                 command_timeout_s: float = 60.0, map_timeout_s: float = 300.0,
                 connect_grace_s: float = 30.0) -> None:
        self.service = service
        self.send = send
        self.send_to_host: HostSender | None = None  # host commands (log list/tail); set with the bus
        self.clock = clock
        self.command_timeout_s = command_timeout_s
        self.map_timeout_s = map_timeout_s
        self.connect_grace_s = connect_grace_s
        self._lock = threading.Lock()
        self._waiting: dict[str, _Waiting] = {}  # request id -> what it waits for and until when
        self._unsent: dict[str, tuple[int, float]] = {}  # request id -> (command index, give up at)
        self._cli: dict[str, list[Any]] = {}  # cli or host command id -> [threading.Event, result]
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        service.command_result_handler = self.on_command_result

    def _at(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), tz=UTC)

    # ---------------------------------------------------------------- lifecycle

    def start(self, interval_s: float = 1.0) -> None:
        """Resume unfinished requests and check deadlines in the background."""
        self.recover()
        self._thread = threading.Thread(target=self._run, args=(interval_s,), name="request-executor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def _run(self, interval_s: float) -> None:
        while not self._stop.wait(interval_s):
            try:
                self.tick()
            except Exception:
                log.exception("request executor tick failed")

    def recover(self) -> None:
        """After a restart: requests waiting for a map keep waiting (the next map decides);
        those with commands left resend from the first command without a result — the commands
        used here are idempotent in Ceph (creating an existing pool, setting a set flag, ...)."""
        now = self.clock()
        with self.service.reading():
            requests = list(self.service.model.open_requests())
        for req in requests:
            if req.awaiting:
                self._expect_map(req.request_id, now)
            else:
                with self._lock:
                    self._unsent[req.request_id] = (len(req.results), now + self.connect_grace_s)
        self._send_unsent()

    # ---------------------------------------------------------------- submitting

    def submit(self, fsid: str, username: str, plan: Plan) -> str:
        """Record the request (durably) and start it; returns its id. Raises RequestRejected with
        status 409 when an unfinished request changes the same object."""
        request_id = str(uuid.uuid4())
        _check_encodable(plan)
        with self.service.durable() as model:  # NotPersisted: nothing recorded, nothing will run
            check_conflicts(model, fsid, plan)
            model.submit_request(request_id, fsid, username, plan.kind, plan.target, plan.headline,
                                 plan.body, plan.commands, self._at(), expect=plan.expect)
        with self._lock:
            self._unsent[request_id] = (0, self.clock() + self.connect_grace_s)
        try:
            self._send_unsent()
        except Exception:  # accepted and stored: its sending is retried by tick(), not the caller's failure
            log.exception("sending the commands of request %s failed", request_id)
        return request_id

    def _send_unsent(self) -> None:
        with self._lock:
            items = list(self._unsent.items())
        for request_id, (index, give_up) in items:
            self._send(request_id, index, give_up)

    def _send(self, request_id: str, index: int, give_up: float) -> None:
        with self.service.reading():
            req = self.service.model.requests.get(request_id)
            if req is None or req.state == COMPLETE or index >= len(req.commands):
                with self._lock:
                    self._unsent.pop(request_id, None)
                return
            cmd = req.commands[index]
            fsid = req.fsid
        sent = False
        if self.send is not None:
            try:
                extra = {"input": cmd["input"]} if "input" in cmd else {}
                sent = bool(self.send(fsid, f"{request_id}/{index}", cmd["prefix"], dict(cmd.get("args", {})),
                                      cmd.get("target", "mon"), **extra))
            except Exception as err:  # a bad command must fail its request, not the caller
                log.exception("sending %s failed", cmd["prefix"])
                self._fail(request_id, f"could not send {cmd['prefix']!r}: {err}")
                return
        now = self.clock()
        if not sent:
            if now >= give_up or self.send is None:
                why = "no collector bus" if self.send is None else f"no collector of cluster {fsid} is connected"
                self._fail(request_id, f"Could not send the command: {why}")
            return
        with self._lock:
            self._unsent.pop(request_id, None)
            self._waiting[request_id] = _Waiting(request_id, now + self.command_timeout_s,
                                                 f"No answer from the cluster to {cmd['prefix']!r} within "
                                                 f"{self.command_timeout_s:.0f} s")
        with self.service.lock:
            req = self.service.model.requests[request_id]
            if req.state == SUBMITTED or index > 0:
                self.service.model.request_executing(
                    request_id, f"Running {cmd['prefix']!r} ({index + 1} of {len(req.commands)})", self._at())
                self.service.commit()

    def _fail(self, request_id: str, message: str, retry_later: bool = True) -> None:
        """Close the request as failed. If that cannot be stored, it stays open: NotPersisted, or
        with `retry_later` another attempt at a later tick (an outcome is never lost)."""
        try:
            with self.service.durable() as model:
                model.request_failed(request_id, message, self._at())
        except NotPersisted as err:
            if not retry_later:
                raise
            log.warning("request %s could not be closed as failed (%s); retrying", request_id, err.reason)
            with self._lock:
                self._unsent.pop(request_id, None)
                self._waiting[request_id] = _Waiting(request_id, self.clock() + STORE_RETRY_S, message)
            return
        with self._lock:
            self._unsent.pop(request_id, None)
            self._waiting.pop(request_id, None)

    def _expect_map(self, request_id: str, now: float) -> None:
        with self._lock:
            self._waiting[request_id] = _Waiting(request_id, now + self.map_timeout_s,
                                                 f"The change did not show in the cluster's maps within "
                                                 f"{self.map_timeout_s:.0f} s")

    # ---------------------------------------------------------------- results

    def on_command_result(self, command_id: str, rc: int, out: Any, err: str, at: datetime) -> None:
        if command_id.startswith(("cli/", "host/")):
            with self._lock:
                waiter = self._cli.get(command_id)
            if waiter is not None:
                waiter[1] = (rc, out, err)
                waiter[0].set()
            return
        request_id, _, index_text = command_id.rpartition("/")
        if not request_id or not (index_text.isascii() and index_text.isdigit() and len(index_text) < 19):
            log.warning("command result for unknown id %r dropped", command_id)
            return
        index = int(index_text)
        send_next = False
        try:
            with self.service.durable() as model:
                req = model.requests.get(request_id)
                if req is None or req.state == COMPLETE or index != len(req.results):
                    return  # unknown, finished, or a repeated result
                if rc != 0:
                    model.request_failed(request_id, (err or str(out) or f"command failed with rc={rc}").strip(), at)
                else:
                    awaited = awaited_sync_object(getattr(req, "expect", None) or [])
                    held = model.held.get(req.fsid, {}).get(awaited)
                    # a map before the command result may already show the change: the expectation
                    # decides, the version only has to be the one held when the command was accepted
                    awaiting = {"name": awaited, "after": held[0] - 1 if held else -1}
                    model.request_command_succeeded(request_id, index, out, awaiting, at)
                    send_next = req.state != COMPLETE and index + 1 < len(req.commands)
                finished = req.state == COMPLETE
        except NotPersisted as exc:
            # as if the result had not come: the request's deadline closes it
            log.warning("the result of %s could not be stored (%s); the request waits for its deadline",
                        command_id, exc.reason)
            return
        with self._lock:
            self._waiting.pop(request_id, None)
        if send_next:
            self._send(request_id, index + 1, self.clock() + self.connect_grace_s)
        elif not finished:
            self._expect_map(request_id, self.clock())

    def tick(self) -> None:
        """Give up on what has waited too long; retry sends that found no collector."""
        now = self.clock()
        with self._lock:
            expired = [w for w in self._waiting.values() if w.deadline <= now]
        for waiting in expired:
            with self.service.reading():
                req = self.service.model.requests.get(waiting.request_id)
                done = req is None or req.state == COMPLETE
            if done:
                with self._lock:
                    self._waiting.pop(waiting.request_id, None)
            else:
                self._fail(waiting.request_id, waiting.reason)
        with self._lock:
            finished = [r for r in self._waiting if self.service.model.requests[r].state == COMPLETE]
            for request_id in finished:
                self._waiting.pop(request_id, None)
        self._send_unsent()

    def cancel(self, request_id: str, username: str) -> bool:
        """Stop a request that is not complete. A command already sent may still take effect in
        Ceph; the request is closed as failed with a message that says so."""
        with self.service.reading():
            req = self.service.model.requests.get(request_id)
            if req is None:
                raise RequestRejected(f"no request {request_id}", status=404)
            if req.state == COMPLETE:
                return False
        self._fail(request_id, f"Cancelled by {username}" + (
            "; commands already sent may still take effect" if req.results or req.state != SUBMITTED else ""),
            retry_later=False)
        return True

    # ---------------------------------------------------------------- read-only commands

    def run_readonly(self, fsid: str, prefix: str, args: dict[str, Any], timeout_s: float = 10.0,
                     ) -> tuple[int, Any, str] | None:
        """Send one read-only command and wait for its result; None on timeout. Raises
        RequestRejected(503) when no collector can take it."""
        return self._ask("cli", lambda command_id: self.send is not None
                         and self.send(fsid, command_id, prefix, args, "mon"),
                         f"no collector of cluster {fsid} is connected", timeout_s)

    def run_host_command(self, host: str, prefix: str, args: dict[str, Any], timeout_s: float = 10.0,
                         ) -> tuple[int, Any, str] | None:
        """Send one host command (calamari.protocol.host_logs) to the collector that speaks for
        `host` and wait for its result; None on timeout. Raises RequestRejected(503) when no
        collector of that host is connected."""
        return self._ask("host", lambda command_id: self.send_to_host is not None
                         and self.send_to_host(host, command_id, prefix, args),
                         f"no collector of host {host} is connected", timeout_s)

    def _ask(self, kind: str, send: Callable[[str], bool], unreachable: str, timeout_s: float,
             ) -> tuple[int, Any, str] | None:
        """Send a command that is no user request (`send(command_id)` is False when no collector
        can take it) and wait for the result the bus hands to command_result."""
        command_id = f"{kind}/{uuid.uuid4()}"
        waiter: list[Any] = [threading.Event(), None]
        with self._lock:
            self._cli[command_id] = waiter
        try:
            if not send(command_id):
                raise RequestRejected(unreachable, status=503)
            if not waiter[0].wait(timeout_s):
                return None
            return waiter[1]
        finally:
            with self._lock:
                self._cli.pop(command_id, None)
