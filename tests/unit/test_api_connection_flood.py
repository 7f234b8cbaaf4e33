"""A real calamari-server, with its default options, keeps answering a logged-in client while
hundreds of sockets (no login needed) hold half-sent requests or trickle their bodies."""

from __future__ import annotations

import contextlib
import socket

import pytest

from calamari.testing.live import ApiClient, CalamariServer

ANSWER_WITHIN_S = 30  # liveness bound only: a locked-out client never gets an answer
SQUATTERS = 300


def half_sent_requests(port: int) -> list[bytes]:
    return [
        b"GET /api/v2/cluster HTTP/1.1\r\n",  # no end of headers
        f"GET /api/v2/info HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-Slow: ".encode(),  # a header cut short
        # a body announced and trickled: 10 bytes of 1000
        f"POST /api/v2/auth/login HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: 1000\r\n\r\n{{\"username\":".encode(),
        b"G",  # a request line of one byte
    ]


@pytest.fixture
def server(tmp_path):
    server = CalamariServer(tmp_path / "data")
    with server.running() as api:
        yield server, api


def test_idle_and_slow_sockets_do_not_stop_the_api(server):
    calamari, api = server
    client = ApiClient(calamari.url, timeout=ANSWER_WITHIN_S)
    client.token = api.token
    squatters: list[socket.socket] = []
    try:
        requests = half_sent_requests(calamari.api_port)
        for n in range(SQUATTERS):
            sock = socket.create_connection(("127.0.0.1", calamari.api_port), timeout=ANSWER_WITHIN_S)
            squatters.append(sock)
            sock.sendall(requests[n % len(requests)])
        for sock in squatters:  # signs of life, as a slow client sends them
            with contextlib.suppress(OSError):
                sock.sendall(b"a")
        assert client.get("/cluster") == []
        assert client.get("/user/me")["username"] == CalamariServer.USER
        # a new client logs in too
        fresh = ApiClient(calamari.url, timeout=ANSWER_WITHIN_S)
        assert fresh.login(CalamariServer.USER, CalamariServer.PASSWORD)
    finally:
        for sock in squatters:
            sock.close()
