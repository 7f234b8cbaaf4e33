"""The collector agent's receiving: messages from the server (acknowledgements, resync and hello
requests, commands) and the commands run, each once, their results sent until acknowledged; a
command whose resulting map cannot be sent fails with that reason.
"""

from __future__ import annotations

import errno
import logging
import time
from typing import Any

import zmq

from calamari import protocol
from calamari.protocol import ACK, COMMAND, COMMAND_RESULT, HELLO_REQUEST, RESYNC, ProtocolError
from calamari.protocol.host_logs import HOST_TARGET
from collector.agent_sending import Sending, UnsendableMessage
from collector.logs import run_host_command

log = logging.getLogger("calamari.collector")


class CommandHandling(Sending):
    """What the agent does with the server's messages; a part of `collector.agent.Collector`."""

    # -- receiving ------------------------------------------------------------------------------
    def _receive_all(self, sock: zmq.Socket) -> None:
        while True:
            try:
                frame = sock.recv(zmq.NOBLOCK)
            except zmq.Again:
                return
            self.counters["messages_received"] += 1
            try:
                envelope = protocol.decode(frame, allowed_types=protocol.DOWNSTREAM_TYPES)
            except ProtocolError as exc:
                self.counters["rejected_received"] += 1
                log.warning("ignoring a bad message from the server: %s", exc)
                continue
            self._rotation.answered(time.monotonic())
            self._handle(envelope)

    def _handle(self, envelope: protocol.Envelope) -> None:
        body = envelope.body
        if envelope.type == ACK:
            if "command_result" in body:
                request_id = body["command_result"]
                entry = self._results.get(request_id)
                if entry is not None:
                    entry[2] = True
                if request_id in self._host_results:
                    # a log tail may be a MiB: not kept once delivered (running it again is harmless)
                    self._host_results.discard(request_id)
                    self._results.pop(request_id, None)
            else:
                self._hello_acked = True
                self._acked.update(body["sync"])
                if "heartbeat" in body:  # it answers a heartbeat: the stats sent before it arrived
                    self._stats_backlog.delivered_up_to(body["heartbeat"])
                    self.server_takes_mgr_maps = body.get("mgr_maps") is True
        elif envelope.type == RESYNC:
            self.counters["resyncs"] += 1
            for name in body["names"]:
                self._resync(name)
        elif envelope.type == HELLO_REQUEST:
            self._hello_acked = False
            self._send_hello()
            # it forgot this collector (a restart): the stats it dropped before the hello go again
            self._resend_stats_backlog()
            self._send_heartbeats()
        elif envelope.type == COMMAND:
            self._run_command(body)

    def _resync(self, name: str) -> None:
        held = self._held.get(name)
        if held is None:
            try:
                held = self.source.current(name)
            except Exception:
                log.exception("reading %s for a resync failed", name)
                held = None
        if held is None:
            return
        self.send_sync(name, held[0], held[1], full=True)

    def _run_command(self, body: dict[str, Any]) -> None:
        request_id = body["request_id"]
        known = self._results.get(request_id)
        if known is not None:
            # A repeated command must not run twice; answer with the result we have.
            known[2] = False
            known[1] = 0.0
            return
        self.counters["commands"] += 1
        prefix, args, target = body["prefix"], body.get("args", {}), body.get("target", "mon")
        log.info("running command %s %s (request %s)", prefix, args, request_id)
        try:
            if target == HOST_TARGET:  # about this host, answered here: Ceph is not asked
                rc, out, err = run_host_command(self.source.host_logs, prefix, args)
            else:
                rc, out, err = self.source.execute(prefix, args, target, **(
                    {"input": body["input"]} if "input" in body else {}))
        except Exception as exc:
            log.exception("command %s failed", prefix)
            rc, out, err = -errno.EIO, "", f"collector error: {exc}"
        result = {"request_id": request_id, "rc": int(rc), "out": out, "err": str(err)}
        if target == HOST_TARGET:
            self._host_results.add(request_id)
            self._deliver_result(result)
            return  # it changed nothing in the cluster: no map to send after it
        # The result goes first, then the map that shows the change (the server completes a
        # request when a newer map arrives after the result). A change whose map cannot be sent
        # would leave the request waiting for it: it fails with the reason instead.
        changes = self._read_source()
        if changes is None:
            self._deliver_result(result)
            return
        changed, lines = changes
        frames = self._sync_frames(changed)
        unsent = [self.unsendable[name] for name in changed if name in self.unsendable]
        if result["rc"] == 0 and unsent:
            result = {**result, "rc": -errno.EIO, "out": "",
                      "err": f"collector error: Ceph ran the command, but {unsent[0]}"}
        self._deliver_result(result)
        self._send_changes(lines, frames)

    def _deliver_result(self, result: dict[str, Any]) -> None:
        """Send a command's result and keep it for resending until acknowledged; a result the
        protocol cannot carry (e.g. its output holds an integer beyond 64 bits) is replaced by
        a failure saying so."""
        try:
            frame = self._encode(COMMAND_RESULT, result)
        except UnsendableMessage as exc:
            self.counters["unsendable"] += 1
            log.error("the result of request %s cannot be sent: %s", result["request_id"], exc)
            result = {"request_id": result["request_id"], "rc": -errno.EIO, "out": "",
                      "err": f"collector error: the command's result cannot be sent: {exc}"}
            frame = self._encode(COMMAND_RESULT, result)
        self._results[result["request_id"]] = [result, time.monotonic(), False]
        self._push(frame)
