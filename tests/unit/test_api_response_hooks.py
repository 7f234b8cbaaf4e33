"""What every answer gets on its way out (security headers, Vary, gzip), header by header: each
once, what a view set itself kept, the Accept-Encoding forms a client may send told apart."""

import gzip

import pytest
from flask import Flask, Response

from calamari.api import access, compression

BIG = b'{"rows": "' + b"x" * 4000 + b'"}'


@pytest.fixture
def app():
    return Flask("hooks")


def _names(response):
    return [name.lower() for name, _ in response.headers.items()]


def test_security_headers_are_added_once_and_a_views_own_are_kept(app):
    with app.test_request_context("/api/v2/info"):
        plain = access.add_security_headers(app, Response(b"{}", mimetype="application/json"))
        own = Response(b"{}", mimetype="application/json",
                       headers={"Content-Security-Policy": "default-src 'self'", "Cache-Control": "max-age=60"})
        own = access.add_security_headers(app, own)
    for response in (plain, own):
        names = _names(response)
        for name in ("content-security-policy", "x-content-type-options", "x-frame-options", "referrer-policy",
                     "cache-control"):
            assert names.count(name) == 1, (name, names)
    assert plain.headers["X-Frame-Options"] == "DENY" and plain.headers["Cache-Control"] == "no-store"
    assert own.headers["Content-Security-Policy"] == "default-src 'self'"
    assert own.headers["Cache-Control"] == "no-store"  # API answers are never cached, whatever the view said
    with app.test_request_context("/assets/app.js"):
        asset = access.add_security_headers(app, Response(b"x", headers={"Cache-Control": "max-age=60"}))
    assert asset.headers["Cache-Control"] == "max-age=60"  # outside the API a view's caching stands


@pytest.mark.parametrize("offered, compressed", [
    (None, False), ("identity", False), ("gzip", True), ("GZIP", True), ("gzip, deflate, br", True),
    ("br;q=1.0, gzip;q=0.8", True), ("*", True), ("gzip;q=0", False), ("deflate", False),
])
def test_gzip_follows_what_the_client_accepts(app, offered, compressed):
    headers = {"Accept-Encoding": offered} if offered is not None else {}
    with app.test_request_context("/api/v2/cluster/x/osd", headers=headers):
        response = compression.gzip_response(Response(BIG, mimetype="application/json"))
    assert response.headers.get("Content-Encoding") == ("gzip" if compressed else None)
    assert (gzip.decompress(response.get_data()) if compressed else response.get_data()) == BIG
    assert response.headers["Vary"] == "Accept-Encoding"


@pytest.mark.parametrize("vary, expected", [
    ("Origin", "Origin, Accept-Encoding"), ("origin, accept-encoding", "origin, accept-encoding"),
])
def test_vary_keeps_what_the_answer_varies_on(app, vary, expected):
    with app.test_request_context("/api/v2/info", headers={"Accept-Encoding": "gzip"}):
        response = compression.gzip_response(Response(BIG, mimetype="application/json", headers={"Vary": vary}))
    assert response.headers.getlist("Vary") == [expected]


def test_what_is_not_compressed(app):
    with app.test_request_context("/api/v2/info", headers={"Accept-Encoding": "gzip"}):
        small = compression.gzip_response(Response(b"{}", mimetype="application/json"))
        image = compression.gzip_response(Response(BIG, mimetype="image/png"))
        typed = compression.gzip_response(Response(BIG, content_type="application/json; charset=utf-8"))
    assert "Content-Encoding" not in small.headers and small.headers["Vary"] == "Accept-Encoding"
    assert "Content-Encoding" not in image.headers and "Vary" not in image.headers
    assert typed.headers["Content-Encoding"] == "gzip"  # parameters of the media type do not matter
    with app.test_request_context("/api/v2/auth/login", headers={"Accept-Encoding": "gzip"}):
        secret = compression.gzip_response(Response(BIG, mimetype="application/json"))
    assert "Content-Encoding" not in secret.headers
