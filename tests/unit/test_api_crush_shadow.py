"""Per-class shadow buckets (`default~hdd`): GET lists them, so a change naming one is refused
with the reason (Ceph keeps them in step with their bucket), not a 404 claiming there is no such
node, and nothing is sent to Ceph."""

import pytest
from api_support import harness_fixture

api = harness_fixture(steps=("00", "01", "02", "03"))


def shadow(api):
    nodes = api.call("GET", "cluster/{fsid}/crush_node").json
    row = next(n for n in nodes if n["name"].startswith("default~"))
    assert api.call("GET", f"cluster/{{fsid}}/crush_node/{row['id']}").status_code == 200
    return row


@pytest.mark.parametrize("method, body", [("DELETE", None), ("PATCH", {"name": "other"}),
                                          ("PATCH", {"items": []})])
def test_changing_a_shadow_bucket_is_409_with_its_reason(api, method, body):
    row = shadow(api)
    r = api.call(method, f"cluster/{{fsid}}/crush_node/{row['id']}", user="oper", json=body)
    assert r.status_code == 409, r.json
    assert "shadow of 'default'" in r.json["detail"] and "change 'default' instead" in r.json["detail"]
    assert "id" in r.json["errors"]
    assert api.sender.sent == []


def test_a_shadow_bucket_as_parent_or_item_is_400_naming_it(api):
    row = shadow(api)
    r = api.call("POST", "cluster/{fsid}/crush_node", user="oper",
                 json={"name": "rackx", "bucket_type": "rack", "parent": row["name"]})
    assert r.status_code == 400 and "shadow of 'default'" in r.json["errors"]["parent"]
    r = api.call("POST", "cluster/{fsid}/crush_node", user="oper",
                 json={"name": "rooty", "bucket_type": "root", "items": [{"id": row["id"]}]})
    assert r.status_code == 400 and "shadow of 'default'" in r.json["errors"]["items.0.id"]
    assert api.call("DELETE", "cluster/{fsid}/crush_node/-40", user="oper").status_code == 404
    assert api.sender.sent == []
