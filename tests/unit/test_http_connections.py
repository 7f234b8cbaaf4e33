"""The API's HTTP server bounds idle and slow clients: half-sent requests and idle sockets cannot
lock legitimate clients out, a slow request is dropped however slowly its bytes keep coming, an
answer in progress is never cut, and oversized bodies are refused before they are read."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from calamari.adapters.http_server import ConnectionLimits, create_http_server

ANSWER_WITHIN_S = 30  # liveness bound only: a blocked server never answers, a working one at once


BIG_ANSWER = 64 << 20  # more than waitress buffers before the worker thread must wait for the client


def app(environ, start_response):
    if environ["PATH_INFO"] == "/hold":
        environ["hold.release"].wait(ANSWER_WITHIN_S)
    if environ["PATH_INFO"] == "/big":
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return (b"x" * (1 << 20) for _ in range(BIG_ANSWER >> 20))
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok:" + body]


@contextlib.contextmanager
def running_server(limits: ConnectionLimits, hold: threading.Event | None = None, threads: int = 4) -> Iterator[int]:
    release = hold or threading.Event()

    def with_hold(environ, start_response):
        environ["hold.release"] = release
        return app(environ, start_response)

    server = create_http_server(with_hold, "127.0.0.1", 0, threads=threads, limits=limits)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield int(server.effective_port)
    finally:
        release.set()
        server.close()
        server.task_dispatcher.shutdown(timeout=5)
        thread.join(10)


def connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=ANSWER_WITHIN_S)
    return sock


def get(port: int, path: str = "/", body: bytes = b"") -> bytes:
    """A whole request on a new connection; the whole answer."""
    with connect(port) as sock:
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {len(body)}\r\n\r\n"
                     .encode() + body)
        return read_all(sock)


def read_all(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def read_response(sock: socket.socket) -> bytes:
    """One answer (its head and its Content-Length of body) from a connection kept alive."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def closed_by_server(sock: socket.socket) -> bool:
    """Blocks until the server closes the connection (True) or the liveness bound passes."""
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


PARTIAL_REQUESTS = [
    b"GET /",  # an unfinished request line
    b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ",  # unfinished headers
    b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" + b"a" * 10,  # an unfinished body
    b"",  # nothing at all
]


def test_half_sent_requests_beyond_the_limit_do_not_lock_a_client_out():
    limits = ConnectionLimits(max_connections=10, request_timeout=600, idle_timeout=600)
    with running_server(limits) as port:
        squatters = []
        try:
            for n in range(60):
                sock = connect(port)
                sock.sendall(PARTIAL_REQUESTS[n % len(PARTIAL_REQUESTS)])
                squatters.append(sock)
            # each squatter keeps showing signs of life, as a slow client would
            for n, sock in enumerate(squatters):
                with contextlib.suppress(OSError):
                    sock.sendall(b"" if n % 4 == 3 else b"a")
            answer = get(port, body=b"legit")
            assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"ok:legit")
            # the ones that waited longest were closed to make room; the newest stay
            assert closed_by_server(squatters[0])
        finally:
            for sock in squatters:
                sock.close()


def test_a_request_trickling_in_is_dropped_after_the_request_timeout():
    limits = ConnectionLimits(max_connections=50, request_timeout=0.5, idle_timeout=600)
    with running_server(limits) as port, connect(port) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
        sock.settimeout(0.1)
        deadline = time.monotonic() + ANSWER_WITHIN_S
        closed = False
        while not closed and time.monotonic() < deadline:
            try:
                sock.sendall(b"a")  # a byte every 0.1 s: always active, never done
                closed = sock.recv(1) == b""
            except TimeoutError:
                continue
            except OSError:  # reset or broken pipe: closed by the server
                closed = True
        assert closed


def test_an_idle_connection_is_closed_after_the_idle_timeout_and_a_kept_alive_one_works_before():
    limits = ConnectionLimits(max_connections=50, request_timeout=600, idle_timeout=0.5)
    with running_server(limits) as port, connect(port) as sock:
        for _ in range(2):  # kept alive between requests
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert read_response(sock).startswith(b"HTTP/1.1 200")
        assert closed_by_server(sock)


def test_an_answer_in_progress_is_never_cut_by_timeouts_or_evictions():
    limits = ConnectionLimits(max_connections=4, request_timeout=0.3, idle_timeout=0.3)
    hold = threading.Event()
    with running_server(limits, hold) as port, connect(port) as held:
        held.sendall(b"GET /hold HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        squatters = [connect(port) for _ in range(12)]
        try:
            for sock in squatters:
                sock.sendall(b"GET / HTTP/1.1\r\n")
            # every squatter is closed, by eviction or timeout, long after the held answer began
            assert all(closed_by_server(sock) for sock in squatters)
            hold.set()
            answer = read_all(held)
            assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"ok:")
        finally:
            for sock in squatters:
                sock.close()


def test_a_client_that_stops_reading_a_large_answer_does_not_hold_a_worker_thread_for_ever():
    limits = ConnectionLimits(max_connections=50, request_timeout=600, idle_timeout=0.5)
    with running_server(limits, threads=1) as port, connect(port) as reader:
        reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        reader.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")  # and never reads
        # the only worker thread is freed for the next client
        assert get(port, body=b"next").endswith(b"ok:next")


def test_a_body_above_the_limit_is_refused_with_json_before_it_is_sent():
    limits = ConnectionLimits(max_body=1000)
    with running_server(limits) as port, connect(port) as sock:
        # only the headers are sent: the answer must not wait for the announced body
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5000000\r\n\r\n")
        answer = read_all(sock)
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 413")
        assert b"application/json" in head
        assert "detail" in json.loads(body)
    with running_server(limits) as port:
        assert get(port, body=b"x" * 1000).endswith(b"ok:" + b"x" * 1000)


@pytest.mark.parametrize("bad", [{"max_connections": 0}, {"request_timeout": 0}, {"idle_timeout": -1},
                                 {"max_body": -1}])
def test_limits_must_be_positive(bad):
    with pytest.raises(ValueError):
        ConnectionLimits(**bad)


@pytest.mark.parametrize("option, value", [("--http-max-connections", "0"), ("--http-request-timeout", "0"),
                                           ("--http-idle-timeout", "-5"), ("--http-idle-timeout", "nan"),
                                           ("--http-request-timeout", "soon")])
def test_calamari_server_refuses_bad_connection_limits_naming_the_option(option, value, capsys):
    from calamari.service import main as server_main

    with pytest.raises(SystemExit) as exited:
        server_main.parse_args([option, value])
    assert exited.value.code == 2
    assert option in capsys.readouterr().err


def test_calamari_server_passes_its_connection_limits_on(monkeypatch, tmp_path):
    from calamari.service import main as server_main

    seen = {}

    class Stops:
        def __init__(self, app, host, port, threads, limits, at_once=None):
            seen["limits"] = limits

        def run(self):
            return None

        def close(self):
            return None

    monkeypatch.setattr(server_main, "create_http_server", Stops)
    monkeypatch.setattr(server_main.gc, "freeze", lambda: None)
    monkeypatch.setattr(server_main.signal, "signal", lambda *args: None)
    assert server_main.main(["--data-dir", str(tmp_path), "--api", "127.0.0.1:0", "--bus", "tcp://127.0.0.1:0",
                             "--insecure-bus", "--log-level", "WARNING", "--http-max-connections", "7",
                             "--http-request-timeout", "2.5", "--http-idle-timeout", "9", "--max-body", "4096"]) == 0
    assert seen["limits"] == ConnectionLimits(max_connections=7, request_timeout=2.5, idle_timeout=9, max_body=4096)
