"""The API's client connections and listening sockets under their limits: slow requests and idle
or non-reading clients are closed, the longest-waiting connection is evicted when all are taken,
and waitress's own error answers are JSON (the rules: calamari.adapters.http_server)."""

from __future__ import annotations

import contextlib
import errno
import logging
import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from waitress.buffers import OverflowableBuffer
from waitress.channel import HTTPChannel
from waitress.server import TcpWSGIServer
from waitress.task import ErrorTask

from calamari.adapters.http_hand_over import AT_ONCE, HandOverTask, PushedAnswer
from calamari.adapters.http_parts import PartsChunk

log = logging.getLogger("calamari.adapters.http_server")  # the name its log lines have always had

REPORT_EVERY_S = 60.0
# the errors of a send to a client that hung up (as waitress's own send treats them)
_DISCONNECTED = frozenset({errno.ECONNRESET, errno.ENOTCONN, errno.ESHUTDOWN, errno.ECONNABORTED, errno.EPIPE,
                           errno.EBADF})  # closed slow or evicted connections are logged at most this often


@dataclass(frozen=True)
class ConnectionLimits:
    """How many connections the API keeps open and how long a client may take."""

    max_connections: int = 200
    request_timeout: float = 30.0  # from a request's first byte to its last
    idle_timeout: float = 60.0  # without progress while no request is in progress
    max_body: int = 1 << 20  # bytes; larger bodies are refused before they are read (--max-body)

    def __post_init__(self) -> None:
        if self.max_connections < 1 or self.request_timeout <= 0 or self.idle_timeout <= 0 or self.max_body < 0:
            raise ValueError(f"connection limits must be positive: {self}")


class JsonErrorTask(ErrorTask):
    """waitress's answer to a request it refuses itself (malformed, headers or body too large),
    as JSON {"detail"} like every other error of the API."""

    def execute(self) -> None:
        error = self.request.error
        detail = (f"request body too large: at most {self.channel.server.limits.max_body} bytes" if error.code == 413
                  else f"{error.reason}: {error.body}")
        body = orjson.dumps({"detail": detail})
        self.status = f"{error.code} {error.reason}"
        self.response_headers.extend([("Content-Type", "application/json"), ("Cache-Control", "no-store"),
                                      ("X-Content-Type-Options", "nosniff")])
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)



class GuardedChannel(HTTPChannel):
    """One client connection, knowing since when it has been waiting for its client."""

    error_task_class = JsonErrorTask

    @staticmethod
    def task_class(channel: GuardedChannel, request: Any) -> HandOverTask:
        """The task answering `request` (waitress calls this): the one prepared by
        `prepare_at_once` for it, else a new one."""
        task, channel.prepared = channel.prepared, None
        if task is not None and task.request is request:
            return task
        return HandOverTask(channel, request)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # When the first byte of the request being received arrived (None: no request under way).
        # A new connection counts as sending its first request from the moment it opened.
        self.request_started: float | None = self.creation_time
        self.serving = False  # a worker thread is in service() for this connection
        self.pushed: PushedAnswer | None = None  # its answer was handed over by its worker thread
        self._on_close: Callable[[], None] | None = None
        self.receiving = False  # the I/O loop is in received() for it
        self.prepared: HandOverTask | None = None  # a task the application answers at once
        if getattr(self.server, "at_once", None) is not None:
            self.read_waiting()

    def read_waiting(self) -> None:
        """Read what the client of a new connection has sent already (a client sends its request
        right after connecting): it is then answered in this round of the loop, not the next."""
        try:
            data = self.socket.recv(self.adj.recv_bytes)
        except OSError:  # nothing yet, or an error the loop's own read meets again
            return
        if data:
            self.last_activity = time.time()
            self.received(data)

    def hand_over(self, chunked: bool, on_close: Callable[[], None]) -> PushedAnswer:
        """From the worker thread answering this connection's request (HandOverTask)."""
        with self.requests_lock:
            # Requests pipelined behind this one are never answered: its head said Connection: close.
            for request in self.requests[1:]:
                request.close()
            del self.requests[1:]
            self.request = None
            self.request_started = None
            self._on_close = on_close
            self.pushed = PushedAnswer(self, chunked)
            self.last_activity = time.time()
        return self.pushed

    def append_output(self, data: bytes) -> None:
        """Queue `data` to be sent by the loop; the caller holds outbuf_lock."""
        if self.current_outbuf_count >= self.adj.outbuf_overflow:
            # a fresh buffer now and then: a drained one is freed, a long answer does not pile up
            self.outbufs.append(OverflowableBuffer(self.adj.outbuf_overflow))
            self.current_outbuf_count = 0
        self.outbufs[-1].append(data)
        self.current_outbuf_count += len(data)
        self.total_outbufs_len += len(data)

    def _flush_some(self, do_close: bool = True) -> bool:
        # waitress sends chunks of the send buffer's size read when the connection opened; the
        # kernel may grow that buffer as the answer goes: follow it
        with contextlib.suppress(OSError):
            self.sendbuf_len = self.socket.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
        return bool(super()._flush_some(do_close))

    def send(self, data: Any, do_close: bool = True) -> int:
        """Send what waitress's output buffer gave (`outbuf.get`): the next parts of an answer of
        parts (http_parts) in one sendmsg, anything else as waitress does. Bytes sent; 0 when the
        socket takes nothing now or the client is gone (then closed, as waitress does)."""
        if not isinstance(data, PartsChunk):
            return int(super().send(data, do_close))
        try:
            return self.socket.sendmsg(data)
        except (BlockingIOError, InterruptedError):
            return 0
        except OSError as error:
            if error.errno in _DISCONNECTED:
                if do_close:
                    self.handle_close()
                return 0
            raise

    @property
    def busy(self) -> bool:
        """A request is being answered or waits for a worker thread: never timed out or evicted."""
        return bool(self.requests) or self.serving

    @property
    def open(self) -> bool:
        return self._fileno is not None  # wasyncore clears it when the socket is closed

    def waiting_since(self) -> float:
        return self.request_started if self.request_started is not None else self.last_activity

    def overdue(self, now: float, limits: ConnectionLimits) -> str | None:
        """Why this connection must be closed now ("slow request", "idle", "not reading"), or None."""
        if self.pushed is not None:
            # a pushed answer makes progress with every byte the client takes (keep-alives too)
            return "not reading" if now - self.last_activity > limits.idle_timeout else None
        if self.busy:
            # An answer in progress is only closed when its client stopped reading it: its worker
            # thread waits (more than outbuf_high_watermark unsent) and nothing went out for long.
            stalled = (self.total_outbufs_len >= self.adj.outbuf_high_watermark
                       and now - self.last_activity > limits.idle_timeout)
            return "not reading" if stalled else None
        if self.request_started is not None:
            return "slow request" if now - self.request_started > limits.request_timeout else None
        return "idle" if now - self.last_activity > limits.idle_timeout else None

    def received(self, data: bytes) -> bool:
        if self.pushed is not None:
            # nothing may follow a request whose answer is pushed (it said Connection: close)
            self.will_close = True
            return False
        self.receiving = True
        try:
            result = super().received(data)
        finally:
            self.receiving = False
        if self.request is None:  # every byte so far belongs to complete requests
            self.request_started = None
        elif self.request_started is None:  # the first bytes of a new request
            self.request_started = time.time()
        if self.prepared is not None:
            # Answered here, on the I/O loop: no worker thread to wake and none to wake this loop
            # again to send it. waitress's own service() runs the task (and queues any request
            # received behind it for a worker thread, as usual); what it wrote goes out now.
            self.server.answering_at_once = threading.get_ident()
            try:
                self.service()
            finally:
                self.server.answering_at_once = None
            if not self.requests and self.total_outbufs_len:
                self._flush_exception(self._flush_some)
        return result

    def prepare_at_once(self, answer_at_once: Callable[[dict[str, Any]], Any]) -> bool:
        """For the request just received, alone on this connection (the I/O loop calls this from
        received()): whether `answer_at_once` answers it without blocking; then its task is kept
        for service(), with the answer in its environ (AT_ONCE)."""
        request = self.requests[0]
        if (request.error or request.command != "GET" or self.total_outbufs_len or self.pushed is not None
                or self.will_close or self.close_when_flushed):
            return False  # nothing may wait unsent ahead of it: writing then never blocks the loop
        task = HandOverTask(self, request)
        try:
            environ = task.get_environment()
            answer = answer_at_once(environ)
        except Exception:  # the worker thread answers it then, and its error handling with it
            log.exception("answering a request at once failed; it goes to a worker thread")
            return False
        if answer is None:
            return False
        environ[AT_ONCE] = answer
        self.prepared = task
        return True

    def service(self) -> None:
        # `requests` empties before service() returns and refreshes last_activity: without the
        # flag, a sweep in between could take a connection that is still answering for idle.
        self.serving = True
        try:
            super().service()
        finally:
            self.serving = False

    def readable(self) -> bool:
        if self.pushed is not None:
            # read on while output waits: a hang-up (or stray bytes) must close it at once
            return self.open and not (self.will_close or self.close_when_flushed)
        return self.open and super().readable()

    def writable(self) -> bool:
        return self.open and bool(super().writable())

    def handle_write(self) -> None:
        if self.pushed is None:
            super().handle_write()
            return
        # Other threads append to a pushed answer: send under the lock they append under.
        if not self.will_close:
            with self.outbuf_lock:
                self._flush_exception(self._flush_some)
            if not self.open:  # the client was gone: sending closed it
                return
            if self.close_when_flushed and not self.total_outbufs_len:
                self.will_close = True
        if self.will_close:
            self.handle_close()

    def handle_close(self) -> None:
        super().handle_close()
        on_close, self._on_close = self._on_close, None
        if on_close is not None:
            try:
                on_close()
            except Exception:  # the loop must go on whatever the holder does
                log.exception("a pushed answer's close handler failed")


class GuardedServer(TcpWSGIServer):
    """A listening socket of the API. Timeouts and evictions run in readable(), which the loop
    calls for the listening sockets before any client connection (they were put in the socket
    map first): a connection closed there is not registered with poll() in that round, so no
    event of its old descriptor can reach a new connection that reuses the number."""

    channel_class = GuardedChannel

    def __init__(self, application: Callable[..., Any], limits: ConnectionLimits,
                 at_once: Callable[[dict[str, Any]], Any] | None = None, **kwargs: Any) -> None:
        self.limits = limits
        self.at_once = at_once
        self.answering_at_once: int | None = None  # the I/O loop's thread while it runs a task answered at once
        self._next_sweep = 0.0
        self._closed = {"slow request": 0, "idle": 0, "evicted": 0, "not reading": 0}
        self._next_report = time.monotonic() + REPORT_EVERY_S
        self._full_logged = 0.0
        self._looping = False  # run() is in its loop
        self._closing = False  # close() was asked for while it was
        self._woken = False  # wake() pulled the trigger and the loop has not come round since
        super().__init__(application, **kwargs)
        if not self.adj.asyncore_use_poll:
            # select() would fail on a descriptor closed between readable() and the wait
            raise ValueError("GuardedServer needs asyncore_use_poll")
        self._incoming = select.poll()
        self._incoming.register(self.socket.fileno(), select.POLLIN)

    def pull_trigger(self) -> None:
        if self.answering_at_once != threading.get_ident():  # the loop answering needs no wake-up
            super().pull_trigger()

    def add_task(self, channel: Any) -> None:
        """Queue the connection's request for a worker thread, unless the application answers it
        at once (then the I/O loop does, once received() is done)."""
        if (self.at_once is not None and isinstance(channel, GuardedChannel) and channel.receiving
                and channel.prepare_at_once(self.at_once)):
            return
        super().add_task(channel)

    def channels(self) -> list[GuardedChannel]:
        """The open client connections of every listening socket sharing this server's loop."""
        return [c for c in list(self._map.values()) if isinstance(c, GuardedChannel) and c.open]

    def wake(self) -> None:
        """Have the loop come round (pushed output to send): one trigger per round, however
        many answers were pushed to (their output is queued before this is called)."""
        if self._woken:
            return
        self._woken = True
        with contextlib.suppress(OSError):  # the server is closing
            self.pull_trigger()

    def readable(self) -> bool:
        # Called at the start of each round, before the connections are asked what they wait for:
        # output queued from now on needs a new trigger.
        self._woken = False
        if self._closing:
            self._close_all()
            return False
        now = time.time()
        if now >= self._next_sweep:
            self._next_sweep = now + 1.0
            self.maintenance(now)
        if not self.accepting:
            return False
        # pushed answers are bounded by the application that pushes them, not here
        channels = [c for c in self.channels() if c.pushed is None]
        if len(channels) < self.limits.max_connections:
            return True
        if not self._incoming.poll(0):
            return True  # nobody is waiting to connect: nothing to make room for yet
        waiting = [c for c in channels if not c.busy]
        if not waiting:
            # every connection is being answered: new ones wait in the listen backlog
            if time.monotonic() - self._full_logged > REPORT_EVERY_S:
                self._full_logged = time.monotonic()
                log.warning("all %d HTTP connections are being answered; new ones wait", len(channels))
            return False
        # room for one more (connections accepted meanwhile by another listening socket included)
        excess = len(channels) - self.limits.max_connections + 1
        for channel in sorted(waiting, key=GuardedChannel.waiting_since)[:excess]:
            self._close(channel, "evicted")
        return len(waiting) >= excess

    def maintenance(self, now: float) -> None:
        for channel in self.channels():
            reason = channel.overdue(now, self.limits)
            if reason is not None:
                self._close(channel, reason)
        self._report()

    def run(self) -> None:
        self._looping = True
        try:
            super().run()
        finally:
            self._looping = False

    def close(self) -> None:
        """Stop listening and drop every connection, so that run() returns: plain waitress keeps
        serving open keep-alive connections after close(), and nothing would time them out any
        more. Safe from a signal handler or another thread: the loop does it at its safe point."""
        if not self._looping:
            self._close_all()
            return
        self._closing = True
        with contextlib.suppress(OSError):  # already closed
            self.pull_trigger()

    def _close_all(self) -> None:
        for channel in self.channels():
            channel.handle_close()
        if self.socket is not None:
            super().close()

    def _close(self, channel: GuardedChannel, reason: str) -> None:
        self._closed[reason] += 1
        channel.handle_close()

    def _report(self) -> None:
        if time.monotonic() < self._next_report:
            return
        self._next_report = time.monotonic() + REPORT_EVERY_S
        slow, evicted, stalled = self._closed["slow request"], self._closed["evicted"], self._closed["not reading"]
        if slow or evicted or stalled:  # idle ones are ordinary keep-alive endings
            log.warning("HTTP connections closed in the last %.0f s: %d sending their request for more than "
                        "%.0f s, %d waiting longest when %d connections were open, %d not reading their answer",
                        REPORT_EVERY_S, slow, self.limits.request_timeout, evicted, self.limits.max_connections,
                        stalled)
        self._closed = dict.fromkeys(self._closed, 0)
