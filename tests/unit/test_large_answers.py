"""Large JSON answers not to be compressed are handed to the HTTP server as a file to read from
(calamari.api.listing.json_bytes_response), not as one string that waitress would first copy into
a temporary file: the client still gets every byte, with Content-Length, the ETag and Vary, over a
real server, and a client that takes gzip still gets it compressed."""

from __future__ import annotations

import gzip
import io
import json
import urllib.request

import pytest
from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st

from calamari.api import compression
from calamari.api.listing import HAND_AS_FILE_FROM, JoinedParts, json_bytes_response


def make_app(body: bytes | list[bytes]) -> Flask:
    app = Flask(__name__)
    compression.install(app)

    @app.get("/list")
    def answer():
        return json_bytes_response(body, '"tag-1"', {"X-Total-Count": "7"})

    return app


def fetch(port: int, encoding: str) -> tuple[dict[str, str], bytes]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/list", headers={"Accept-Encoding": encoding})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return {name.lower(): value for name, value in answer.headers.items()}, answer.read()


@pytest.mark.parametrize("size", [HAND_AS_FILE_FROM - 10, HAND_AS_FILE_FROM, 3 * HAND_AS_FILE_FROM + 12345])
def test_a_large_list_arrives_whole_with_its_headers(serve, size: int) -> None:
    rows = [{"id": i, "name": f"osd.{i}"} for i in range(size // 24 + 1)]
    body = json.dumps(rows).encode()[:size - 1] + b"]"
    port = serve(make_app(body))
    headers, received = fetch(port, "identity")
    assert received == body
    assert int(headers["content-length"]) == len(body)
    assert headers["etag"] == '"tag-1"' and headers["x-total-count"] == "7"
    assert "Accept-Encoding" in headers["vary"] and "content-encoding" not in headers
    headers, received = fetch(port, "gzip")
    assert headers["content-encoding"] == "gzip" and gzip.decompress(received) == body


def test_a_large_list_in_parts_arrives_whole(serve) -> None:
    parts = [b"["] + [b'{"id":%d,"pools":[1,2,3]},' % i for i in range(60_000)] + [b"{}]"]
    body = b"".join(parts)
    assert len(body) > HAND_AS_FILE_FROM
    port = serve(make_app(parts))
    headers, received = fetch(port, "identity")
    assert received == body and int(headers["content-length"]) == len(body)
    headers, received = fetch(port, "gzip")
    assert gzip.decompress(received) == body


@settings(max_examples=200, deadline=None)
@given(parts=st.lists(st.binary(max_size=40), max_size=12),
       steps=st.lists(st.tuples(st.sampled_from(["read", "seek"]), st.integers(min_value=-1, max_value=60),
                                st.sampled_from([io.SEEK_SET, io.SEEK_CUR, io.SEEK_END])), max_size=12))
def test_joined_parts_read_and_seek_as_one_bytes_file(parts: list[bytes], steps) -> None:
    joined, whole = JoinedParts(parts), io.BytesIO(b"".join(parts))
    for action, number, whence in steps:
        if action == "read":
            assert joined.read(number) == whole.read(number)
        elif {io.SEEK_SET: 0, io.SEEK_CUR: whole.tell(), io.SEEK_END: len(whole.getvalue())}[whence] + number >= 0:
            assert joined.seek(number, whence) == whole.seek(number, whence)
        assert joined.tell() == whole.tell()
    assert joined.read() == whole.read()


def test_a_large_answer_is_handed_over_as_a_file_and_a_small_one_as_bytes() -> None:
    app = make_app(b"")
    with app.test_request_context("/list", headers={"Accept-Encoding": "identity"}):
        large = json_bytes_response(b"[" + b"1," * HAND_AS_FILE_FROM + b"1]")
        small = json_bytes_response(b"[1]")
    assert large.direct_passthrough and not small.direct_passthrough
    with app.test_request_context("/list", headers={"Accept-Encoding": "gzip"}):
        to_compress = json_bytes_response(b"[" + b"1," * HAND_AS_FILE_FROM + b"1]")
    assert not to_compress.direct_passthrough  # the compression hook needs its bytes


@settings(max_examples=100, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=30))
def test_gzip_of_parts_is_the_gzip_of_their_concatenation(parts: list[bytes]) -> None:
    joined = b"".join(parts)
    assert compression.gzip_bytes(parts) == compression.gzip_bytes(joined)
    assert gzip.decompress(compression.gzip_bytes(parts)) == joined
