"""Numbers the CRUSH routes take are bounded as Ceph bounds them: in a CRUSH map's text, a number
beyond its field (thousands of digits, an id beyond 64 bits) is a 400 naming the line, nothing is
stored or sent; in JSON bodies, ids and positions beyond 32 bits are a 400 naming the field."""

import pytest
from test_api_crush_map import get_text, sim_api_fixture  # noqa: F401 - the sim_api fixture


def requests_of(api):
    return api.call("GET", "request").json


@pytest.mark.parametrize("old, new", [
    ("\tid -1\t", "\tid -{}\t"),  # the root's id
    ("\tid -4 class hdd", "\tid -{} class hdd"),
    ("device 5 osd.5", "device {} osd.5"),
    ("type 3 rack", "type {} rack"),
    ("\tmax_size 10", "\tmax_size {}"),
    ("chooseleaf firstn 0", "chooseleaf firstn {}"),
    ("tunable choose_total_tries 50", "tunable choose_total_tries {}"),
])
@pytest.mark.parametrize("digits", ["9" * 5000, "99999999999999999999999", "4294967296"])
def test_a_number_beyond_cephs_bounds_is_400_naming_its_line(sim_api, old, new, digits):
    api = sim_api.api
    text = get_text(api)
    assert old in text
    bad = text.replace(old, new.format(digits), 1)
    line = next(i for i, t in enumerate(bad.splitlines(), start=1) if new.format(digits).strip() in t)
    before = requests_of(api)
    r = api.call("POST", "cluster/{fsid}/crush_map", json={"crush_map": bad})
    assert r.status_code == 400, r.json
    assert list(r.json["errors"]) == [f"line {line}"] and "must be between" in r.json["errors"][f"line {line}"]
    assert len(r.data) < 1000
    assert api.sender.sent == [] and requests_of(api) == before


def test_the_simulated_cluster_keeps_running_after_a_refused_map(sim_api):
    api = sim_api.api
    text = get_text(api)
    bad = text.replace("\tid -1\t", "\tid -99999999999999999999999\t", 1)
    assert api.call("POST", "cluster/{fsid}/crush_map", json={"crush_map": bad}).status_code == 400
    r = api.call("POST", "cluster/{fsid}/crush_map", json={"crush_map": text.replace(
        "\titem osd.0 weight 4.000", "\titem osd.0 weight 2.000")})
    assert r.status_code == 202
    sim_api.run_sent()
    assert api.request(r.json["request_id"])["state"] == "complete"


@pytest.mark.parametrize("method, path, body, field", [
    ("POST", "cluster/{fsid}/crush_node", {"name": "r1", "bucket_type": "rack", "items": [{"id": 0, "pos": 1 << 40}]},
     "items.0.pos"),
    ("PATCH", "cluster/{fsid}/crush_node/-3", {"items": [{"id": 0, "pos": 1 << 31}, {"id": 1}]}, "items.0.pos"),
    ("POST", "cluster/{fsid}/crush_node", {"name": "r1", "bucket_type": "rack", "parent": 1 << 40}, "parent"),
    ("PATCH", "cluster/{fsid}/crush_node/-3", {"parent": -(1 << 31) - 1}, "parent"),
    ("PATCH", "cluster/{fsid}/crush_node/-3", {"parent": "x" * 101}, "parent"),
    ("POST", "cluster/{fsid}/osd/command/scrub", {"ids": [0, 1 << 40]}, "ids.1"),
    ("POST", "cluster/{fsid}/osd/command/scrub", {"ids": [-1]}, "ids.0"),
])
def test_json_ids_and_positions_beyond_32_bits_are_400_naming_the_field(sim_api, method, path, body, field):
    api = sim_api.api
    before = requests_of(api)
    r = api.call(method, path, json=body)
    assert r.status_code == 400, r.json
    assert any(k == field or k.startswith(f"{field}.") for k in r.json["errors"]), r.json
    assert api.sender.sent == [] and requests_of(api) == before

