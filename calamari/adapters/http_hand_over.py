"""The hand-over of a lasting answer (the push stream) off its worker thread: the WSGI environ key
`HAND_OVER`, the task that offers it, and the `PushedAnswer` that other threads append to and the
server's I/O loop sends (see calamari.adapters.http_server)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from waitress.channel import HTTPChannel
from waitress.task import WSGITask

from calamari.adapters.http_parts import file_wrapper

HAND_OVER = "calamari.hand_over"
"""The WSGI environ key of a callable `hand_over(on_close) -> PushedAnswer`: called while the
application's answer is being iterated (start_response done), it sends the answer's head, ends
the worker thread's part once the iterator is exhausted and returns the answer to be continued
from any thread. `on_close()` is called (on the I/O loop) when the connection closes."""


AT_ONCE = "calamari.at_once"
"""The WSGI environ key of the application answering a request at once, on the I/O loop (the
server's `at_once` returned it); `answered_at_once` wraps the application to use it."""


def answered_at_once(application: Callable[..., Any]) -> Callable[..., Any]:
    """`application`, except for the requests whose answer was found at once (AT_ONCE)."""

    def serve(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        prepared = environ.pop(AT_ONCE, None)
        return (prepared or application)(environ, start_response)

    return serve


class HandOverTask(WSGITask):
    """A WSGI answer that the application may take off the worker thread (HAND_OVER)."""

    handed_over = False

    def get_environment(self) -> dict[str, Any]:
        environ = super().get_environment()
        environ[HAND_OVER] = self.hand_over
        environ["wsgi.file_wrapper"] = file_wrapper  # an answer of parts is sent as its parts
        return environ

    def hand_over(self, on_close: Callable[[], None]) -> PushedAnswer:
        if self.handed_over:
            raise RuntimeError("the answer was already handed over")
        self.write(b"")  # the head goes out now, from this thread, before anything pushed
        self.handed_over = True
        return self.channel.hand_over(self.chunked_response, on_close)

    def finish(self) -> None:
        if not self.handed_over:
            super().finish()
            return
        # The answer goes on without this thread: no last chunk, and the connection stays open
        # (its head said `Connection: close`; it closes when the pushed answer ends).
        self.close_on_finish = False


class PushedAnswer:
    """The rest of an answer after its worker thread handed it over: appended to by any thread,
    never blocking on the client (the server's I/O loop sends what was appended when the client
    takes it). The holder bounds what may wait unsent (`unsent`) and cuts a client that lags."""

    def __init__(self, channel: HTTPChannel, chunked: bool) -> None:  # a GuardedChannel (http_connections)
        self._channel = channel
        self._chunked = chunked
        self._ending = False

    @property
    def unsent(self) -> int:
        """Bytes appended and not yet taken by the client (its kernel buffers count as taken)."""
        return int(self._channel.total_outbufs_len)

    @property
    def open(self) -> bool:
        channel = self._channel
        return bool(channel.connected and channel.open and not channel.will_close and not self._ending)

    def push(self, data: bytes) -> int | None:
        """Append `data`; the bytes now waiting unsent, or None when the connection is closed or
        ending (nothing is appended). Call wake() after a round of pushes."""
        if not data:
            return self.unsent if self.open else None
        if self._chunked:
            data = b"%X\r\n%b\r\n" % (len(data), data)
        channel = self._channel
        with channel.outbuf_lock:
            if not self.open:
                return None
            channel.append_output(data)
            return int(channel.total_outbufs_len)

    def wake(self) -> None:
        """Tell the I/O loop that there is output to send."""
        self._channel.server.wake()

    def end(self) -> None:
        """Finish the answer: the connection closes once everything pushed has been sent."""
        channel = self._channel
        with channel.outbuf_lock:
            if not self.open:
                return
            if self._chunked:
                channel.append_output(b"0\r\n\r\n")
            self._ending = True
            channel.close_when_flushed = True
        self.wake()

    def cut(self) -> None:
        """Close the connection now, dropping what was not sent."""
        channel = self._channel
        with channel.outbuf_lock:
            self._ending = True
            channel.will_close = True
        self.wake()

