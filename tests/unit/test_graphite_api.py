"""/graphite/render, /graphite/metrics/find and the /api/v2/…/stats routes over real whisper files."""

import tempfile
import time

import pytest
from api_support import FAST_HASHER, PASSWORD

from calamari.adapters.timeseries import TimeSeriesWriter, WhisperStore
from calamari.api import app as app_module
from calamari.bootstrap import build_app
from calamari.service.auth import AuthService
from calamari.service.model import ModelService, ServiceConfig
from calamari.testing.captures import capture_steps, captured_at, sync_objects

HOSTS = ("alpha", "beta", "gamma")


@pytest.fixture
def now():
    return int(time.time())


@pytest.fixture
def store(tmp_path, now):
    """30 minutes of host points shaped like the collector's, written through the writer."""
    store = WhisperStore(str(tmp_path / "whisper"))
    writer = TimeSeriesWriter(store)
    for host_index, host in enumerate(HOSTS):
        points = []
        for minute in range(30):
            ts = now - (30 - minute) * 60
            points += [[f"servers.{host}.cpu.total.idle", ts, 10.0 * (host_index + 1) + minute],
                       [f"servers.{host}.network.eth0.rx_bytes", ts, 1000 * minute * minute]]
        writer.write_batch([(None, host, points)])
    return store


_services = []


@pytest.fixture(autouse=True)
def _close_services():
    yield
    while _services:
        _services.pop().close()


def make_client(store, service=None):
    """A client of the whole app, logged in as a read-only user (what /graphite and the stats
    routes need)."""
    if service is None:
        service = ModelService(ServiceConfig(data_dir=tempfile.mkdtemp(prefix="graphite-service-")))
        _services.append(service)
    auth = AuthService(service, hasher=FAST_HASHER)
    if auth.get("viewer") is None:
        auth.add_user("viewer", PASSWORD, "read-only", "test")
    app = build_app(service, auth=auth, TIMESERIES=store)
    client = app.test_client()
    assert client.get("/graphite/functions").status_code == 401
    token = client.post("/api/v2/auth/login", json={"username": "viewer", "password": PASSWORD}).json["token"]
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client


def by_time(entry):
    return {ts: v for v, ts in entry["datapoints"] if v is not None}


def test_render_globbed_targets_in_graphite_json(store, now):
    response = make_client(store).get("/graphite/render?target=servers.*.cpu.total.idle&from=-1h&format=json")
    assert response.status_code == 200
    body = response.get_json()
    assert [e["target"] for e in body] == [f"servers.{h}.cpu.total.idle" for h in HOSTS]
    series = store.fetch("servers.beta.cpu.total.idle", now - 3600, now)
    assert by_time(body[1]) == {ts: v for ts, v in zip(series.timestamps(), series.values, strict=True) if v is not None}
    assert len(by_time(body[1])) >= 29
    steps = {b[1] - a[1] for a, b in zip(body[0]["datapoints"], body[0]["datapoints"][1:], strict=False)}
    assert steps == {60}


def test_render_nested_functions_and_alternatives(store):
    client = make_client(store)
    [summed] = client.get("/graphite/render", query_string={
        "target": "alias(scale(sumSeries(servers.{alpha,gamma}.cpu.total.idle),0.5),'half')", "from": "-1h"}).get_json()
    [alpha, gamma] = client.get("/graphite/render", query_string={
        "target": "servers.{alpha,gamma}.cpu.total.idle", "from": "-1h"}).get_json()
    assert summed["target"] == "half"
    expected = {ts: (v + by_time(gamma)[ts]) / 2 for ts, v in by_time(alpha).items()}
    assert by_time(summed) == pytest.approx(expected) and expected
    [rate] = client.get("/graphite/render", query_string={
        "target": "nonNegativeDerivative(servers.alpha.network.eth0.rx_bytes)", "from": "-1h"}).get_json()
    raw = by_time(client.get("/graphite/render", query_string={
        "target": "servers.alpha.network.eth0.rx_bytes", "from": "-1h"}).get_json()[0])
    assert by_time(rate) == {ts: v - raw[ts - 60] for ts, v in raw.items() if ts - 60 in raw}


def test_render_accepts_grafana_posts_and_time_forms(store, now):
    client = make_client(store)
    response = client.post("/graphite/render", data={
        "target": ["servers.alpha.cpu.total.idle", "averageSeries(servers.*.cpu.total.idle)"],
        "from": str(now - 1200), "until": "now", "format": "json", "maxDataPoints": "5"})
    assert response.status_code == 200
    single, average = response.get_json()
    assert len(single["datapoints"]) <= 5 and average["target"] == "averageSeries(servers.*.cpu.total.idle)"
    assert all(ts >= now - 1200 for _, ts in single["datapoints"])
    assert client.get("/graphite/render?target=servers.alpha.cpu.total.idle&from=-7d&until=-6d").get_json()[0]["datapoints"]


def test_render_csv_and_raw_carry_the_same_points_as_json(store):
    client = make_client(store)
    query = "target=servers.{alpha,beta}.cpu.total.idle&from=-1h"
    body = client.get(f"/graphite/render?{query}").get_json()
    csv = client.get(f"/graphite/render?{query}&format=csv")
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    rows = [line.split(",") for line in csv.get_data(as_text=True).splitlines()]
    expected = [[e["target"], time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts)), "" if v is None else repr(v)]
                for e in body for v, ts in e["datapoints"]]
    assert rows == expected and any(r[2] for r in rows)
    raw = client.get(f"/graphite/render?{query}&format=raw").get_data(as_text=True).splitlines()
    assert len(raw) == len(body)
    for line, entry in zip(raw, body, strict=True):
        header, values = line.split("|")
        name, start, end, step = header.split(",")
        points = entry["datapoints"]
        assert name == entry["target"] and int(start) == points[0][1] and int(step) == points[1][1] - points[0][1]
        assert int(end) == points[-1][1] + int(step)
        assert values.split(",") == ["None" if v is None else repr(v) for v, _ in points]


@pytest.mark.parametrize("query, field, reason", [
    ("target=sumSeries(servers.*.cpu", "target", "missing ')'"),
    ("target=nope(servers.*.cpu)", "target", "unknown function"),
    ("target=scale(servers.*.cpu.total.idle,x)", "target", "must be a number"),
    ("target=servers..cpu", "target", "empty node"),
    ("target=servers.a&from=-3fortnights", "from", "unknown time unit"),
    ("target=servers.a&until=tomorrowish", "until", "cannot read"),
    ("target=servers.a&from=-1h&until=-2h", "from", "before"),
    ("target=servers.a&format=png", "format", "not supported"),
    ("target=servers.a&maxDataPoints=-1", "maxDataPoints", "whole number"),
    ("from=-1h", "target", "required"),
])
def test_bad_render_requests_are_400_with_a_reason(store, query, field, reason):
    response = make_client(store).get(f"/graphite/render?{query}")
    assert response.status_code == 400
    body = response.get_json()
    assert reason in body["errors"][field] and body["detail"] == body["errors"][field]


def test_metrics_find_in_graphite_tree_shape(store):
    client = make_client(store)
    assert client.get("/graphite/metrics/find?query=servers.*").get_json() == [
        {"text": h, "id": f"servers.{h}", "leaf": 0, "expandable": 1, "allowChildren": 1, "context": {}} for h in HOSTS]
    leaves = client.get("/graphite/metrics/find", query_string={"query": "servers.beta.cpu.total.*"}).get_json()
    assert leaves == [{"text": "idle", "id": "servers.beta.cpu.total.idle", "leaf": 1, "expandable": 0,
                       "allowChildren": 0, "context": {}}]
    assert client.get("/graphite/metrics/find?query=").status_code == 400
    assert client.get("/graphite/metrics/find?query=servers.{a").status_code == 400


def test_functions_catalog_and_missing_store(store):
    assert "nonNegativeDerivative" in make_client(store).get("/graphite/functions").get_json()
    response = make_client(None).get("/graphite/render?target=a.b")
    assert response.status_code == 503 and "no time-series store" in response.get_json()["detail"]


def test_app_factory_lists_the_time_series_blueprints():
    assert {"calamari.api.graphite", "calamari.api.prometheus", "calamari.api.stats"} <= set(app_module.BLUEPRINT_MODULES)


# ------------------------------------------------------------------------ /api/v2/…/stats

@pytest.fixture
def service(tmp_path, capture_dir):
    service = ModelService(ServiceConfig(data_dir=str(tmp_path / "var")))
    for step in capture_steps(capture_dir)[:2]:
        fsid, objects = sync_objects(step)
        for name, version, data in objects:
            service.on_sync_object(fsid, name, version, data, captured_at(step), host="vm")
    yield service
    service.close()


def test_stats_routes_answer_from_whisper(tmp_path, service, capture_dir, now):
    fsid = next(iter(service.view.clusters))
    step = capture_steps(capture_dir)[1]
    df = sync_objects(step)[1][-1][2]
    store = WhisperStore(str(tmp_path / "whisper"))
    writer = TimeSeriesWriter(store)
    prefix = f"ceph.cluster.{fsid}"
    points = []
    for minute in range(5):  # df and pool figures shaped like the collector's
        ts = now - (5 - minute) * 60
        points += [[f"{prefix}.df.{key}", ts, df["stats"][key] + minute] for key in ("total_bytes", "total_used_bytes")]
        points += [[f"{prefix}.io.read_bytes_sec", ts, 100 * minute]]
        points += [[f"{prefix}.pool.{p['id']}.num_bytes", ts, p["stats"]["stored"] + minute] for p in df["pools"]]
        points += [[f"{prefix}.osd.1.kb_used", ts, 1000 + minute]]
    writer.write_batch([(fsid, "vm", points)])
    client = make_client(store, service)

    body = client.get(f"/api/v2/cluster/{fsid}/stats").get_json()
    assert body["step"] == 60 and body["until"] - body["from"] == 3600
    assert body["latest"] == {"df.total_bytes": df["stats"]["total_bytes"] + 4,
                              "df.total_used_bytes": df["stats"]["total_used_bytes"] + 4, "io.read_bytes_sec": 400}
    assert [v for _, v in body["series"]["io.read_bytes_sec"] if v is not None] == [0, 100, 200, 300, 400]

    rbd = next(p for p in df["pools"] if p["name"] == "rbd")
    pool = client.get(f"/api/v2/cluster/{fsid}/pool/{rbd['id']}/stats?from=-10min").get_json()
    assert pool["latest"] == {"num_bytes": rbd["stats"]["stored"] + 4} and pool["pool"] == rbd["id"]
    osd = client.get(f"/api/v2/cluster/{fsid}/osd/1/stats").get_json()
    assert osd["latest"] == {"kb_used": 1004}
    listing = client.get(f"/api/v2/cluster/{fsid}/pool/stats").get_json()
    assert {row["name"]: row["num_bytes"] for row in listing} == {p["name"]: p["stats"]["stored"] + 4 for p in df["pools"]}

    assert client.get("/api/v2/cluster/nope/stats").status_code == 404
    assert client.get(f"/api/v2/cluster/{fsid}/pool/999/stats").status_code == 404
    assert client.get(f"/api/v2/cluster/{fsid}/osd/99/stats").status_code == 404
    bad = client.get(f"/api/v2/cluster/{fsid}/stats?from=yesterdayish")
    assert bad.status_code == 400 and "from" in bad.get_json()["errors"]
    assert client.get(f"/api/v2/cluster/{fsid}/stats?max_points=x").status_code == 400


def test_the_console_reads_the_render_api_under_api_v2_with_its_session_cookie(store, now):
    """The console's session cookie has Path=/api/: /api/v2/graphite/render answers what
    /graphite/render does, to that cookie alone (no bearer token)."""
    client = make_client(store)
    query = {"target": ["servers.*.cpu.total.idle", "aliasByNode(servers.beta.network.eth0.rx_bytes,1)"],
             "from": str(now - 1800), "until": str(now), "format": "json"}
    expected = client.get("/graphite/render", query_string=query)
    assert expected.status_code == 200 and len(expected.json) == 4
    browser = client.application.test_client()
    assert browser.get("/api/v2/graphite/render", query_string=query).status_code == 401
    login = browser.post("/api/v2/auth/login", json={"username": "viewer", "password": PASSWORD})
    assert login.status_code == 200
    answer = browser.get("/api/v2/graphite/render", query_string=query)
    assert answer.status_code == 200
    assert answer.json == expected.json
    # the same errors in the same shape
    bad = browser.get("/api/v2/graphite/render", query_string={"target": "nosuchfunction(a.b)"})
    assert bad.status_code == 400 and "target" in bad.json["errors"]
    assert browser.post("/api/v2/graphite/render", data=query).status_code >= 400  # reads only
