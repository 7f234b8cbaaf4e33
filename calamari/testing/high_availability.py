"""Several `calamari-server` processes on one PostgreSQL event store, for tests and benchmarks
(docs/high-availability.md): each with its own data dir, API and bus ports; which one is active,
its failover, the store's positions."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import psycopg

from calamari.adapters.postgres_store import parse_postgres_url
from calamari.testing.live import BIN, ApiClient, ApiError, Process, WaitTimeout, free_port

ADMIN, PASSWORD = "admin", "end-to-end-secret"


def add_admin(store_url: str, data_dir: Path) -> None:
    """The admin user, stored directly (no server runs yet)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run([str(BIN / "calamari-ctl"), "--data-dir", str(data_dir), "--event-store", store_url, "user", "add",
                    ADMIN, "--role", "admin"], input=PASSWORD + "\n", text=True, check=True, timeout=60,
                   capture_output=True)


class HaServer:
    """One calamari-server sharing `store_url`; `extra` options are added to its command line."""

    def __init__(self, name: str, data_dir: Path, store_url: str, lease_time: float = 3.0,
                 extra: list[str] | None = None) -> None:
        self.name = name
        self.data_dir = data_dir
        self.store_url = store_url
        self.api_port, self.bus_port = free_port(), free_port()
        self.bus = f"tcp://127.0.0.1:{self.bus_port}"
        self.base = f"http://127.0.0.1:{self.api_port}"
        self.url = f"{self.base}/api/v2"
        self.lease_time = lease_time
        self.extra = extra or []
        self.process: Process | None = None
        data_dir.mkdir(parents=True, exist_ok=True)

    def start(self, timeout: float = 60) -> HaServer:
        argv = [str(BIN / "calamari-server"), "--data-dir", str(self.data_dir), "--api", f"127.0.0.1:{self.api_port}",
                "--bus", self.bus, "--insecure-bus", "--event-store", self.store_url,
                "--lease-time", str(self.lease_time), *self.extra]
        self.process = Process(argv, self.data_dir / "server.log")
        deadline = time.monotonic() + timeout
        while self.health() is None:
            if not self.process.alive():
                raise RuntimeError(f"{self.name} exited: {self.process.log_tail()}")
            if time.monotonic() > deadline:
                raise WaitTimeout(f"{self.name}'s API did not answer in {timeout} s: {self.process.log_tail()}")
            time.sleep(0.1)
        return self

    def alive(self) -> bool:
        return self.process is not None and self.process.alive()

    def health(self) -> int | None:
        """The status of GET /health/active (200 active, 503 standby), None when nothing answers."""
        try:
            return ApiClient(self.url, timeout=2).call("GET", "/health/active")[0]
        except ApiError as err:
            return err.status
        except OSError:
            return None

    def is_active(self) -> bool:
        return self.health() == 200

    def client(self, timeout: float = 15) -> ApiClient:
        client = ApiClient(self.url, timeout=timeout)
        client.login(ADMIN, PASSWORD)
        return client

    def kill9(self) -> None:
        assert self.process is not None
        self.process.kill9()

    def pause(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGCONT)

    def stop(self) -> int | None:
        if self.process is None:
            return None
        return self.process.stop()

    def log(self) -> str:
        return self.process.log_tail(200_000) if self.process is not None else ""


def wait_for_active(servers: list[HaServer], timeout: float = 30) -> HaServer:
    """The one server that answers 200 on /health/active (exactly one must)."""
    deadline = time.monotonic() + timeout
    while True:
        active = [s for s in servers if s.alive() and s.is_active()]
        if len(active) > 1:
            raise AssertionError(f"two active servers: {[s.name for s in active]}")
        if active:
            return active[0]
        if time.monotonic() > deadline:
            raise WaitTimeout(f"no server became active in {timeout} s")
        time.sleep(0.05)


def store_positions(store_url: str) -> list[int]:
    """Every stored position, in order (a direct look at the table)."""
    target = parse_postgres_url(store_url)
    with psycopg.connect(host=target.host, port=target.port, user=target.user, password=target.password,
                         dbname=target.dbname) as conn:
        rows = conn.execute(f'SELECT notification_id FROM "{target.schema}"."{target.table}" '
                            "ORDER BY notification_id").fetchall()
    return [row[0] for row in rows]


def stored_topics_after(store_url: str, position: int) -> list[tuple[int, str]]:
    """(position, topic) of the events stored after `position`."""
    target = parse_postgres_url(store_url)
    with psycopg.connect(host=target.host, port=target.port, user=target.user, password=target.password,
                         dbname=target.dbname) as conn:
        rows = conn.execute(f'SELECT notification_id, topic FROM "{target.schema}"."{target.table}" '
                            "WHERE notification_id > %s ORDER BY notification_id", (position,)).fetchall()
    return [(row[0], row[1]) for row in rows]


def outcome_counts(store_url: str) -> dict[str, int]:
    """How many outcome events (completed or failed) each user request aggregate has in the store."""
    target = parse_postgres_url(store_url)
    with psycopg.connect(host=target.host, port=target.port, user=target.user, password=target.password,
                         dbname=target.dbname) as conn:
        rows = conn.execute(f'SELECT originator_id, count(*) FROM "{target.schema}"."{target.table}" '
                            "WHERE topic LIKE %s OR topic LIKE %s GROUP BY originator_id",
                            ("%UserRequestCompleted", "%UserRequestFailed")).fetchall()
    return {str(row[0]): int(row[1]) for row in rows}


def submit_anywhere(servers: list[HaServer], token: str | None, path: str, body: dict, timeout: float = 60,
                    ) -> tuple[str | None, HaServer | None]:
    """POST a change to whichever server accepts it (a standby answers 503): (request id, server).
    (None, None) when an answer was lost (the server died while answering): whether it was taken
    is then unknown, and the caller must not count it as accepted."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for server in servers:
            if not server.alive():
                continue
            client = ApiClient(server.url, timeout=10)
            client.token = token
            try:
                status, answer = client.call("POST", path, body)
            except ApiError as err:
                if err.status == 503:
                    continue
                raise
            except OSError as err:
                if isinstance(getattr(err, "reason", err), ConnectionRefusedError):
                    continue  # nothing was sent: not listening (yet, or any more)
                return None, None
            if status == 202:
                return str(answer["request_id"]), server
        time.sleep(0.1)
    raise WaitTimeout(f"no server accepted POST {path} in {timeout} s")

