"""Sync objects into the model: a delta is rebuilt into the full map against the copy the sink
holds (unchanged entries stay the same objects), a whole copy passes as it is; the collector is
acknowledged with the version the server now holds, or asked for a whole copy."""

from __future__ import annotations

from datetime import datetime

from calamari import protocol
from calamari.adapters.bus.peers import CollectorSession
from calamari.adapters.bus.replies import Replies
from calamari.protocol import SYNC_OBJECT, DeltaError, Envelope, ProtocolError
from calamari.service.sink import ClusterSink


class SyncObjects:
    """Applies the sync_object messages of all collectors to the sink."""

    def __init__(self, sink: ClusterSink, replies: Replies) -> None:
        self.sink = sink
        self.replies = replies

    def on_sync_object(self, session: CollectorSession, envelope: Envelope, at: datetime) -> None:
        """Apply one sync object seen at `at`. ProtocolError for a message that cannot apply."""
        fsid = envelope.fsid
        if fsid is None:
            raise ProtocolError("no_fsid", SYNC_OBJECT)
        body = envelope.body
        name, version = body["name"], body["version"]
        if "delta" in body:
            held = self.sink.sync_object(fsid, name)
            if held is not None and held[0] == version:
                # already held (the server took it straight from ceph-mgr): nothing to rebuild,
                # and not a reason for a whole copy even when the base differs
                self.replies.copy_handled(session, name, version)
                self.replies.ack(session, {"sync": {name: version}})
                return
            if held is None or held[0] != body["delta_from"] or not isinstance(held[1], dict):
                # (not again while a whole copy asked for is on its way: it will be the base)
                self.replies.resync(session, {name: version})
                return
            if not protocol.supports_delta(name):
                raise ProtocolError("bad_body", f"no delta for {name}")
            try:
                data = protocol.apply_delta(name, held[1], body["delta"])
            except DeltaError as exc:
                self.replies.resync(session, {name: version})
                raise ProtocolError("bad_delta", str(exc)) from None
        else:
            data = body["data"]
        try:
            applied = self.sink.on_sync_object(fsid, name, version, data, at, envelope.host)
        finally:
            # applied, refused or invalid: the copy a resync asked for has been dealt with
            self.replies.copy_handled(session, name, version)
        if applied:
            self.replies.ack(session, {"sync": {name: version}})
        else:
            held_version = self.sink.sync_versions(fsid).get(name)
            if held_version is not None:
                self.replies.ack(session, {"sync": {name: held_version}})
