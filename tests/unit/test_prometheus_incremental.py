"""/metrics rendered by parts: the text is what prometheus_client writes, a renderer that kept
parts across changes answers what a new one does, gzip decodes to the same text, and an
unchanged body answers 304 to its ETag."""

from __future__ import annotations

import gzip
import json
import math
import os
from typing import Any

import pytest
from api_support import FAST_HASHER, PASSWORD
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client.exposition import generate_latest
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.utils import floatToGoString

from calamari.adapters.timeseries import TimeSeriesWriter, WhisperStore
from calamari.api.prometheus import MetricsRenderer
from calamari.api.prometheus_text import Family, Sections, go_float
from calamari.bootstrap import build_app
from calamari.service.auth import AuthService
from calamari.service.model import ModelService, ServiceConfig
from calamari.testing.captures import capture_steps, captured_at, sync_objects


class Families:
    def __init__(self, *families: Metric) -> None:
        self.families = families

    def collect(self) -> Any:
        return iter(self.families)


@pytest.mark.parametrize("value", [0, 1, 0.5, -3.25, 1e21, 123456789.0, 2**53, float("inf"), float("-inf"), 1e-7])
@pytest.mark.parametrize("label", ["plain", 'quo"te', "back\\slash", "new\nline", "ünï ☃", ""])
def test_a_family_is_written_as_prometheus_client_writes_it(value, label):
    reference = GaugeMetricFamily("ceph_x", "help with \\ and\nnewline", labels=["zeta", "alpha"])
    reference.add_metric([label, "a"], value)
    family = Family("ceph_x", "help with \\ and\nnewline", "gauge", ["zeta", "alpha"])
    assert family.text([family.line([label, "a"], value)]).encode() == generate_latest(Families(reference))


@given(st.one_of(st.integers(-(10**20), 10**20), st.floats(allow_nan=True, allow_infinity=True),
                 st.floats(-2e6, 2e6), st.booleans()))
def test_values_are_written_as_go_writes_them(value):
    assert go_float(value) == floatToGoString(value)


def test_an_untyped_family_and_nan():
    reference = Metric("ceph_pool_rd", "reads", "unknown")
    reference.add_sample("ceph_pool_rd", {"fsid": "f", "pool_id": "1"}, math.nan)
    family = Family("ceph_pool_rd", "reads", "unknown", ["fsid", "pool_id"])
    assert family.text([family.line(["f", "1"], math.nan)]).encode() == generate_latest(Families(reference))


def test_sections_gzip_to_their_body_as_parts_change():
    sections = Sections()
    sections.put("a", 1, ["first part\n" * 100, "first, second family\n"])
    sections.put("b", 1, ["second ☃ part\n" * 1000])
    assert gzip.decompress(sections.gzip()) == sections.body()
    changes = sections.changes
    sections.put("b", 2, ["second ☃ part\n" * 1000])  # the same text: no change
    assert sections.changes == changes
    sections.put("a", 2, ["replaced\n", "first, second family\n"])
    sections.put("c", 1, [""])
    sections.keep_only(("c", "b", "a"))
    assert sections.changes > changes
    assert sections.body() == ("second ☃ part\n" * 1000 + "replaced\nfirst, second family\n").encode()
    assert gzip.decompress(sections.gzip()) == sections.body()
    assert sections.current("a", 2) and not sections.current("a", 1) and not sections.current("d", 1)


# ---------------------------------------------------------------------------- the renderer

def load(step: str, name: str) -> Any:
    with open(os.path.join(step, f"{name}.json")) as f:
        return json.load(f)


def osd_points(fsid: str, step: str, tick: int) -> list[list[Any]]:
    ts = int(captured_at(step).timestamp()) + tick
    points = []
    for node in load(step, "osd_df")["nodes"]:
        base = f"ceph.cluster.{fsid}.osd.{node['id']}"
        points += [[f"{base}.kb_used", ts, node["kb_used"] + tick], [f"{base}.kb_avail", ts, node["kb_avail"]],
                   [f"{base}.apply_latency_ms", ts, tick % 7]]
    return points


def render(renderer: MetricsRenderer) -> bytes:
    with renderer.lock:
        return renderer.render().body()


def test_a_renderer_that_kept_its_parts_answers_what_a_new_one_does(tmp_path, capture_dir):
    service = ModelService(ServiceConfig(data_dir=str(tmp_path / "var")))
    store = WhisperStore(str(tmp_path / "var" / "whisper"))
    writer = TimeSeriesWriter(store)
    kept = MetricsRenderer(service, store, writer)
    try:
        for tick, step in enumerate(capture_steps(capture_dir)):
            fsid, objects = sync_objects(step)
            for name, version, data in objects:
                service.on_sync_object(fsid, name, version, data, captured_at(step), host="vm")
            if tick % 3 != 2:  # now and then no new points: those lines are kept
                writer.write_batch([(fsid, "vm", osd_points(fsid, step, tick))])
            text = render(kept)
            assert text == render(MetricsRenderer(service, store, writer)), step
            families = {f.name: f for f in text_string_to_metric_families(text.decode())}
            used = {s.labels["ceph_daemon"]: s.value for s in families["ceph_osd_stat_bytes_used"].samples}
            expected = {f"osd.{n['id']}": (n["kb_used"] + tick) * 1024 for n in load(step, "osd_df")["nodes"]}
            if tick % 3 != 2:
                assert used == expected
    finally:
        service.close()


@pytest.fixture
def scraper(tmp_path, capture_dir):
    service = ModelService(ServiceConfig(data_dir=str(tmp_path / "var")))
    steps = capture_steps(capture_dir)
    for step in steps[:5]:
        fsid, objects = sync_objects(step)
        for name, version, data in objects:
            service.on_sync_object(fsid, name, version, data, captured_at(step), host="vm")
    auth = AuthService(service, hasher=FAST_HASHER)
    auth.add_user("scraper", PASSWORD, "read-only", "test")
    client = build_app(service, auth=auth).test_client()
    token = client.post("/api/v2/auth/login", json={"username": "scraper", "password": PASSWORD}).json["token"]

    def scrape(**headers: str) -> Any:
        return client.get("/metrics", headers={"Authorization": f"Bearer {token}", **headers})

    scrape.feed = lambda index: [service.on_sync_object(fsid, name, version, data, captured_at(steps[index]))
                                 for name, version, data in sync_objects(steps[index])[1]]
    yield scrape
    service.close()


def test_metrics_gzip_is_the_same_text(scraper):
    plain = scraper()
    zipped = scraper(**{"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in plain.headers and zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.data) == plain.data and len(zipped.data) < len(plain.data)
    assert "Accept-Encoding" in zipped.headers["Vary"] and zipped.content_type.startswith("text/plain; version=0.0.4")


def test_unchanged_metrics_answer_304_and_a_change_a_new_body(scraper):
    first = scraper()
    tag = first.headers["ETag"]
    again = scraper(**{"If-None-Match": tag})
    assert again.status_code == 304 and again.data == b""
    scraper.feed(5)  # osd.2 goes down
    changed = scraper(**{"If-None-Match": tag})
    assert changed.status_code == 200 and changed.headers["ETag"] != tag
    assert b'ceph_osd_up{ceph_daemon="osd.2"' in changed.data and changed.data != first.data
    up = {s.labels["ceph_daemon"]: s.value for f in text_string_to_metric_families(changed.data.decode())
          if f.name == "ceph_osd_up" for s in f.samples}
    assert up["osd.2"] == 0


def test_the_osd_stats_lines_are_rendered_again_only_when_a_newest_value_changed(tmp_path, capture_dir):
    service = ModelService(ServiceConfig(data_dir=str(tmp_path / "var")))
    store = WhisperStore(str(tmp_path / "var" / "whisper"))
    writer = TimeSeriesWriter(store)
    kept = MetricsRenderer(service, store, writer)
    rendered = []
    real = kept._osd_stats_texts
    kept._osd_stats_texts = lambda *args: rendered.append(1) or real(*args)
    try:
        step = capture_steps(capture_dir)[0]
        fsid, objects = sync_objects(step)
        for name, version, data in objects:
            service.on_sync_object(fsid, name, version, data, captured_at(step), host="vm")
        writer.write_batch([(fsid, "vm", osd_points(fsid, step, 1))])
        first = render(kept)
        assert render(kept) == first and len(rendered) == 1  # nothing new: the lines kept
        writer.write_batch([(fsid, "vm", osd_points(fsid, step, 1))])  # the same values again
        again = render(kept)  # (the writer's own counters moved)
        assert len(rendered) == 1 and again == render(MetricsRenderer(service, store, writer))
        writer.write_batch([(fsid, "vm", osd_points(fsid, step, 2))])
        changed = render(kept)
        assert len(rendered) == 2 and changed != first
        assert changed == render(MetricsRenderer(service, store, writer))
        with kept.lock:
            sections = kept.render()
            assert gzip.decompress(sections.gzip()) == changed and sections.size() == len(changed)
    finally:
        service.close()
