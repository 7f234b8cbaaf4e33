"""Concurrent requests on the same user: one create wins (201) and every other one is told the name
is taken (409, never 400); one delete wins and the others find no user (404, never 500)."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from api_support import PASSWORD, Harness

CONCURRENT = 40


@pytest.fixture
def api(tmp_path, capture_dir):
    harness = Harness(str(tmp_path / "var"), capture_dir, steps=())
    yield harness
    harness.close()


def at_once(api, calls: list[tuple[str, str, dict]]) -> list[int]:
    """Each (method, path, json) from its own thread, released together; the statuses."""
    token = api.token("admin")
    start = threading.Barrier(len(calls))
    statuses: list[int] = [0] * len(calls)

    def run(index: int, method: str, path: str, body: dict | None) -> None:
        client = api.app.test_client()
        start.wait(30)
        r = client.open(path, method=method, json=body, headers={"Authorization": f"Bearer {token}"})
        statuses[index] = r.status_code

    threads = [threading.Thread(target=run, args=(i, *call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return statuses


@pytest.mark.parametrize("name", ["carol", "dave.smith@example"])
def test_concurrent_creates_of_one_user_get_one_201_and_409s(api, name):
    body = {"username": name, "password": PASSWORD, "role": "operator"}
    statuses = Counter(at_once(api, [("POST", "/api/v2/user", body)] * CONCURRENT))
    assert statuses == {201: 1, 409: CONCURRENT - 1}
    assert [u.username for u in api.auth.users()].count(name) == 1


def test_concurrent_deletes_of_one_user_get_one_200_and_404s(api):
    api.auth.add_user("carol", PASSWORD, "operator", "test")
    statuses = Counter(at_once(api, [("DELETE", "/api/v2/user/carol", None)] * CONCURRENT))
    assert statuses == {200: 1, 404: CONCURRENT - 1}
    assert api.auth.get("carol") is None


def test_changes_racing_a_delete_get_200_or_404(api):
    api.auth.add_user("carol", PASSWORD, "operator", "test")
    calls = ([("DELETE", "/api/v2/user/carol", None)]
             + [("PATCH", "/api/v2/user/carol", {"role": "read-only"})] * (CONCURRENT // 2)
             + [("DELETE", "/api/v2/user/carol/token", None)] * (CONCURRENT // 2))
    statuses = Counter(at_once(api, calls))
    assert set(statuses) <= {200, 404}
    assert api.auth.get("carol") is None
