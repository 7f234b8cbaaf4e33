"""Shared set-up of the API tests: a service fed with real capture steps, an app with three users
(admin, operator, read-only), and a fake command sender that records what would go to Ceph."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from argon2 import PasswordHasher

from calamari.adapters.local_host import server_grains
from calamari.adapters.timeseries import WhisperStore
from calamari.bootstrap import build_app
from calamari.service.auth import AuthService
from calamari.service.model import ModelService, ServiceConfig
from calamari.service.requests import RequestExecutor
from calamari.testing.captures import capture_steps, captured_at, sync_objects

FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)  # tests only: argon2 at its cheapest
PASSWORD = "correct-horse-1"


class FakeSender:
    def __init__(self, connected: bool = True) -> None:
        self.sent: list[tuple[str, str, str, dict[str, Any], str]] = []
        self.inputs: dict[str, str] = {}  # command id -> the input data sent with it
        self.connected = connected

    def __call__(self, fsid: str, command_id: str, prefix: str, args: dict[str, Any], target: str,
                 input: str | None = None) -> bool:  # noqa: A002 - the protocol's name
        if self.connected:
            self.sent.append((fsid, command_id, prefix, args, target))
            if input is not None:
                self.inputs[command_id] = input
        return self.connected

    def prefixes(self) -> list[str]:
        return [s[2] for s in self.sent]


def feed_step(service: ModelService, step_dir: str) -> str:
    fsid, objects = sync_objects(step_dir)
    for name, version, data in objects:
        service.on_sync_object(fsid, name, version, data, captured_at(step_dir), host="vm")
    return fsid


def step(capture_dir: str, prefix: str) -> str:
    return next(s for s in capture_steps(capture_dir) if s.rsplit("/", 1)[-1].startswith(prefix))


class Harness:
    def __init__(self, data_dir: str, capture_dir: str, steps: tuple[str, ...] = ("00",), users: bool = True,
                 connected: bool = True, clock: Any = None, auth_options: dict[str, Any] | None = None,
                 app_options: dict[str, Any] | None = None) -> None:
        self.capture_dir = capture_dir
        self.service = ModelService(ServiceConfig(data_dir=data_dir, snapshot_every_events=1_000_000))
        self.fsid = ""
        for prefix in steps:
            self.fsid = feed_step(self.service, step(capture_dir, prefix))
        self.sender = FakeSender(connected)
        kwargs = {"clock": clock} if clock else {}
        self.executor = RequestExecutor(self.service, send=self.sender, **kwargs)
        self.auth = AuthService(self.service, hasher=FAST_HASHER, **(auth_options or {}))
        self.app = build_app(self.service, auth=self.auth, executor=self.executor,
                             **{"SERVER_GRAINS": server_grains, **(app_options or {})})
        self.services = self.app.config["CALAMARI"]
        assert self.services.feed_history_told.wait(30), "the event feed did not read the stored events"
        self.client = self.app.test_client()
        self.tokens: dict[str, str] = {}
        if users and not self.auth.get("admin"):
            for name, role in (("admin", "admin"), ("oper", "operator"), ("viewer", "read-only")):
                self.auth.add_user(name, PASSWORD, role, "test")

    def token(self, username: str = "admin") -> str:
        if username not in self.tokens:
            r = self.client.post("/api/v2/auth/login", json={"username": username, "password": PASSWORD})
            assert r.status_code == 200, r.data
            self.tokens[username] = r.json["token"]
        return self.tokens[username]

    def call(self, method: str, path: str, user: str = "admin", **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.token(user)}", **kwargs.pop("headers", {})}
        url = path if path.startswith("/api/") else f"/api/v2/{path.format(fsid=self.fsid)}"
        return self.client.open(url, method=method, headers=headers, **kwargs)

    def feed(self, prefix: str) -> None:
        feed_step(self.service, step(self.capture_dir, prefix))

    def result(self, index: int = -1, rc: int = 0, out: Any = "", err: str = "") -> None:
        """Answer a sent command as the collector would."""
        command_id = self.sender.sent[index][1]
        self.service.on_command_result(command_id, rc, out, err, datetime.now(UTC))

    def answer_all(self) -> None:
        """Answer every sent command with success, in order (answers may send further commands)."""
        answered = 0
        while answered < len(self.sender.sent):
            self.result(answered)
            answered += 1

    def request(self, request_id: str) -> dict[str, Any]:
        r = self.call("GET", f"request/{request_id}")
        assert r.status_code == 200
        return r.json

    def close(self) -> None:
        self.service.close()


def harness_fixture(steps: tuple[str, ...] = ("00",), scope: str = "function",
                    timeseries: bool = False) -> Callable[..., Iterator[Harness]]:
    """A test module's `api` fixture: a Harness fed the capture steps (with a whisper store in its
    data dir where `timeseries`), for each test or shared by the module (`scope`), closed after."""

    @pytest.fixture(scope=scope)
    def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
            capture_dir: str) -> Iterator[Harness]:
        # per test, the data dir is the test's tmp_path: a test may start another Harness on it
        data_dir = request.getfixturevalue("tmp_path") if scope == "function" else tmp_path_factory.mktemp("api")
        app_options = {"TIMESERIES": WhisperStore(str(data_dir / "whisper"))} if timeseries else {}
        harness = Harness(str(data_dir), capture_dir, steps=steps, app_options=app_options)
        yield harness
        harness.close()

    return api
