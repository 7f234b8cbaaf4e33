"""Answers handed over by their worker thread (HAND_OVER, the push stream's way): the thread is
free at once, other threads append without blocking, the I/O loop sends; such connections are
neither evicted nor counted against the connection limit, yet closed when their client stops
reading, hangs up or sends anything more."""

from __future__ import annotations

import contextlib
import queue
import socket
import threading
import time
from collections.abc import Iterator

from calamari.adapters.http_server import HAND_OVER, ConnectionLimits, PushedAnswer, create_http_server

LIVENESS_S = 30  # bounds a wait that a working server ends at once; never a speed assertion


class PushingApp:
    """`/push` hands its answer over (PushedAnswer and a closed-flag to the test); else `ok`."""

    def __init__(self) -> None:
        self.answers: queue.Queue[tuple[PushedAnswer, threading.Event]] = queue.Queue()

    def __call__(self, environ, start_response):
        if environ["PATH_INFO"] == "/push":
            start_response("200 OK", [("Content-Type", "text/event-stream")])
            return self._hand_over(environ[HAND_OVER])
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
        return [b"ok"]

    def _hand_over(self, hand_over) -> Iterator[bytes]:
        closed = threading.Event()
        self.answers.put((hand_over(closed.set), closed))
        yield from ()

    def next_answer(self) -> tuple[PushedAnswer, threading.Event]:
        return self.answers.get(timeout=LIVENESS_S)


@contextlib.contextmanager
def serving(limits: ConnectionLimits, threads: int = 1) -> Iterator[tuple[int, PushingApp]]:
    app = PushingApp()
    server = create_http_server(app, "127.0.0.1", 0, threads=threads, limits=limits)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield int(server.effective_port), app
    finally:
        server.close()
        server.task_dispatcher.shutdown(timeout=5)
        thread.join(10)


def open_push(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=LIVENESS_S)
    sock.sendall(b"GET /push HTTP/1.1\r\nHost: x\r\n\r\n")
    return sock


def read_until(sock: socket.socket, ending: bytes) -> bytes:
    data = b""
    while not data.endswith(ending):
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"closed before {ending!r}; got {data!r}")
        data += chunk
    return data


def get_ok(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=LIVENESS_S) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
        return data


def closed_by_server(sock: socket.socket) -> bool:
    """Reads (and drops) whatever comes until the server closes the connection."""
    try:
        while sock.recv(65536):
            pass
        return True
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_a_handed_over_answer_frees_its_only_worker_thread_and_is_written_from_another_thread():
    with serving(ConnectionLimits(), threads=1) as (port, app):
        client = open_push(port)
        answer, closed = app.next_answer()
        head = read_until(client, b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200") and b"Transfer-Encoding: chunked" in head
        assert b"Connection: close" in head  # nothing may follow it on this connection
        # the only worker thread answers others while the pushed answer stays open
        assert get_ok(port).endswith(b"\r\n\r\nok")
        assert get_ok(port).endswith(b"\r\n\r\nok")
        pushed = threading.Thread(target=lambda: (answer.push(b"data: one\n\n"), answer.wake()))
        pushed.start()
        pushed.join(LIVENESS_S)
        assert read_until(client, b"one\n\n\r\n") == b"B\r\ndata: one\n\n\r\n"
        answer.push(b"data: two\n\n")
        answer.end()  # the last chunk, then the server closes
        rest = b""
        while chunk := client.recv(65536):
            rest += chunk
        assert rest == b"B\r\ndata: two\n\n\r\n0\r\n\r\n"
        assert closed.wait(LIVENESS_S)
        assert answer.push(b"late") is None  # nothing goes to a closed connection
        client.close()


def test_pushed_answers_are_never_evicted_nor_counted_against_the_connection_limit():
    limits = ConnectionLimits(max_connections=4, request_timeout=0.3, idle_timeout=1.0)
    with serving(limits, threads=2) as (port, app):
        clients, answers = [], []
        for _ in range(8):  # twice the connection limit, one after the other (a new one is evictable)
            clients.append(open_push(port))
            answers.append(app.next_answer()[0])
        squatters = []
        try:
            # squatters beyond the limit, while the pushed answers keep sending for longer than the
            # idle timeout (a keep-alive every 0.2 s is progress)
            stop_at = time.monotonic() + 2.5
            while time.monotonic() < stop_at:
                for answer in answers:
                    assert answer.push(b": keep-alive\n\n") is not None
                    answer.wake()
                if len(squatters) < 12:
                    sock = socket.create_connection(("127.0.0.1", port), timeout=LIVENESS_S)
                    sock.sendall(b"GET / HTTP/1.1\r\n")
                    squatters.append(sock)
                for client in clients:
                    with contextlib.suppress(BlockingIOError):
                        client.recv(65536, socket.MSG_DONTWAIT)
                time.sleep(0.2)
            assert get_ok(port).endswith(b"ok")  # a new client is served
            for answer, client in zip(answers, clients, strict=True):
                assert answer.open
                answer.push(b"data: still\n\n")
                answer.wake()
                assert read_until(client, b"data: still\n\n\r\n").endswith(b"data: still\n\n\r\n")
        finally:
            for sock in squatters + clients:
                sock.close()


def test_a_pushed_answer_whose_client_stops_reading_is_closed():
    limits = ConnectionLimits(max_connections=10, request_timeout=600, idle_timeout=0.5)
    with serving(limits) as (port, app):
        client = socket.socket()
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        client.settimeout(LIVENESS_S)
        client.connect(("127.0.0.1", port))
        client.sendall(b"GET /push HTTP/1.1\r\nHost: x\r\n\r\n")  # and never reads
        answer, closed = app.next_answer()
        deadline = time.monotonic() + LIVENESS_S
        while answer.push(b"x" * 16384) is not None and time.monotonic() < deadline:
            answer.wake()
            time.sleep(0.01)
        assert closed.wait(LIVENESS_S) and not answer.open
        client.close()


def test_a_client_that_hangs_up_closes_its_pushed_answer():
    with serving(ConnectionLimits()) as (port, app):
        client = open_push(port)
        answer, closed = app.next_answer()
        read_until(client, b"\r\n\r\n")
        client.close()
        assert closed.wait(LIVENESS_S)
        assert answer.push(b"data: gone\n\n") is None


def test_anything_sent_after_a_pushed_request_closes_the_connection_unanswered():
    with serving(ConnectionLimits()) as (port, app):
        client = open_push(port)
        answer, closed = app.next_answer()
        head = read_until(client, b"\r\n\r\n")
        client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")  # a second request on the stream's connection
        assert closed.wait(LIVENESS_S)
        rest = b""
        with contextlib.suppress(ConnectionResetError):
            while chunk := client.recv(65536):
                rest += chunk
        assert b"HTTP/1.1" not in rest and head.count(b"HTTP/1.1") == 1  # never answered
        client.close()


def test_requests_pipelined_behind_a_pushed_one_are_dropped():
    with serving(ConnectionLimits()) as (port, app):
        client = socket.create_connection(("127.0.0.1", port), timeout=LIVENESS_S)
        client.sendall(b"GET /push HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
        answer, closed = app.next_answer()
        answer.push(b"data: only\n\n")
        answer.end()
        assert closed.wait(LIVENESS_S)
        data = b""
        while chunk := client.recv(65536):
            data += chunk
        assert data.count(b"HTTP/1.1 ") == 1 and data.endswith(b"data: only\n\n\r\n0\r\n\r\n")
        client.close()
