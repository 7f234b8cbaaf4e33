"""The OpenAPI document keeps every operationId it has published: clients generated from it name
their methods after them, so moving routes between blueprints (modules) must not rename them."""

import json
import os

from api_support import Harness

PUBLISHED = os.path.join(os.path.dirname(__file__), "fixtures", "openapi_operation_ids.json")


def test_every_published_operation_keeps_its_id(tmp_path, capture_dir):
    with open(PUBLISHED) as f:
        published = json.load(f)
    api = Harness(str(tmp_path), capture_dir)
    try:
        paths = api.call("GET", "openapi.json").json["paths"]
    finally:
        api.close()
    now = {(path, method): op["operationId"] for path, ops in paths.items() for method, op in ops.items()}
    expected = {(path, method): op_id for path, ops in published.items() for method, op_id in ops.items()}
    assert {key: now.get(key) for key in expected} == expected
    assert len(set(now.values())) == len(now)  # and they stay unique
