"""Each valid message from an admitted collector to the sink call of its type: hello, heartbeat
(and the resyncs it shows are needed), server facts, stats, the cluster log, command results
(delivered once); sync objects go through calamari.adapters.bus.deltas."""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from calamari import protocol
from calamari.adapters.bus.deltas import SyncObjects
from calamari.adapters.bus.peers import CollectorSession, Peers
from calamari.adapters.bus.replies import Replies
from calamari.protocol import (
    CLUSTER_LOG,
    COMMAND_RESULT,
    HEARTBEAT,
    HELLO,
    SERVER_FACTS,
    STATS,
    SYNC_OBJECT,
    Envelope,
    ProtocolError,
)
from calamari.service.sink import ClusterSink

log = logging.getLogger("calamari.bus")

StatsSink = Callable[[str | None, str, list[list[Any]]], None]

# How far a collector's clock may be from the server's before its times are not trusted.
CLOCK_TOLERANCE_S = 5.0
# Command results already delivered, remembered so that a resent one is only acknowledged.
DELIVERED_RESULTS_KEPT = 10_000


def event_time(collector_ts: float, server_ts: float) -> datetime:
    """The time an event is stamped with: when the collector saw the change, unless its clock is
    off (ahead of the server, or behind by more than the tolerance: a backlog or a skewed clock);
    then when the server received it. History maps times to positions, so event times must not
    run far ahead of or behind the order the events are stored in."""
    if server_ts - CLOCK_TOLERANCE_S <= collector_ts <= server_ts:
        return datetime.fromtimestamp(collector_ts, UTC)
    return datetime.fromtimestamp(server_ts, UTC)


def discard_stats(fsid: str | None, host: str, points: list[list[Any]]) -> None:
    """The stats sink of a bus that keeps no time series."""
    return None


class MessageRouting:
    """Calls the sink for each message; ProtocolError for one that does not fit the session."""

    def __init__(self, sink: ClusterSink, stats_sink: StatsSink, peers: Peers, replies: Replies) -> None:
        self.sink = sink
        self.stats_sink = stats_sink
        self.peers = peers
        self.replies = replies
        self.sync_objects = SyncObjects(sink, replies)
        self._delivered_results: OrderedDict[str, None] = OrderedDict()

    def route(self, session: CollectorSession, envelope: Envelope) -> None:
        if envelope.type == HELLO:
            self._on_hello(session, envelope)
            return
        if not session.hello:
            # E.g. the server restarted under a connected collector: ask it to introduce itself.
            self.replies.ask_hello(session)
            raise ProtocolError("no_hello", envelope.type)
        if envelope.fsid != session.fsid:
            raise ProtocolError("fsid_mismatch", f"{envelope.fsid} != hello {session.fsid}")
        at = event_time(envelope.ts, time.time())
        body = envelope.body
        if envelope.type == SYNC_OBJECT:
            self.sync_objects.on_sync_object(session, envelope, at)
        elif envelope.type == HEARTBEAT:
            self._on_heartbeat(session, envelope)
        elif envelope.type == SERVER_FACTS:
            self.peers.speaks_for(session, envelope.host, body["fqdn"], body["hostname"])
            self.sink.on_server_facts(envelope.fsid, body, at)
        elif envelope.type == STATS:
            self.stats_sink(envelope.fsid, envelope.host, body["points"])
        elif envelope.type == CLUSTER_LOG:
            if envelope.fsid is None:
                raise ProtocolError("no_fsid", CLUSTER_LOG)
            self.sink.on_cluster_log(envelope.fsid, body["lines"], at)
        elif envelope.type == COMMAND_RESULT:
            self._on_command_result(session, body, at)

    def _on_hello(self, session: CollectorSession, envelope: Envelope) -> None:
        fsid = envelope.body.get("fsid")
        if envelope.fsid != fsid:
            raise ProtocolError("fsid_mismatch", f"envelope {envelope.fsid} != hello {fsid}")
        if session.hello and session.fsid != fsid:
            raise ProtocolError("fsid_mismatch", f"hello for {fsid} after hello for {session.fsid}")
        host = envelope.body["hostname"] or envelope.host
        self.peers.said_hello(session, fsid, host, envelope.body["collector_version"])
        log.info("collector %s (%s) says hello for cluster %s", session.host, session.identity.hex(), fsid)
        # answered, so that a collector given several servers knows this one is alive
        held = self.sink.sync_versions(fsid) if fsid is not None else {}
        self.replies.ack(session, {"sync": dict(held)})

    def _on_heartbeat(self, session: CollectorSession, envelope: Envelope) -> None:
        body = envelope.body
        if body.get("error"):
            self.peers.note_collector_error(session, body["error"])
        # (sinks written before the flag existed only know heartbeats)
        unreachable = getattr(self.sink, "on_cluster_unreachable", None)
        if body.get("cluster_unreachable") and envelope.fsid is not None and unreachable is not None:
            unreachable(envelope.fsid, envelope.host, datetime.now(UTC))
        else:
            self.sink.on_heartbeat(envelope.fsid, envelope.host, datetime.now(UTC))
        key = body.get("mgr_push_key")
        keys = getattr(self.sink, "on_mgr_push_key", None)
        if key is not None and session.fsid is not None and keys is not None:
            keys(session.fsid, key.encode("ascii"))  # only the cluster this collector speaks for
        # answered (naming it), so that the collector knows this server is alive and that the
        # stats it sent before this heartbeat arrived (collector/failover.py); and whether this
        # server takes the maps ceph-mgr signs straight from it (the collector's copies can wait)
        answer: dict[str, Any] = {"sync": {}, "heartbeat": envelope.seq}
        takes = getattr(self.sink, "takes_mgr_maps", None)
        if session.fsid is not None and takes is not None and takes(session.fsid):
            answer["mgr_maps"] = True
        self.replies.ack(session, answer)
        self._resync_stale(session, body["versions"])

    def _resync_stale(self, session: CollectorSession, versions: dict[str, Any]) -> None:
        if session.fsid is None or not versions:
            return
        wanted = getattr(self.sink, "sync_wanted", None)
        if wanted is not None:
            # the model also knows versions it no longer holds a copy of (after a restart): an
            # older map would be refused, so asking for it again would only repeat the refusal
            candidates = {name: v for name, v in versions.items() if name in protocol.SYNC_NAMES}
            stale = wanted(session.fsid, candidates)
        else:
            held = self.sink.sync_versions(session.fsid)
            stale = [
                name
                for name, version in versions.items()
                if name in protocol.SYNC_NAMES and protocol.version_is_newer(version, held.get(name))
            ]
        if stale:
            # asked once: not again at each heartbeat while the copy is on its way (replies.py)
            self.replies.resync(session, {name: versions[name] for name in stale})

    def _on_command_result(self, session: CollectorSession, body: dict[str, Any], at: datetime) -> None:
        request_id = body["request_id"]
        # Always acknowledge (the collector resends until it hears this); deliver only once.
        self.replies.ack(session, {"command_result": request_id})
        if request_id in self._delivered_results:
            return
        self._delivered_results[request_id] = None
        if len(self._delivered_results) > DELIVERED_RESULTS_KEPT:
            self._delivered_results.popitem(last=False)
        self.sink.on_command_result(request_id, body["rc"], body["out"], body["err"], at)
