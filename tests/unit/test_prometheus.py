"""/metrics from the real capture steps, read back with prometheus_client's own parser."""

import json
import os

import pytest
from api_support import FAST_HASHER, PASSWORD
from prometheus_client.parser import text_string_to_metric_families

from calamari.adapters.timeseries import TimeSeriesWriter, WhisperStore
from calamari.bootstrap import build_app
from calamari.service.auth import AuthService
from calamari.service.model import ModelService, ServiceConfig
from calamari.testing.captures import capture_steps, captured_at, sync_objects

HEALTH = {"HEALTH_OK": 0, "HEALTH_WARN": 1, "HEALTH_ERR": 2}


def load(step, name):
    with open(os.path.join(step, f"{name}.json")) as f:
        return json.load(f)


def scrape(tmp_path, steps):
    """Feed the steps through a ModelService, OSD usage points through the writer, and scrape."""
    service = ModelService(ServiceConfig(data_dir=str(tmp_path / "var")))
    try:
        for step in steps:
            fsid, objects = sync_objects(step)
            for name, version, data in objects:
                service.on_sync_object(fsid, name, version, data, captured_at(step), host="vm")
        store = WhisperStore(str(tmp_path / "var" / "whisper"))
        writer = TimeSeriesWriter(store)
        ts = int(captured_at(steps[-1]).timestamp())
        points = []
        for node in load(steps[-1], "osd_df")["nodes"]:  # what a collector reports per OSD
            base = f"ceph.cluster.{fsid}.osd.{node['id']}"
            points += [[f"{base}.kb_used", ts, node["kb_used"]], [f"{base}.kb_avail", ts, node["kb_avail"]]]
        writer.write_batch([(fsid, "vm", points)])
        auth = AuthService(service, hasher=FAST_HASHER)
        auth.add_user("scraper", PASSWORD, "read-only", "test")
        app = build_app(service, auth=auth, TIMESERIES=store, TIMESERIES_WRITER=writer)
        client = app.test_client()
        assert client.get("/metrics").status_code == 401  # a scraper sends a read-only user's token
        token = client.post("/api/v2/auth/login", json={"username": "scraper", "password": PASSWORD}).json["token"]
        response = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    finally:
        service.close()
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain; version=0.0.4")
    families = {f.name: f for f in text_string_to_metric_families(response.get_data(as_text=True))}
    return fsid, families


def samples(families, name, key="ceph_daemon"):
    return {s.labels.get(key): s.value for s in families[name].samples}


@pytest.fixture(scope="module")
def steps(capture_dir):
    return capture_steps(capture_dir)


def test_metrics_match_the_final_capture(tmp_path, steps):
    fsid, families = scrape(tmp_path, steps)
    last = steps[-1]
    assert all(s.labels["fsid"] == fsid for f in families.values() for s in f.samples if f.name.startswith("ceph_"))

    assert families["ceph_health_status"].samples[0].value == HEALTH[load(last, "health_detail")["status"]]
    checks = load(last, "health_detail")["checks"]
    assert {s.labels["name"]: s.labels["severity"] for s in families["ceph_health_detail"].samples} == \
        {code: check["severity"] for code, check in checks.items()}

    osd_dump = load(last, "osd_dump")
    assert samples(families, "ceph_osd_up") == {f"osd.{o['osd']}": o["up"] for o in osd_dump["osds"]}
    assert samples(families, "ceph_osd_in") == {f"osd.{o['osd']}": o["in"] for o in osd_dump["osds"]}
    assert samples(families, "ceph_osd_weight") == {f"osd.{o['osd']}": o["weight"] for o in osd_dump["osds"]}
    hosts = {s.labels["ceph_daemon"]: s.labels["hostname"] for s in families["ceph_osd_metadata"].samples}
    assert hosts == {f"osd.{m['id']}": m["hostname"] for m in load(last, "osd_metadata")}
    for flag in ("noout", "noscrub", "nodeep-scrub"):
        [sample] = families[f"ceph_osd_flag_{flag.replace('-', '_')}"].samples
        assert sample.value == (flag in osd_dump["flags"].split(","))

    osd_df = {f"osd.{n['id']}": n for n in load(last, "osd_df")["nodes"]}
    assert samples(families, "ceph_osd_stat_bytes_used") == {k: n["kb_used"] * 1024 for k, n in osd_df.items()}
    assert samples(families, "ceph_osd_stat_bytes") == {k: (n["kb_used"] + n["kb_avail"]) * 1024 for k, n in osd_df.items()}

    df = load(last, "df_detail")
    for key in ("total_bytes", "total_used_bytes", "total_used_raw_bytes"):
        assert families[f"ceph_cluster_{key}"].samples[0].value == df["stats"][key]
    live_pools = {p["pool"]: p for p in osd_dump["pools"]}
    names = {s.labels["pool_id"]: s.labels["name"] for s in families["ceph_pool_metadata"].samples}
    assert names == {str(i): p["pool_name"] for i, p in live_pools.items()}
    for stat in ("stored", "max_avail", "objects", "bytes_used", "rd_bytes", "wr"):
        expected = {str(p["id"]): p["stats"][stat] for p in df["pools"] if p["id"] in live_pools}
        assert samples(families, f"ceph_pool_{stat}", "pool_id") == expected, stat


def test_pg_counts_by_state_and_pool(tmp_path, steps):
    fsid, families = scrape(tmp_path, steps)
    expected: dict[tuple[str, str], int] = {}
    for pg in load(steps[-1], "pg_pgs_brief")["pg_stats"]:
        for state in pg["state"].split("+"):
            key = (state, pg["pgid"].split(".")[0])
            expected[key] = expected.get(key, 0) + 1
    seen = {}
    for name, family in families.items():
        if name.startswith("ceph_pg_") and name != "ceph_pg_total":
            for s in family.samples:
                if s.value:
                    seen[(name[len("ceph_pg_"):], s.labels["pool_id"])] = s.value
    assert seen == expected
    assert sum(s.value for s in families["ceph_pg_total"].samples) == len(load(steps[-1], "pg_pgs_brief")["pg_stats"])


def test_a_down_osd_and_warn_health_show(tmp_path, steps):
    down_step = [s for s in steps if s.endswith("osd2-down")]
    assert down_step, "the captures include an OSD-down step"
    index = steps.index(down_step[0])
    _, families = scrape(tmp_path, steps[:index + 1])
    assert samples(families, "ceph_osd_up")["osd.2"] == 0
    assert samples(families, "ceph_osd_up")["osd.0"] == 1
    assert families["ceph_health_status"].samples[0].value == 1
    assert "OSD_DOWN" in {s.labels["name"] for s in families["ceph_health_detail"].samples}


def test_writer_counters_are_exposed(tmp_path, steps):
    _, families = scrape(tmp_path, steps[:1])
    [written] = families["calamari_timeseries_points_written"].samples
    assert written.name == "calamari_timeseries_points_written_total" and written.value == 6
