"""librados through the `ceph` CLI's own interpreter: the collector's fallback when its Python
cannot load the binding (a virtualenv on another Python than the host's Ceph packages).

Running `ceph` once per command costs a new Python, a new cluster connection and cephx
authentication each time: about a quarter of a CPU second, so a version check every 50 ms would
need five cores. But wherever that CLI runs, its interpreter can import `rados` (the CLI is a
Python program built on it). The bridge starts that interpreter once on rados_bridge_worker.py,
which keeps one connection open and answers commands over a pipe: a command then costs what it
costs in-process (a few tenths of a millisecond), and the collector keeps polling at full speed.
"""

from __future__ import annotations

import json
import logging
import os
import selectors
import shlex
import subprocess
import time
from pathlib import Path
from typing import Any

log = logging.getLogger("calamari.collector.ceph")

WORKER = Path(__file__).with_name("rados_bridge_worker.py")
ETIMEDOUT = 110
# After the worker failed to start or died, the one-shot CLI serves until this many seconds passed.
RESTART_DELAY_S = 30.0
MAX_HEADER_BYTES = 1 << 16


class BridgeUnavailable(RuntimeError):
    """The worker could not be started, or died; the caller uses another backend meanwhile."""


def script_interpreter(executable: str) -> list[str] | None:
    """The interpreter command of a Python script (its `#!` line: `/usr/bin/python3`, or
    `/usr/bin/env python3`, with options); None for anything else (a binary, a shell wrapper
    that runs the CLI in a container)."""
    try:
        with open(executable, "rb") as f:
            first = f.readline(512)
    except OSError:
        return None
    if not first.startswith(b"#!"):
        return None
    try:
        words = shlex.split(first[2:].decode("utf-8").strip())
    except (UnicodeDecodeError, ValueError):
        return None
    if not words:
        return None
    program = words[1] if os.path.basename(words[0]) == "env" and len(words) > 1 else words[0]
    return words if "python" in os.path.basename(program) else None


class RadosBridgeBackend:
    """One worker process per backend; `command()` is called from one thread (the agent's)."""

    name = "bridge"

    def __init__(self, interpreter: list[str], conffile: str, keyring: str | None, name: str,
                 timeout: float, *, worker: Path = WORKER, clock: Any = time.monotonic) -> None:
        """Starts the worker and waits for its connection (BridgeUnavailable when it fails)."""
        self.interpreter = interpreter
        self.settings = {"conffile": conffile, "keyring": keyring, "name": name, "timeout": timeout}
        self.timeout = timeout
        self.worker = worker
        self._clock = clock
        self._proc: subprocess.Popen[bytes] | None = None
        self._selector: selectors.BaseSelector | None = None
        self._buffer = bytearray()
        self._ended = False  # the running worker's output reached its end
        self._cpu_live = 0.0  # CPU seconds of the running worker, as it last reported
        self._retry_at = 0.0
        self.starts = 0
        self.fsid_value = self._start()

    # -- the worker -----------------------------------------------------------------------------
    def _start(self) -> str:
        self.starts += 1
        argv = [*self.interpreter, str(self.worker), json.dumps(self.settings)]
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=None,
                                    close_fds=True)
        except OSError as exc:
            self._retry_at = self._clock() + RESTART_DELAY_S
            raise BridgeUnavailable(f"cannot start {argv[0]}: {exc}") from None
        self._proc = proc
        self._ended = False
        self._buffer.clear()
        self._cpu_live = 0.0
        self._selector = selectors.DefaultSelector()
        assert proc.stdout is not None
        self._selector.register(proc.stdout, selectors.EVENT_READ)
        # connecting may take the whole connect timeout (monitors down): twice it, and a margin
        try:
            header = self._read_header(self._clock() + 2 * self.timeout + 5)
        except BridgeUnavailable as exc:
            header = {"error": str(exc)}
        if header is None or not header.get("ready"):
            reason = "no answer" if header is None else str(header.get("error", header))[:300]
            self._stop()
            self._retry_at = self._clock() + RESTART_DELAY_S
            raise BridgeUnavailable(f"librados through {argv[0]} is unavailable: {reason}")
        self._cpu_live = float(header.get("cpu", 0.0))
        log.info("librados through %s (pid %d): the ceph CLI's interpreter serves the commands",
                 " ".join(self.interpreter), proc.pid)
        return str(header["fsid"])

    def _stop(self) -> None:
        proc, self._proc = self._proc, None
        if self._selector is not None:
            self._selector.close()
            self._selector = None
        if proc is None:
            return
        self._cpu_live = 0.0  # once waited for, a worker's CPU time counts among the collector's children's
        for stream in (proc.stdin, proc.stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)

    def _kill(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
        self._stop()

    def _fill(self, deadline: float) -> bool:
        """Read what the worker wrote into the buffer; False at the deadline or on end of file
        (then `_ended` is set: the worker closed its output, it is exiting)."""
        assert self._proc is not None and self._proc.stdout is not None and self._selector is not None
        remaining = deadline - self._clock()
        if remaining <= 0 or not self._selector.select(remaining):
            return False
        chunk = os.read(self._proc.stdout.fileno(), 1 << 20)
        if not chunk:
            self._ended = True
            return False
        self._buffer += chunk
        return True

    def _read_header(self, deadline: float) -> dict[str, Any] | None:
        """The next header; None at the deadline or the end of the output; BridgeUnavailable for
        something that is not one (the worker is not speaking this protocol)."""
        while b"\n" not in self._buffer:
            if len(self._buffer) > MAX_HEADER_BYTES:
                raise BridgeUnavailable("the librados worker wrote an endless line")
            if not self._fill(deadline):
                return None
        line, _, rest = bytes(self._buffer).partition(b"\n")
        self._buffer[:] = rest
        try:
            header = json.loads(line)
        except ValueError:
            header = None
        if not isinstance(header, dict):
            raise BridgeUnavailable(f"the librados worker wrote {line[:200]!r}")
        return header

    def _read_payload(self, size: int, deadline: float) -> bytes | None:
        while len(self._buffer) < size:
            if not self._fill(deadline):
                return None
        payload = bytes(self._buffer[:size])
        del self._buffer[:size]
        return payload

    def _ensure_running(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            return
        if self._proc is not None:
            log.warning("the librados worker (pid %d) exited with %s; starting another",
                        self._proc.pid, self._proc.returncode)
            self._stop()
            self._retry_at = 0.0
        if self._clock() < self._retry_at:
            raise BridgeUnavailable("the librados worker is restarted later")
        self._start()

    # -- the backend ----------------------------------------------------------------------------
    def command(self, prefix: str, args: dict[str, Any], target: str, inbuf: bytes = b"") -> tuple[int, bytes, str]:
        """Run one command in the worker: (rc, output, error text). A worker that does not answer
        within twice the timeout is killed (rc -ETIMEDOUT; the next command starts another);
        BridgeUnavailable when none runs."""
        self._ensure_running()
        assert self._proc is not None and self._proc.stdin is not None
        request = {"target": "mgr" if target == "mgr" else "mon",
                   "cmd": json.dumps({"prefix": prefix, **args, "format": "json"}), "inbuf": len(inbuf)}
        try:
            self._proc.stdin.write(json.dumps(request).encode() + b"\n" + inbuf)
            self._proc.stdin.flush()
        except OSError as exc:  # it died since: say so; the caller falls back
            self._kill()
            raise BridgeUnavailable(f"the librados worker is gone: {exc}") from None
        deadline = self._clock() + 2 * self.timeout
        out = None
        try:
            header = self._read_header(deadline)
            if header is not None:
                size, rc = header.get("out"), header.get("rc")
                if not (isinstance(size, int) and size >= 0 and isinstance(rc, int)):
                    raise BridgeUnavailable(f"the librados worker answered {header!r:.200}")
                out = self._read_payload(size, deadline)
        except BridgeUnavailable:
            self._kill()
            raise
        if header is None or out is None:
            ended = self._ended
            self._kill()  # its answer, if one still comes, could not be told from the next one's
            if ended:
                raise BridgeUnavailable("the librados worker exited mid-command")
            return -ETIMEDOUT, b"", f"ceph {prefix}: no answer from the librados worker in {2 * self.timeout:g} s"
        self._cpu_live = float(header.get("cpu", self._cpu_live))
        return header["rc"], out, str(header.get("err", ""))

    def fsid(self) -> str:
        return self.fsid_value

    def cpu_seconds(self) -> float:
        """CPU time the running worker used, as it last reported (one that ended and was waited
        for is in the collector's `RUSAGE_CHILDREN`)."""
        return self._cpu_live

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def close(self) -> None:
        self._stop()


def bridge_for(ceph_executable: str, conffile: str, keyring: str | None, name: str,
               timeout: float) -> RadosBridgeBackend | None:
    """A bridge through the interpreter of `ceph_executable`, or None (logged) when that is not a
    Python script or its librados does not connect."""
    interpreter = script_interpreter(ceph_executable)
    if interpreter is None:
        log.info("%s is not a Python script: no librados through its interpreter", ceph_executable)
        return None
    try:
        return RadosBridgeBackend(interpreter, conffile, keyring, name, timeout)
    except BridgeUnavailable as exc:
        log.warning("%s", exc)
        return None
