"""An answer of parts (the OSD list) is sent as its parts with sendmsg (calamari.adapters.http_parts),
never read through the file that carries them: every byte arrives, in order, to fast and slow
clients; a client that hangs up mid-answer costs nothing to the next one."""

from __future__ import annotations

import gzip
import http.client
import os
import socket
import time

import pytest
from flask import Flask
from hypothesis import given
from hypothesis import strategies as st

from calamari.adapters.http_parts import PartsBuffer, PartsChunk, file_wrapper
from calamari.api import compression, listing
from calamari.api.listing import JoinedParts, json_bytes_response


class UnreadableParts(JoinedParts):
    """A file of parts that must not be read: its server sends the parts themselves."""

    def read(self, size: int | None = -1) -> bytes:
        raise AssertionError("the parts were read through the file")


def many_parts(count: int = 30_000) -> list[bytes]:
    shared = b',"pools":[' + b",".join(str(i).encode() for i in range(300)) + b"]"
    parts = [b"["]
    for i in range(count // 3):
        parts += [b'{"id":%d,"name":"osd.%d"' % (i, i), shared, b'},' if i < count // 3 - 1 else b'}']
    parts.append(b"]")
    return parts


def make_app(parts: list[bytes]) -> Flask:
    app = Flask(__name__)
    compression.install(app)

    @app.get("/list")
    def answer():
        return json_bytes_response(parts, '"t"')

    return app


@pytest.fixture(autouse=True)
def parts_never_read(monkeypatch):
    monkeypatch.setattr(listing, "JoinedParts", UnreadableParts)  # what the server is handed: never read


def get(port: int) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", "/list")
        answer = connection.getresponse()
        return answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read()
    finally:
        connection.close()


def test_an_answer_of_parts_is_sent_from_the_parts(serve) -> None:
    parts = many_parts()
    port = serve(make_app(parts))
    status, headers, body = get(port)
    assert status == 200 and body == b"".join(parts)
    assert headers["content-length"] == str(len(body)) and headers["etag"] == '"t"'


def test_a_slow_client_gets_every_byte(serve) -> None:
    parts = many_parts(6_000)
    expected = b"".join(parts)
    port = serve(make_app(parts))
    client = socket.socket()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # the server's sends are cut short
    client.connect(("127.0.0.1", port))
    client.sendall(b"GET /list HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    received = bytearray()
    started = time.monotonic()
    while chunk := client.recv(8192):
        received += chunk
        if len(received) < 200_000:
            time.sleep(0.001)
        assert time.monotonic() - started < 60, "the answer stalled"
    client.close()
    head, _, body = bytes(received).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and body == expected


def test_a_client_hanging_up_mid_answer_leaves_the_server_serving(serve) -> None:
    parts = many_parts()
    port = serve(make_app(parts))
    for _ in range(3):
        client = socket.create_connection(("127.0.0.1", port))
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")  # reset
        client.sendall(b"GET /list HTTP/1.1\r\nHost: x\r\n\r\n")
        client.recv(65536)
        client.close()
    status, _, body = get(port)
    assert status == 200 and body == b"".join(parts)


@given(parts=st.lists(st.binary(max_size=40), max_size=60), takes=st.lists(st.integers(0, 90), min_size=1),
       send_size=st.integers(1, 200), cut=st.none() | st.integers(0, 3000))
def test_parts_buffer_gives_the_concatenation_whatever_the_socket_takes(parts, takes, send_size, cut) -> None:
    """get() then skip(what the socket took), as waitress does: the bytes sent are the parts'
    concatenation (up to a shorter Content-Length), each get at most IOV_MAX parts."""
    whole = b"".join(parts)[:cut] if cut is not None else b"".join(parts)
    buffer = PartsBuffer(parts)
    assert buffer.prepare(cut) == len(whole) == len(buffer)
    sent = bytearray()
    turn = 0
    while len(buffer):
        chunk = buffer.get(send_size)
        assert isinstance(chunk, PartsChunk) and chunk
        offered = b"".join(bytes(c) for c in chunk)
        taken = min(len(offered), takes[turn % len(takes)])
        if taken == 0 and turn % len(takes) == len(takes) - 1:
            taken = 1  # the socket takes something now and then
        sent += offered[:taken]
        buffer.skip(taken)
        turn += 1
    assert bytes(sent) == whole
    assert buffer.get(send_size) == []


def test_a_file_without_parts_is_wrapped_as_waitress_does() -> None:
    import io

    from waitress.buffers import ReadOnlyFileBasedBuffer

    wrapped = file_wrapper(io.BytesIO(b"abc"), 1024)
    assert type(wrapped) is ReadOnlyFileBasedBuffer
    assert isinstance(file_wrapper(JoinedParts([b"a", b"bc"])), PartsBuffer)


def test_head_and_a_next_request_on_the_same_connection(serve) -> None:
    parts = many_parts()
    port = serve(make_app(parts))
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("HEAD", "/list")
        head = connection.getresponse()
        assert head.status == 200 and head.read() == b"" and head.getheader("Content-Length") == str(sum(map(len, parts)))
        for _ in range(2):  # kept alive: the parts of one answer end where the next answer begins
            connection.request("GET", "/list")
            answer = connection.getresponse()
            assert answer.status == 200 and answer.read() == b"".join(parts)
    finally:
        connection.close()


def test_a_large_gzip_answer_is_sent_as_a_part_with_its_headers(serve) -> None:
    """A kept gzip list (1.1 MB at 10,000 OSDs) is handed over as a file of one part, not as bytes
    that waitress would first copy into a temporary file."""
    body = gzip.compress(os.urandom(listing.HAND_AS_FILE_FROM + 4096))  # random: it stays that large
    app = Flask(__name__)
    compression.install(app)

    @app.get("/list")
    def answer():
        return listing.gzip_bytes_response(body, {"ETag": '"z"', "X-Total-Count": "3"})

    port = serve(app)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", "/list", headers={"Accept-Encoding": "gzip"})
        answer_ = connection.getresponse()
        headers = {k.lower(): v for k, v in answer_.getheaders()}
        assert answer_.status == 200 and answer_.read() == body
    finally:
        connection.close()
    assert headers["content-encoding"] == "gzip" and headers["content-length"] == str(len(body))
    assert headers["etag"] == '"z"' and headers["x-total-count"] == "3" and "Accept-Encoding" in headers["vary"]
