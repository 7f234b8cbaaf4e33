"""CRUSH changes through the API against a real Ceph 16.2 cluster: a bucket and a rule are made,
a pool uses the rule, then all three are deleted; each request completes only once a CRUSH map
showing it has arrived, and the `ceph` CLI agrees."""

from __future__ import annotations

import pytest
from crush_live import crush_live_fixture, done

from calamari.testing.live import ApiClient, ApiError, DevCluster

pytestmark = pytest.mark.integration


live = crush_live_fixture("calamari-crush", "crush_rule")


def test_bucket_rule_and_pool_made_and_removed(live: tuple[DevCluster, ApiClient, str]) -> None:
    cluster, api, fsid = live
    c = f"/cluster/{fsid}"
    done(api, api.submit("POST", f"{c}/crush_node", {"name": "rack-e2e", "bucket_type": "rack", "parent": "default"}))
    # complete means the API already shows it: no waiting here
    node = next(n for n in api.get(f"{c}/crush_node") if n["name"] == "rack-e2e")
    tree = {n["name"]: n for n in cluster.ceph("osd", "tree")["nodes"]}
    assert node["id"] in tree["default"]["children"] and tree["rack-e2e"]["type"] == "rack"

    done(api, api.submit("POST", f"{c}/crush_rule", {"name": "e2e-rule", "root": "default",
                                                      "failure_domain": "osd"}))
    rule = next(r for r in api.get(f"{c}/crush_rule") if r["name"] == "e2e-rule")
    assert cluster.ceph("osd", "crush", "rule", "dump", "e2e-rule")["rule_id"] == rule["id"]

    pool_request = api.submit("POST", f"{c}/pool", {"name": "e2e-crush", "pg_num": 8,
                                                     "crush_ruleset": rule["id"]})
    done(api, pool_request)
    pool = next(p for p in api.get(f"{c}/pool") if p["name"] == "e2e-crush")
    assert pool["crush_ruleset"] == rule["id"]
    with pytest.raises(ApiError) as refused:  # in use by the pool
        api.call("DELETE", f"{c}/crush_rule/{rule['id']}")
    assert refused.value.status == 409

    done(api, api.submit("DELETE", f"{c}/pool/{pool['id']}"))
    done(api, api.submit("DELETE", f"{c}/crush_rule/{rule['id']}"))
    done(api, api.submit("DELETE", f"{c}/crush_node/{node['id']}"))
    assert "e2e-rule" not in cluster.ceph("osd", "crush", "rule", "ls")
    assert "rack-e2e" not in {n["name"] for n in cluster.ceph("osd", "tree")["nodes"]}
    assert "rack-e2e" not in {n["name"] for n in api.get(f"{c}/crush_node")}
