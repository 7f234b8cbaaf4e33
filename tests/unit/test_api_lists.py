"""The options of the list routes: pages (`?limit=&offset=`, X-Total-Count, Link), `?fields=`,
filters, `?pools=compact`, ETags with If-None-Match -> 304, and gzip; each bad value a 400 naming
the parameter."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest
from api_support import harness_fixture

from calamari.domain.documents import OSD_FIELDS, osd_document, pools_by_root, served_pools
from calamari.testing.captures import sync_objects

api = harness_fixture(steps=("00", "01", "02", "03", "04", "05"))  # osd.2 down, pools 1-4 (one erasure-coded)

LISTS = ("cluster/{fsid}/osd", "cluster/{fsid}/pool", "server", "cluster/{fsid}/server")


def ids(items: list[dict[str, Any]], key: str = "id") -> list[Any]:
    return [item[key] for item in items]


def next_link(response: Any) -> str | None:
    links = response.headers.get("Link", "")
    for part in links.split(","):
        if 'rel="next"' in part:
            url = urlsplit(part.split(";")[0].strip().strip("<>"))
            return f"{url.path}?{url.query}"
    return None


# ---------------------------------------------------------------------------- pages

@pytest.mark.parametrize("path", LISTS)
def test_pages_put_together_are_the_whole_list(api, path):
    whole = api.call("GET", path)
    assert whole.status_code == 200 and isinstance(whole.json, list) and len(whole.json) >= 1
    assert whole.headers["X-Total-Count"] == str(len(whole.json))
    key = "fqdn" if path.endswith("server") else "id"
    pages, url = [], f"{path}?limit=1"
    while url is not None:
        r = api.call("GET", url)
        assert r.status_code == 200 and len(r.json) == 1, r.json
        assert r.headers["X-Total-Count"] == str(len(whole.json))
        pages += r.json
        url = next_link(r)
    assert pages == whole.json
    assert ids(pages, key) == sorted(ids(pages, key))


def test_a_page_in_the_middle_links_both_ways(api):
    r = api.call("GET", "cluster/{fsid}/osd?limit=1&offset=1&state=up,down")
    assert ids(r.json) == [1]
    links = {part.split(";")[1].strip(): parse_qs(urlsplit(part.split(";")[0].strip("<> ")).query)
             for part in r.headers["Link"].split(",")}
    assert links['rel="next"'] == {"offset": ["2"], "limit": ["1"], "state": ["up,down"]}
    assert links['rel="prev"'] == {"offset": ["0"], "limit": ["1"], "state": ["up,down"]}


def test_an_offset_past_the_end_is_an_empty_page(api):
    r = api.call("GET", "cluster/{fsid}/osd?offset=50")
    assert r.status_code == 200 and r.json == [] and r.headers["X-Total-Count"] == "3"


@pytest.mark.parametrize("query,field", [("limit=0", "limit"), ("limit=x", "limit"), ("limit=10001", "limit"),
                                         ("limit=-1", "limit"), ("offset=-1", "offset"), ("offset=1.5", "offset"),
                                         ("offset=99999999999", "offset")])
@pytest.mark.parametrize("path", LISTS)
def test_bad_page_values_are_refused_with_the_reason(api, path, query, field):
    r = api.call("GET", f"{path}?{query}")
    assert r.status_code == 400 and field in r.json["errors"], r.json


# ---------------------------------------------------------------------------- fields

@pytest.mark.parametrize("path,fields", [
    ("cluster/{fsid}/osd", ("id", "up", "in")),
    ("cluster/{fsid}/osd/1", ("id", "pools", "server")),
    ("cluster/{fsid}/pool", ("id", "name", "pg_num")),
    ("cluster/{fsid}/pool/1", ("name",)),
    ("server", ("fqdn", "services")),
    ("cluster/{fsid}/server", ("hostname",)),
    ("server/{fqdn}", ("fqdn", "ceph_version")),
    ("event", ("id", "message")),
    ("request", ("id", "state")),
])
def test_fields_answers_those_fields_of_the_same_documents(api, path, fields):
    api.call("PATCH", "cluster/{fsid}/pool/1", json={"pg_num": 2})  # so that there is a request
    path = path.replace("{fqdn}", api.call("GET", "server").json[0]["fqdn"])
    whole = api.call("GET", path).json
    chosen = api.call("GET", f"{path}?fields={','.join(reversed(fields))}")
    assert chosen.status_code == 200, chosen.json

    def items(body: Any) -> list[dict[str, Any]]:
        return body["results"] if isinstance(body, dict) and "results" in body else \
            body if isinstance(body, list) else [body]

    assert items(whole) and len(items(chosen.json)) == len(items(whole))
    for full, part in zip(items(whole), items(chosen.json), strict=True):
        assert list(part) == [f for f in full if f in fields]  # in the documents' order
        assert part == {f: full[f] for f in fields}


@pytest.mark.parametrize("path", ["cluster/{fsid}/osd", "cluster/{fsid}/osd/0", "cluster/{fsid}/pool", "server",
                                  "event", "request"])
@pytest.mark.parametrize("value", ["id,nonsense", "", ",", "__class__"])
def test_unknown_or_empty_fields_are_refused(api, path, value):
    r = api.call("GET", f"{path}?fields={value}")
    assert r.status_code == 400 and "fields" in r.json["errors"], r.json


# ---------------------------------------------------------------------------- filters

def test_osds_by_state(api):
    get = lambda q: ids(api.call("GET", f"cluster/{{fsid}}/osd?{q}").json)  # noqa: E731
    assert get("state=down") == [2]
    assert get("state=up") == [0, 1]
    assert get("state=in") == [0, 1, 2]
    assert get("state=out") == []
    assert get("state=down_in") == [2]
    assert get("state=up,down") == [0, 1, 2]
    assert get("state=down&state=up_in") == [0, 1, 2]
    assert get("state=down&id__in[]=0&id__in[]=2") == [2]
    assert api.call("GET", "cluster/{fsid}/osd?state=down&limit=1").headers["X-Total-Count"] == "1"


@pytest.mark.parametrize("query,field", [("state=sideways", "state"), ("state=up,", "state"), ("pools=some", "pools"),
                                         ("state=" + ",".join(["up"] * 101), "state"), ("host=", "host"),
                                         ("pool=x", "pool")])
def test_bad_filter_values_are_refused_with_the_reason(api, query, field):
    r = api.call("GET", f"cluster/{{fsid}}/osd?{query}")
    assert r.status_code == 400 and field in r.json["errors"], r.json


def test_osds_by_host_and_device_class(api):
    osds = api.call("GET", "cluster/{fsid}/osd").json
    server, crush_host = osds[0]["server"], osds[0]["crush_host"]
    assert ids(api.call("GET", f"cluster/{{fsid}}/osd?host={server}").json) == ids(osds)
    assert ids(api.call("GET", f"cluster/{{fsid}}/osd?host=elsewhere,{crush_host}").json) == ids(osds)
    assert api.call("GET", "cluster/{fsid}/osd?host=elsewhere").json == []
    device_class = osds[0]["device_class"]
    assert ids(api.call("GET", f"cluster/{{fsid}}/osd?device_class={device_class}").json) == ids(osds)
    assert api.call("GET", "cluster/{fsid}/osd?device_class=nvme-none").json == []


def test_pools_by_type(api):
    pools = api.call("GET", "cluster/{fsid}/pool").json
    erasure = api.call("GET", "cluster/{fsid}/pool?type=erasure").json
    replicated = api.call("GET", "cluster/{fsid}/pool?type=replicated").json
    assert erasure and replicated and sorted(ids(erasure + replicated)) == ids(pools)
    assert all(p["erasure_code_profile"] for p in erasure) and not any(p["erasure_code_profile"] for p in replicated)
    r = api.call("GET", "cluster/{fsid}/pool?type=mirrored")
    assert r.status_code == 400 and "type" in r.json["errors"]


def test_servers_by_service_type(api):
    servers = api.call("GET", "server").json
    assert api.call("GET", "server?service=osd").json == [s for s in servers
                                                         if any(x["type"] == "osd" for x in s["services"])]
    assert api.call("GET", "server?service=no-such-daemon").json == []


# ---------------------------------------------------------------------------- compact pools

@pytest.mark.parametrize("query", ["", "&pool=1", "&limit=2&offset=1", "&fields=id,pool_set"])
def test_compact_pools_expand_to_the_full_lists(api, query):
    full = api.call("GET", f"cluster/{{fsid}}/osd?pools=full{query.replace('pool_set', 'pools')}").json
    compact = api.call("GET", f"cluster/{{fsid}}/osd?pools=compact{query}")
    assert compact.status_code == 200, compact.json
    body = compact.json
    assert set(body) == {"pool_sets", "osds"} and full
    assert len(body["pool_sets"]) == len({tuple(o["pools"]) for o in full})  # each distinct list once
    expanded = [{**{k: v for k, v in o.items() if k != "pool_set"}, "pools": body["pool_sets"][o["pool_set"]]}
                for o in body["osds"]]
    assert expanded == [{**o} for o in full]


def test_compact_without_the_pool_set_field_sends_no_pool_lists(api):
    body = api.call("GET", "cluster/{fsid}/osd?pools=compact&fields=id,up").json
    assert body == {"pool_sets": [], "osds": [{"id": 0, "up": True}, {"id": 1, "up": True}, {"id": 2, "up": False}]}
    r = api.call("GET", "cluster/{fsid}/osd?pools=compact&fields=pools")  # the compact form names it pool_set
    assert r.status_code == 400 and "fields" in r.json["errors"]


def test_full_pools_stay_the_default(api):
    """Calamari's field: every OSD lists the pools it serves (here all of them: one CRUSH root)."""
    osds = api.call("GET", "cluster/{fsid}/osd").json
    pool_ids = ids(api.call("GET", "cluster/{fsid}/pool").json)
    assert len(pool_ids) >= 3 and all(o["pools"] == pool_ids and "pool_set" not in o for o in osds)


# ---------------------------------------------------------------------------- ETags

def conditional(api, path: str, tag: str) -> Any:
    return api.call("GET", path, headers={"If-None-Match": tag})


@pytest.mark.parametrize("path", ["cluster/{fsid}/osd", "cluster/{fsid}/osd?pools=compact&state=up",
                                  "cluster/{fsid}/osd/1", "cluster/{fsid}/pool", "cluster/{fsid}/pool/1", "server",
                                  "cluster/{fsid}/server", "event", "cluster/{fsid}/event", "request"])
def test_an_unchanged_resource_answers_304(api, path):
    first = api.call("GET", path)
    tag = first.headers["ETag"]
    assert first.status_code == 200 and tag.startswith('W/"')
    again = conditional(api, path, tag)
    assert again.status_code == 304 and again.data == b"" and again.headers["ETag"] == tag
    assert conditional(api, path, f'"other", {tag}').status_code == 304
    assert conditional(api, path, "*").status_code == 304
    assert conditional(api, path, 'W/"other"').status_code == 200


def test_a_changed_osd_list_answers_200_with_a_new_etag(api):
    path = "cluster/{fsid}/osd"
    before = api.call("GET", path)
    api.feed("06")  # osd.2 marked out
    after = conditional(api, path, before.headers["ETag"])
    assert after.status_code == 200 and after.headers["ETag"] != before.headers["ETag"]
    assert [o["in"] for o in after.json] != [o["in"] for o in before.json]


@pytest.mark.parametrize("path", ["cluster/{fsid}/pool", "cluster/{fsid}/osd", "cluster/{fsid}/pool/1",
                                  "cluster/{fsid}/osd/0"])
def test_a_new_pool_changes_the_pool_and_osd_etags(api, path):
    before = api.call("GET", path).headers["ETag"]
    fsid, objects = sync_objects(api.capture_dir + "/02-pool-created")
    osd_map = next(data for name, _, data in objects if name == "osd_map")
    template = osd_map["pools"][0]
    epoch = api.service.model.held[api.fsid]["osd_map"][0] + 1
    new_map = {**osd_map, "epoch": epoch,
               "pools": [*api.service.model.held[api.fsid]["osd_map"][1]["pools"],
                         {**template, "pool": 77, "pool_name": "extra"}]}
    api.service.on_sync_object(api.fsid, "osd_map", epoch, new_map, datetime.now(UTC))
    assert 77 in api.service.view.pools[api.fsid]
    r = conditional(api, path, before)
    assert r.status_code == 200 and r.headers["ETag"] != before


def test_other_queries_have_other_etags(api):
    tags = {api.call("GET", f"cluster/{{fsid}}/osd{q}").headers["ETag"]
            for q in ("", "?fields=id", "?limit=1", "?state=up", "?pools=compact")}
    assert len(tags) == 5


def test_a_change_elsewhere_keeps_the_osd_list_etag(api):
    """PG counts move every few seconds on a busy cluster: they are not part of the OSD list."""
    path = "cluster/{fsid}/osd"
    tag = api.call("GET", path).headers["ETag"]
    version, summary = api.service.model.held[api.fsid]["pg_summary"]
    states = dict(summary["by_state"])
    moved = next(iter(states))
    changed = {**summary, "by_state": {**states, moved: states[moved] + 1, "active+clean+scrubbing": 1}}
    generation = api.service.view.generation(("cluster", api.fsid))
    api.service.on_sync_object(api.fsid, "pg_summary", version + 1, changed, datetime.now(UTC))
    assert api.service.view.generation(("cluster", api.fsid)) != generation  # the cluster did change
    assert conditional(api, path, tag).status_code == 304


def test_a_heartbeat_changes_the_server_etag(api):
    """A server's last_contact is the time its collector was last heard from (not an event)."""
    tag = api.call("GET", "server").headers["ETag"]
    fqdn = api.call("GET", "server").json[0]["fqdn"]
    api.service.on_heartbeat(api.fsid, fqdn, datetime(2031, 1, 1, tzinfo=UTC))
    r = conditional(api, "server", tag)
    assert r.status_code == 200 and r.json[0]["last_contact"].startswith("2031-01-01")


def test_a_new_event_changes_the_event_etag(api):
    tag = api.call("GET", "event").headers["ETag"]
    api.feed("06")
    assert conditional(api, "event", tag).status_code == 200


def test_bad_values_are_refused_even_with_a_matching_etag(api):
    tag = api.call("GET", "cluster/{fsid}/osd").headers["ETag"]
    r = conditional(api, "cluster/{fsid}/osd?limit=0", tag)
    assert r.status_code == 400


# ---------------------------------------------------------------------------- gzip

@pytest.mark.parametrize("path", ["cluster/{fsid}/osd", "cluster/{fsid}/pool", "event", "openapi.json"])
def test_gzip_when_accepted(api, path):
    plain = api.call("GET", path)
    zipped = api.call("GET", path, headers={"Accept-Encoding": "br;q=1.0, gzip;q=0.8"})
    assert len(plain.data) >= 1024
    assert "Content-Encoding" not in plain.headers and "Accept-Encoding" in plain.headers["Vary"]
    assert zipped.headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in zipped.headers["Vary"]
    assert gzip.decompress(zipped.data) == plain.data and len(zipped.data) < len(plain.data)
    assert zipped.headers["Content-Length"] == str(len(zipped.data))
    assert zipped.headers.get("ETag") == plain.headers.get("ETag")  # weak: the same answer


@pytest.mark.parametrize("accept", ["identity", "gzip;q=0", "deflate", ""])
def test_no_gzip_unless_accepted(api, accept):
    r = api.call("GET", "cluster/{fsid}/osd", headers={"Accept-Encoding": accept})
    assert r.status_code == 200 and "Content-Encoding" not in r.headers and r.json


def test_small_answers_and_logins_are_not_compressed(api):
    r = api.call("GET", "cluster/{fsid}/pool/1?fields=id", headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200 and "Content-Encoding" not in r.headers
    login = api.client.post("/api/v2/auth/login", json={"username": "admin", "password": "correct-horse-1"},
                            headers={"Accept-Encoding": "gzip"})
    assert login.status_code == 200 and "Content-Encoding" not in login.headers


def test_a_gzip_304_has_no_body(api):
    headers = {"Accept-Encoding": "gzip"}
    tag = api.call("GET", "cluster/{fsid}/osd", headers=headers).headers["ETag"]
    r = api.call("GET", "cluster/{fsid}/osd", headers={**headers, "If-None-Match": tag})
    assert r.status_code == 304 and r.data == b"" and "Content-Encoding" not in r.headers


# ---------------------------------------------------------------------------- OpenAPI

def test_the_options_are_in_the_openapi_document(api):
    spec = api.call("GET", "openapi.json").json
    osd_list = spec["paths"]["/api/v2/cluster/{fsid}/osd"]["get"]
    names = {p["name"] for p in osd_list["parameters"]}
    assert {"limit", "offset", "fields", "state", "host", "pool", "device_class", "pools",
            "If-None-Match"} <= names
    assert "304" in osd_list["responses"]
    assert {"ETag", "X-Total-Count", "Link"} <= set(osd_list["responses"]["200"]["headers"])
    for path in ("/api/v2/cluster/{fsid}/pool", "/api/v2/server", "/api/v2/event", "/api/v2/request"):
        op = spec["paths"][path]["get"]
        assert "fields" in {p["name"] for p in op["parameters"]} and "304" in op["responses"], path
    assert "gzip" in spec["info"]["description"]


def test_compact_pools_keep_the_capture_steps_pools(api):
    """The compact form says what the full one says for every capture step (pools added, deleted)."""
    for prefix in ("06", "07", "08", "09", "10", "11"):
        api.feed(prefix)
        full = api.call("GET", "cluster/{fsid}/osd").json
        body = api.call("GET", "cluster/{fsid}/osd?pools=compact").json
        assert [body["pool_sets"][o["pool_set"]] for o in body["osds"]] == [o["pools"] for o in full]


def test_the_kept_json_of_each_osd_is_what_its_document_says(api):
    """The list is joined from JSON kept per OSD: after changes it must still be each OSD's
    document as osd_document shapes it now, byte for byte, with the keys in OSD_FIELDS order."""
    def expected() -> bytes:
        view = api.service.view
        served = served_pools(pools_by_root(api.service.model.clusters[api.fsid].crush,
                                            [row for _, row in sorted(view.pools[api.fsid].items())]))
        fqdns = {osd: fqdn for (fsid, osd), fqdn in view.osd_servers.items() if fsid == api.fsid}
        documents = [osd_document(view.osds[api.fsid][i], served, fqdns) for i in sorted(view.osds[api.fsid])]
        assert all(list(d) == list(OSD_FIELDS) for d in documents)
        return orjson.dumps(documents)

    for prefix in ("06", "07", "08", "09", "10"):  # out, back, reweighted, pool changed, pool deleted
        assert api.call("GET", "cluster/{fsid}/osd").data == expected(), prefix
        api.feed(prefix)
    assert api.call("GET", "cluster/{fsid}/osd").data == expected()


def test_the_kept_gzip_of_a_large_list_is_served_until_it_changes(api, monkeypatch):
    from calamari.api import osds

    monkeypatch.setattr(osds, "KEEP_GZIP_FROM", 0)  # the captures' lists are small
    zipped = {"Accept-Encoding": "gzip"}
    for query in ("", "?pools=compact", "?limit=2&state=up,down"):
        path = f"cluster/{{fsid}}/osd{query}"
        first = api.call("GET", path, headers=zipped)
        kept = api.app.extensions["calamari_osd_list_gzip"]
        assert kept.get(first.headers["ETag"]) is not None
        again = api.call("GET", path, headers=zipped)
        plain = api.call("GET", path)
        assert again.headers["Content-Encoding"] == "gzip" and again.data == first.data
        assert gzip.decompress(again.data) == plain.data
        assert again.headers["X-Total-Count"] == plain.headers["X-Total-Count"] == "3"
        assert again.headers.get("Link") == plain.headers.get("Link")
        assert again.headers["ETag"] == plain.headers["ETag"]
    before = api.call("GET", "cluster/{fsid}/osd", headers=zipped)
    api.feed("06")
    after = api.call("GET", "cluster/{fsid}/osd", headers=zipped)
    assert gzip.decompress(after.data) == api.call("GET", "cluster/{fsid}/osd").data != gzip.decompress(before.data)


def test_kept_gzip_answers_stay_within_their_bound():
    from calamari.api.compression import RecentGzip

    recent = RecentGzip(max_bytes=100)
    for i in range(10):
        recent.put(f"t{i}", b"x" * 30, {"n": str(i)})
    assert recent.get("t0") is None and recent.get("t9") == (b"x" * 30, {"n": "9"})
    assert sum(recent.get(f"t{i}") is not None for i in range(10)) == 3
    recent.put("huge", b"x" * 101, {})
    assert recent.get("huge") is None
