"""10,000 random and mutated frames against the bus: it keeps serving and the sink is untouched."""

from __future__ import annotations

import random
import time

import msgpack
import zmq
from recording_sink import RecordingSink

from calamari import protocol
from calamari.adapters.bus import CollectorBus
from collector.simulator import SimulatedCluster

FRAMES = 10_000


def random_value(rng: random.Random, depth: int = 0):
    kind = rng.randrange(9 if depth < 3 else 6)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False])
    if kind == 2:
        return rng.choice([0, -1, 2**63 - 1, -(2**63), rng.randrange(-1000, 1000)])
    if kind == 3:
        return rng.choice([0.0, float("nan"), float("inf"), -1.5, 1e300])
    if kind == 4:
        return "".join(chr(rng.randrange(32, 0x2FF)) for _ in range(rng.randrange(0, 12)))
    if kind == 5:
        return rng.randbytes(rng.randrange(0, 16))
    if kind == 6:
        return [random_value(rng, depth + 1) for _ in range(rng.randrange(0, 4))]
    keys = ["v", "type", "fsid", "host", "seq", "ts", "body", "name", "version", "data", "delta", "delta_from",
            "versions", "points", "lines", "request_id", "rc", "out", "err", "osds", "lists", "set"]
    return {rng.choice(keys): random_value(rng, depth + 1) for _ in range(rng.randrange(0, 5))}


def fuzz_frames(rng: random.Random, valid: list[bytes], fsid: str) -> list[bytes]:
    frames = []
    while len(frames) < FRAMES:
        choice = rng.randrange(8)
        if choice == 0:
            frame = rng.randbytes(rng.randrange(0, 200))
        elif choice == 1:  # truncated
            base = rng.choice(valid)
            frame = base[: rng.randrange(0, len(base))]
        elif choice == 2:  # bytes flipped
            frame = bytearray(rng.choice(valid))
            for _ in range(rng.randrange(1, 6)):
                frame[rng.randrange(len(frame))] = rng.randrange(256)
            frame = bytes(frame)
        elif choice == 3:  # envelope fields replaced by random values
            message = msgpack.unpackb(rng.choice(valid))
            message[rng.choice(list(message))] = random_value(rng)
            frame = msgpack.packb(message)
        elif choice == 4:  # random bodies under real types
            message = msgpack.unpackb(rng.choice(valid))
            message["body"] = random_value(rng)
            frame = msgpack.packb(message)
        elif choice == 5:  # deltas against bases the server does not hold, or malformed deltas
            frame = protocol.encode("sync_object", {"name": "osd_map", "version": rng.randrange(100, 10**6),
                                                    "delta_from": rng.randrange(0, 10**6),
                                                    "delta": random_value(rng) or {}},
                                    fsid=fsid, host="h", seq=1)
        elif choice == 6:  # another cluster's messages, unknown types, wrong versions
            frame = msgpack.packb({"v": rng.choice([1, 2, 0]), "type": rng.choice(["hello2", "command", "ack", "x"]),
                                   "fsid": rng.choice([fsid, "other"]), "host": "h", "seq": 1, "ts": 1.0, "body": {}})
        else:  # random structures
            frame = msgpack.packb(random_value(rng), use_bin_type=True)
        try:
            envelope = protocol.decode(frame, allowed_types=protocol.UPSTREAM_TYPES)
        except protocol.ProtocolError:
            frames.append(frame)
            continue
        # a mutation that happens to be a valid message (a heartbeat, say) would legitimately reach
        # the sink; only deltas that cannot apply are kept among valid ones
        if envelope.type == "sync_object" and "delta" in envelope.body:
            frames.append(frame)
    return frames


def test_random_and_mutated_frames_never_change_the_sink_or_stop_the_bus() -> None:
    rng = random.Random(20261124)
    sink = RecordingSink()
    bus = CollectorBus(sink, "tcp://127.0.0.1:0", max_message_bytes=1 << 20, contact_check_interval_s=0.05)
    bus.start()
    cluster = SimulatedCluster("hosts=2,osds=4,pools=1,pgs=16,seed=1")
    context = zmq.Context.instance()
    honest = context.socket(zmq.DEALER)
    honest.setsockopt(zmq.LINGER, 0)
    honest.connect(bus.bound_endpoint)
    fuzzer = context.socket(zmq.DEALER)
    fuzzer.setsockopt(zmq.LINGER, 0)
    fuzzer.setsockopt(zmq.SNDHWM, 0)
    fuzzer.connect(bus.bound_endpoint)
    try:
        osd_map = cluster.osd_map()
        valid = [
            protocol.encode("hello", {"collector_version": "1", "fsid": cluster.fsid, "hostname": "h"},
                            fsid=cluster.fsid, host="h", seq=1),
            protocol.encode("sync_object", {"name": "osd_map", "version": osd_map["epoch"], "data": osd_map},
                            fsid=cluster.fsid, host="h", seq=2),
            protocol.encode("heartbeat", {"versions": {"osd_map": 1}}, fsid=cluster.fsid, host="h", seq=3),
            protocol.encode("command_result", {"request_id": "r", "rc": 0, "out": "", "err": ""},
                            fsid=cluster.fsid, host="h", seq=4),
            protocol.encode("stats", {"points": [["a.b", 1.0, 2.0]]}, fsid=cluster.fsid, host="h", seq=5),
        ]
        # the honest collector holds the cluster's state before the storm
        honest.send(valid[0])
        honest.send(valid[1])
        deadline = time.monotonic() + 3
        while sink.version(cluster.fsid, "osd_map") is None and time.monotonic() < deadline:
            time.sleep(0.01)
        before_calls = list(sink.calls)
        before_objects = dict(sink.objects)
        assert before_calls

        frames = fuzz_frames(rng, valid, cluster.fsid)
        assert len(frames) == FRAMES
        # the fuzzer says a real hello first, so mutated frames get past the session check too
        fuzzer.send(valid[0])
        for frame in frames:
            fuzzer.send(frame)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            counted = sum(c["messages"] for c in bus.counters().values())
            if counted >= FRAMES + 3:
                break
            time.sleep(0.05)
        totals = bus.totals()
        assert totals["messages"] == FRAMES + 3
        # every frame was refused, or asked for a whole copy (once: then held back while awaited)
        assert totals["rejects"] + totals["resyncs"] + totals["resyncs_held_back"] >= FRAMES
        assert sink.calls == before_calls
        assert sink.objects == before_objects
        assert sink.command_results == [] and sink.log_lines == [] and sink.facts == []

        # still serving: a new version goes through and is acknowledged
        cluster.execute("osd set", {"key": "noout"})
        new_map = cluster.osd_map()
        honest.send(protocol.encode("sync_object", {"name": "osd_map", "version": new_map["epoch"],
                                                    "data": new_map}, fsid=cluster.fsid, host="h", seq=9))
        deadline = time.monotonic() + 3
        acked = False
        while not acked and time.monotonic() < deadline:
            if honest.poll(100):
                envelope = protocol.decode(honest.recv())
                acked = envelope.type == "ack" and envelope.body.get("sync") == {"osd_map": new_map["epoch"]}
        assert acked
        assert sink.version(cluster.fsid, "osd_map") == new_map["epoch"]
    finally:
        honest.close(0)
        fuzzer.close(0)
        bus.stop()
