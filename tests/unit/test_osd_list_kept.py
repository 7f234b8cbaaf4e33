"""The OSD list kept between changes (calamari.api.osds: `_whole_list`, made again only for the
OSDs that changed) and one OSD from its kept JSON: after any sequence of changes (OSDs changed,
added, removed; pools created and deleted; an OSD moving to another server) every answer is byte
for byte what a fresh render of the documents gives, never an older one; an unchanged list is
not walked again, and a change walks only the OSDs it touched."""

from __future__ import annotations

import copy
import itertools
from datetime import UTC, datetime
from typing import Any

import orjson
from api_support import harness_fixture
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from calamari.api import listing
from calamari.api import osds as osd_routes
from calamari.domain.documents import osd_document, pools_by_root, served_pools

api = harness_fixture(steps=("00", "01", "02", "03", "04", "05"), scope="module")  # osd.2 down, pools 1-4


def fresh_documents(api) -> list[dict[str, Any]]:
    """The OSD documents rendered now from the view, as osd_document shapes them."""
    view = api.service.view
    served = served_pools(pools_by_root(api.service.model.clusters[api.fsid].crush,
                                        [row for _, row in sorted(view.pools[api.fsid].items())]))
    fqdns = {osd: fqdn for (fsid, osd), fqdn in view.osd_servers.items() if fsid == api.fsid}
    return [osd_document(view.osds[api.fsid][i], served, fqdns) for i in sorted(view.osds[api.fsid])]


def change_osd_map(api, change) -> None:
    """A new OSD map: `change(map)` edits a copy of the held one."""
    epoch, held = api.service.model.held[api.fsid]["osd_map"]
    new_map = copy.deepcopy(held)
    change(new_map)
    new_map["epoch"] = epoch + 1
    api.service.on_sync_object(api.fsid, "osd_map", epoch + 1, new_map, datetime.now(UTC))


def flip(api, pick: int, what: str) -> None:
    def change(osd_map: dict[str, Any]) -> None:
        entry = osd_map["osds"][pick % len(osd_map["osds"])]
        if what == "weight":
            entry["weight"] = 0.5 if entry["weight"] == 1 else 1
        else:
            entry[what] = 0 if entry[what] else 1
    change_osd_map(api, change)


def add_osd(api, pick: int) -> None:
    def change(osd_map: dict[str, Any]) -> None:
        template = osd_map["osds"][pick % len(osd_map["osds"])]
        new_id = max(e["osd"] for e in osd_map["osds"]) + 1 + pick % 3
        osd_map["osds"].append({**copy.deepcopy(template), "osd": new_id, "uuid": f"00000000-0000-0000-0000-{new_id:012d}"})
        osd_map["max_osd"] = new_id + 1
    change_osd_map(api, change)


def remove_osd(api, pick: int) -> None:
    def change(osd_map: dict[str, Any]) -> None:
        if len(osd_map["osds"]) > 1:
            del osd_map["osds"][pick % len(osd_map["osds"])]
    change_osd_map(api, change)


def add_pool(api, pick: int) -> None:
    def change(osd_map: dict[str, Any]) -> None:
        template = osd_map["pools"][pick % len(osd_map["pools"])]
        new_id = max(p["pool"] for p in osd_map["pools"]) + 1
        osd_map["pools"].append({**copy.deepcopy(template), "pool": new_id, "pool_name": f"extra{new_id}"})
        osd_map["pool_max"] = new_id
    change_osd_map(api, change)


def delete_pool(api, pick: int) -> None:
    def change(osd_map: dict[str, Any]) -> None:
        if len(osd_map["pools"]) > 1:
            del osd_map["pools"][pick % len(osd_map["pools"])]
    change_osd_map(api, change)


def move_to_server(api, pick: int) -> None:
    """A host whose services now include an OSD: the OSD's document names that server."""
    osd_ids = sorted(api.service.view.osds[api.fsid])
    osd_id = osd_ids[pick % len(osd_ids)]
    fqdn = f"stor{pick % 2}.example.net"
    facts = {"hostname": fqdn.split(".")[0], "fqdn": fqdn, "boot_time": 1.7e9, "kernel": "6.1.0", "cpu_count": 4,
             "mem_total": 8 << 30, "frontend_addr": "10.0.0.7", "backend_addr": "10.1.0.7",
             "services": [{"fsid": api.fsid, "type": "osd", "id": str(osd_id), "running": True}]}
    api.service.on_server_facts(api.fsid, facts, datetime.now(UTC))


CHANGES = {"up": lambda api, pick: flip(api, pick, "up"), "in": lambda api, pick: flip(api, pick, "in"),
           "weight": lambda api, pick: flip(api, pick, "weight"), "add OSD": add_osd, "remove OSD": remove_osd,
           "add pool": add_pool, "delete pool": delete_pool, "move OSD": move_to_server}


def assert_answers_are_fresh(api) -> None:
    expected = fresh_documents(api)
    whole = api.call("GET", "cluster/{fsid}/osd")
    assert whole.status_code == 200 and whole.data == orjson.dumps(expected)
    assert whole.headers["X-Total-Count"] == str(len(expected))
    again = api.call("GET", "cluster/{fsid}/osd")  # the kept one
    assert again.data == whole.data and again.headers["ETag"] == whole.headers["ETag"]
    kept = api.app.extensions["calamari_osd_whole_list"][api.fsid]
    assert list(kept.ends) == list(itertools.accumulate(map(len, kept.parts))) and kept.size == len(whole.data)
    for document in (expected[0], expected[-1]):
        one = api.call("GET", f"cluster/{{fsid}}/osd/{document['id']}")
        assert one.status_code == 200 and one.data == orjson.dumps(document)
    compact = api.call("GET", "cluster/{fsid}/osd?pools=compact").json
    assert [compact["pool_sets"][o.pop("pool_set")] for o in compact["osds"]] == [d.pop("pools") for d in expected]
    assert compact["osds"] == expected
    paged = api.call("GET", "cluster/{fsid}/osd?limit=2&offset=1").data
    assert orjson.loads(paged) == orjson.loads(whole.data)[1:3]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.tuples(st.sampled_from(sorted(CHANGES)), st.integers(0, 50)), min_size=1, max_size=6))
def test_the_kept_list_is_a_fresh_render_after_any_changes(api, monkeypatch, steps: list[tuple[str, int]]) -> None:
    monkeypatch.setattr(listing, "HAND_AS_FILE_FROM", 0)  # every list read through its parts' offsets, as a large one
    assert_answers_are_fresh(api)
    for name, pick in steps:
        CHANGES[name](api, pick)
        assert_answers_are_fresh(api)


def test_a_change_meanwhile_is_never_kept_under_the_older_generation(api, monkeypatch) -> None:
    """A list rendered while the model changed (its change count moved) answers, but is not kept:
    the next request renders again and sees the change."""
    original = osd_routes.in_key_order

    def rows_while_a_change_is_made(*args: Any) -> Any:
        rows = original(*args)
        with api.service.lock:  # a change made while the rows are rendered moves the count
            pass
        return rows

    flip(api, 0, "in")
    monkeypatch.setattr(osd_routes, "in_key_order", rows_while_a_change_is_made)
    assert api.call("GET", "cluster/{fsid}/osd").data == orjson.dumps(fresh_documents(api))
    kept = api.app.extensions["calamari_osd_whole_list"].get(api.fsid)
    with api.app.app_context():
        assert kept is None or kept.generation != osd_routes._list_generation(api.fsid)
    monkeypatch.setattr(osd_routes, "in_key_order", original)
    assert api.call("GET", "cluster/{fsid}/osd").data == orjson.dumps(fresh_documents(api))


def count_calls(monkeypatch, module: Any, name: str) -> list[int]:
    calls = [0]
    original = getattr(module, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return calls


def test_an_unchanged_list_is_not_walked_again_and_a_change_walks_only_its_osds(api, monkeypatch) -> None:
    """Each OSD's pools were looked up for every answer, 10,000 times for a list of 10,000."""
    api.call("GET", "cluster/{fsid}/osd")
    looked_up = count_calls(monkeypatch, osd_routes, "osd_pools")
    assert api.call("GET", "cluster/{fsid}/osd").status_code == 200
    assert looked_up[0] == 0
    flip(api, 1, "weight")  # one OSD changes
    assert api.call("GET", "cluster/{fsid}/osd").data == orjson.dumps(fresh_documents(api))
    assert looked_up[0] == 1


def test_one_osd_does_not_sort_the_pools_again_while_they_are_unchanged(api, monkeypatch) -> None:
    """One OSD's document lists its root's pools: they were gathered and sorted for every answer."""
    ids = sorted(api.service.view.osds[api.fsid])
    api.call("GET", f"cluster/{{fsid}}/osd/{ids[0]}")
    gathered = count_calls(monkeypatch, osd_routes, "pools_by_root")
    for osd_id in ids:
        assert api.call("GET", f"cluster/{{fsid}}/osd/{osd_id}").status_code == 200
    assert gathered[0] == 0
    add_pool(api, 0)
    one = api.call("GET", f"cluster/{{fsid}}/osd/{ids[0]}")
    assert gathered[0] == 1 and one.json["pools"] == fresh_documents(api)[0]["pools"]


def test_a_kept_list_is_only_for_those_who_may_read_it(api) -> None:
    """Kept or not, the list goes through the same authentication: no token, a wrong one or a
    revoked one is refused; every role reads it."""
    path = f"/api/v2/cluster/{api.fsid}/osd"
    expected = api.call("GET", path).data
    assert api.call("GET", path).data == expected  # kept now
    for user in ("viewer", "oper", "admin"):
        assert api.call("GET", path, user=user).data == expected
    stranger = api.app.test_client()  # no session cookie (the harness's client logged in)
    assert stranger.get(path).status_code == 401
    assert stranger.get(path, headers={"Authorization": "Bearer not-a-token"}).status_code == 401
    viewer_token = api.token("viewer")
    api.auth.revoke_all("viewer", by="admin")
    api.tokens.pop("viewer")
    assert stranger.get(path, headers={"Authorization": f"Bearer {viewer_token}"}).status_code == 401
    assert stranger.get(f"{path}/0", headers={"Authorization": f"Bearer {viewer_token}"}).status_code == 401
