"""The child side of collector/rados_bridge.py: runs under the interpreter of the `ceph` CLI (which
can import librados's Python binding, the CLI itself being built on it), keeps one cluster
connection open and answers commands read from stdin.

Kept to the standard library and to Python 3.6 syntax: it runs on whatever Python the host's Ceph
packages were built for, not the collector's.

Frames, in both directions: one line of JSON, then as many raw bytes as it announces.
    start   {"conffile", "name", "keyring", "timeout"} as argv[1]
    ready   {"ready": true, "fsid": "...", "cpu": s}              (or {"error": "..."}, then exit 1)
    request {"target": "mon"|"mgr", "cmd": "<JSON command>", "inbuf": n} + n bytes
    reply   {"rc": int, "err": "...", "out": n, "cpu": s} + n bytes
`cpu` is this process's CPU time so far, so that the collector counts it in its polling budget.
"""

import json
import sys
import time
from typing import Any, BinaryIO

ETIMEDOUT = 110
EIO = 5


def write_frame(stream: BinaryIO, header: dict, payload: bytes = b"") -> None:
    stream.write(json.dumps(header).encode("utf-8") + b"\n")
    if payload:
        stream.write(payload)
    stream.flush()


def read_exactly(stream: BinaryIO, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            raise EOFError("input closed inside a frame")
        data += chunk
    return data


def connect(settings: dict) -> Any:
    """A connected rados.Rados."""
    import rados

    timeout = str(int(max(1, float(settings.get("timeout", 10)))))
    conf = {"rados_mon_op_timeout": timeout, "client_mount_timeout": timeout}
    if settings.get("keyring"):
        conf["keyring"] = settings["keyring"]
    cluster = rados.Rados(conffile=settings["conffile"], conf=conf, name=settings.get("name", "client.admin"))
    cluster.connect(timeout=int(timeout))
    return cluster


def serve(cluster: Any, timeout: int, source: BinaryIO, sink: BinaryIO) -> int:
    """Answer requests until the input closes."""
    while True:
        line = source.readline()
        if not line:
            return 0  # the collector closed the pipe: it is done with us
        request = json.loads(line.decode("utf-8"))
        inbuf = read_exactly(source, int(request.get("inbuf", 0)))
        try:
            if request.get("target") == "mgr":
                rc, out, err = cluster.mgr_command(request["cmd"], inbuf, timeout=timeout)
            else:
                rc, out, err = cluster.mon_command(request["cmd"], inbuf, timeout=timeout)
        except Exception as exc:  # rados.Error and its kin: the collector decides what to do
            rc, out, err = -(getattr(exc, "errno", None) or EIO), b"", f"{type(exc).__name__}: {exc}"
        out = out if isinstance(out, bytes) else str(out).encode("utf-8")
        write_frame(sink, {"rc": int(rc), "err": str(err), "out": len(out), "cpu": time.process_time()}, out)


def main() -> int:
    sink = sys.stdout.buffer
    try:
        settings = json.loads(sys.argv[1])
        cluster = connect(settings)
        fsid = cluster.get_fsid()
    except Exception as exc:  # ImportError, rados.Error, a bad argument
        write_frame(sink, {"error": f"{type(exc).__name__}: {exc}"})
        return 1
    write_frame(sink, {"ready": True, "fsid": fsid, "cpu": time.process_time()})
    try:
        return serve(cluster, int(max(1, float(settings.get("timeout", 10)))), sys.stdin.buffer, sink)
    except (EOFError, BrokenPipeError, KeyboardInterrupt):
        return 0
    finally:
        cluster.shutdown()


if __name__ == "__main__":
    sys.exit(main())
