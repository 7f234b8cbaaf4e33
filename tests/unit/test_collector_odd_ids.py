"""Ids from a collector that str.isdigit() takes but int() refuses ('²', thousands of digits): they
are names like any other, so neither /metrics nor the model nor a command result fails on them."""

import copy
from datetime import UTC, datetime

import pytest
from api_support import Harness

ODD = "\u00b2"  # '²'


@pytest.mark.parametrize("odd", [ODD, "1" * 5000])
def test_odd_ids_from_a_collector_are_taken_as_names(tmp_path, capture_dir, odd):
    api = Harness(str(tmp_path), capture_dir)
    service = api.service
    try:
        version, pg_summary = service.model.held[api.fsid]["pg_summary"]
        data = copy.deepcopy(pg_summary)
        data["by_pool"] = {**data.get("by_pool", {}), odd: {"active+clean": 1}}
        assert service.on_sync_object(api.fsid, "pg_summary", version + 1, data, datetime.now(UTC))
        r = api.client.get("/metrics", headers={"Authorization": f"Bearer {api.token()}"})
        assert r.status_code == 200, r.data[:300]

        facts = {"hostname": "odd", "fqdn": "odd.example", "services": [{"type": "mon", "id": odd},
                                                                        {"type": "mon", "id": "a"}]}
        service.on_server_facts(api.fsid, facts, datetime.now(UTC))
        assert {s["id"] for s in service.view.servers["odd.example"]["services"]} == {"a", odd}

        service.on_command_result(f"some-request/{odd}", 0, "", "", datetime.now(UTC))  # dropped, not raised
    finally:
        api.close()
