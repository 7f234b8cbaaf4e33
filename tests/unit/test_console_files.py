"""The web console's files in front of the API (calamari/api/console.py): pages and client routes,
caching, gzip, headers, and the API left exactly as it was."""

import gzip

import pytest
from api_support import Harness

from calamari.api.console import PAGE_CSP

INDEX = b"<!doctype html><title>Calamari</title><div id=app></div><script type=module src=/assets/app-1a2b.js></script>"
SCRIPT = b"console.log('calamari');" * 40


@pytest.fixture()
def dist(tmp_path):
    root = tmp_path / "dist"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_bytes(INDEX)
    (root / "index.html.gz").write_bytes(gzip.compress(INDEX))
    (root / "assets" / "app-1a2b.js").write_bytes(SCRIPT)
    (root / "assets" / "app-1a2b.js.gz").write_bytes(gzip.compress(SCRIPT))
    (root / "favicon.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    (tmp_path / "secret.txt").write_text("outside the build")
    return root


@pytest.fixture()
def api(tmp_path, capture_dir, dist):
    harness = Harness(str(tmp_path / "data"), capture_dir, app_options={"CONSOLE_DIR": str(dist)})
    yield harness
    harness.close()


def test_the_page_and_client_routes_answer_index_html_without_a_login(api):
    anonymous = api.app.test_client()
    for path in ("/", "/osds", "/pools?q=rbd", "/hosts/node0001.ceph.example", "/static/x.js", "/a/b/c"):
        r = anonymous.get(path)
        assert r.status_code == 200, path
        assert r.data == INDEX, path
        assert r.mimetype == "text/html", path
        assert r.headers["Content-Security-Policy"] == PAGE_CSP
        assert "script-src 'self'" in PAGE_CSP and "unsafe" not in PAGE_CSP
        assert r.headers["Cache-Control"] == "no-cache"  # a new build shows at the next load
        assert r.headers["X-Frame-Options"] == "DENY" and r.headers["X-Content-Type-Options"] == "nosniff"
        assert "Content-Disposition" not in r.headers


def test_hashed_assets_are_cached_for_good_and_gzipped_for_who_accepts_it(api):
    client = api.app.test_client()
    plain = client.get("/assets/app-1a2b.js")
    assert plain.status_code == 200 and plain.data == SCRIPT
    assert plain.mimetype in ("text/javascript", "application/javascript")
    assert plain.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert "Content-Encoding" not in plain.headers
    assert plain.headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
    packed = client.get("/assets/app-1a2b.js", headers={"Accept-Encoding": "gzip, br"})
    assert packed.headers["Content-Encoding"] == "gzip" and packed.headers["Vary"] == "Accept-Encoding"
    assert gzip.decompress(packed.data) == SCRIPT
    assert len(packed.data) < len(SCRIPT)
    assert client.get("/assets/app-1a2b.js", headers={"Accept-Encoding": "gzip;q=0"}).data == SCRIPT


def test_conditional_requests_answer_304(api):
    client = api.app.test_client()
    first = client.get("/")
    again = client.get("/", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""


def test_missing_files_are_404_not_the_page(api):
    client = api.app.test_client()
    for path in ("/assets/old-0000.js", "/missing.js", "/styles.css"):
        r = client.get(path)
        assert r.status_code == 404, path
        assert r.data != INDEX and r.mimetype == "text/plain"


def test_nothing_outside_the_build_is_served(api):
    client = api.app.test_client()
    for path in ("/../secret.txt", "/%2e%2e/secret.txt", "/assets/../../secret.txt", "//etc/passwd"):
        r = client.get(path)
        assert b"outside the build" not in r.data and b"root:" not in r.data, path


def test_the_api_is_untouched(api):
    anonymous = api.app.test_client()
    for path in ("/api/v2/no-such-thing", "/api/v2/cluster", "/api", "/graphite/render", "/metrics"):
        r = anonymous.get(path)
        assert r.status_code == 401, path
        assert r.headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
        assert r.headers["Cache-Control"] == "no-store"
    # other methods on console paths reach the API's routing: login first, then 404/405
    assert anonymous.post("/", json={}).status_code == 401
    assert anonymous.delete("/osds").status_code == 401
    assert api.call("GET", "/api/v2/cluster", user="viewer").status_code == 200


def test_an_unbuilt_console_says_how_to_build_it(tmp_path, capture_dir):
    harness = Harness(str(tmp_path / "data"), capture_dir, app_options={"CONSOLE_DIR": str(tmp_path / "nothing")})
    try:
        r = harness.app.test_client().get("/osds")
        assert r.status_code == 503 and b"make venv" in r.data
        assert harness.app.test_client().get("/api/v2/info").status_code == 401
    finally:
        harness.close()
