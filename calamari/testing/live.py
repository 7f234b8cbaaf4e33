"""Real processes for end-to-end tests and benchmarks: a dev Ceph cluster (scripts/ceph-dev-cluster.sh),
`calamari-server` and `calamari-collector` as subprocesses on free ports, a small REST client and the
`ceph` CLI. Every wait has a timeout; every process started here is stopped by its owner object."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

REPO = Path(__file__).resolve().parents[2]
DEV_CLUSTER_SCRIPT = REPO / "scripts" / "ceph-dev-cluster.sh"
CEPH_TOOLS = ("ceph-mon", "ceph-osd", "ceph-mgr", "ceph")
# A daemon started again must write its pid file within this and still run this much later.
STARTED_WITHIN_S = 30.0
STAYS_UP_S = 1.0
BIN = Path(sys.executable).parent

T = TypeVar("T")


class WaitTimeout(AssertionError):
    pass


def wait_for(condition: Callable[[], T], timeout: float, what: str, interval: float = 0.1,
             give_up: Callable[[], str | None] | None = None) -> T:
    """Poll `condition` until it returns something truthy (returned); WaitTimeout after `timeout` s.
    Exceptions of the condition count as "not yet" (the last one is reported). `give_up`, asked
    before each try, ends the wait at once with RuntimeError when it names a reason (e.g. a process
    the condition depends on has exited)."""
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        reason = give_up() if give_up is not None else None
        if reason is not None:
            raise RuntimeError(reason)
        try:
            value = condition()
            if value:
                return value
        except Exception as exc:  # e.g. the API is not up yet
            last_error = exc
        if time.monotonic() >= deadline:
            detail = f" (last error: {last_error!r})" if last_error else ""
            raise WaitTimeout(f"timed out after {timeout:.0f} s waiting for {what}{detail}")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def missing_ceph_tools() -> list[str]:
    return [tool for tool in CEPH_TOOLS if shutil.which(tool) is None]


# ------------------------------------------------------------------------------------ the cluster

class DevCluster:
    """A cluster of scripts/ceph-dev-cluster.sh in `directory`; `up()` starts it, `down()` stops it."""

    def __init__(self, directory: str | Path, osds: int = 3, hosts: int = 1, *, mgr_notify: bool = False) -> None:
        """`mgr_notify`: the mgr loads and enables the calamari_notify module, on `self.notify_port`."""
        self.dir = Path(directory)
        self.env = dict(os.environ, CLUSTER_DIR=str(self.dir), MON_PORT=str(free_port()), OSDS=str(osds),
                        HOSTS=str(hosts))
        self.env.pop("CEPH_CONF", None)
        self.env.pop("CALAMARI_NOTIFY_PORT", None)
        self.notify_port: int | None = None
        if mgr_notify:
            self.notify_port = free_port()
            self.env["CALAMARI_NOTIFY_PORT"] = str(self.notify_port)
        self.osds = osds

    @property
    def conf(self) -> str:
        return str(self.dir / "ceph.conf")

    def up(self, timeout: float = 180) -> None:
        try:
            subprocess.run(["bash", str(DEV_CLUSTER_SCRIPT), "up"], env=self.env, check=True, timeout=timeout,
                           capture_output=True)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            self.down()
            stderr = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else ""
            raise RuntimeError(f"the dev cluster did not start: {stderr[-2000:]}") from exc

    def down(self) -> None:
        subprocess.run(["bash", str(DEV_CLUSTER_SCRIPT), "down"], env=self.env, check=False, timeout=60,
                       capture_output=True)

    # the daemons, by the pid files the script's ceph.conf names ($run_dir/$name.pid)
    def pid_of(self, daemon: str) -> int | None:
        try:
            return int((self.dir / "run" / f"{daemon}.pid").read_text().strip())
        except (OSError, ValueError):
            return None

    def stop_daemon(self, daemon: str, timeout: float = 30) -> None:
        """Stop e.g. "osd.1" or "mon.a" for good (SIGTERM, then SIGKILL) and wait until it is gone."""
        pid = self.pid_of(daemon)
        if pid is None:
            raise RuntimeError(f"no pid file for {daemon}")
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            wait_for(lambda: not _alive(pid), timeout, f"{daemon} (pid {pid}) to exit")
        except WaitTimeout:
            os.kill(pid, signal.SIGKILL)
            wait_for(lambda: not _alive(pid), 10, f"{daemon} (pid {pid}) to die")

    def start_daemon(self, daemon: str) -> None:
        """Start e.g. "osd.1" or "mon.a" again with the cluster's ceph.conf (it daemonizes), and see
        that it is still running a moment later. A ceph-mgr started right after its predecessor
        exited was once seen to log its version and exit, which failed every later test on the
        shared cluster: such a start is tried once more."""
        kind, _, ident = daemon.partition(".")
        for attempt in (1, 2):
            before = self.pid_of(daemon)
            subprocess.run([f"ceph-{kind}", "-c", self.conf, "-i", ident], env=self.env, check=True, timeout=60,
                           capture_output=True)
            if self._stays_up(daemon, before):
                return
            if attempt == 2:
                raise RuntimeError(f"{daemon} exited right after it was started, twice")

    def _stays_up(self, daemon: str, before: int | None) -> bool:
        """A new process of `daemon` (not `before`) wrote its pid file and is alive STAYS_UP_S later."""
        try:
            pid = wait_for(lambda: (lambda p: p if p is not None and p != before and _alive(p) else None)(
                self.pid_of(daemon)), STARTED_WITHIN_S, f"{daemon} to write its pid file")
        except WaitTimeout:
            return False
        time.sleep(STAYS_UP_S)
        return _alive(pid)

    def ceph(self, *words: str, timeout: float = 30) -> Any:
        """Run the `ceph` CLI against this cluster with JSON output; the parsed output ("" if none)."""
        done = subprocess.run(["ceph", "--conf", self.conf, "--connect-timeout", "20", *words, "--format", "json"],
                              env=self.env, capture_output=True, timeout=timeout, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"ceph {' '.join(words)}: rc={done.returncode} {done.stderr.decode(errors='replace')}")
        text = done.stdout.decode().strip()
        return json.loads(text) if text else ""

    def fsid(self) -> str:
        return str(self.ceph("fsid")["fsid"])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child of ours counts as gone
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][:1] != "Z"
    except OSError:
        return False


# ------------------------------------------------------------------------------------ processes

def plain_bus_options(command: str) -> list[str]:
    """The option that asks for a plain-TCP bus (no collector keys), if the command has one."""
    help_text = subprocess.run([str(BIN / command), "--help"], capture_output=True, text=True, timeout=30).stdout
    found = re.findall(r"(--[a-z-]*(?:insecure|plain)[a-z-]*)", help_text)
    return found[:1]


class Process:
    """A subprocess with its output in a log file; `stop()` ends it (SIGTERM, then SIGKILL)."""

    def __init__(self, argv: list[str], log_path: Path, env: dict[str, str] | None = None) -> None:
        self.argv = argv
        self.log_path = log_path
        self._log = open(log_path, "ab")  # closed in stop()
        self.proc = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT, env=env,
                                     start_new_session=True)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill9(self) -> None:
        self.proc.kill()
        self.proc.wait(30)

    def stop(self, timeout: float = 15) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._log.close()
        return self.proc.returncode

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


class CalamariServer:
    """`calamari-server` on free ports with its own data dir and an admin user."""

    USER = "admin"
    PASSWORD = "end-to-end-secret"

    def __init__(self, data_dir: Path, extra: list[str] | None = None, secure_bus: bool = False) -> None:
        self.data_dir = data_dir
        self.api_port = free_port()
        self.bus_port = free_port()
        self.bus = f"tcp://127.0.0.1:{self.bus_port}"
        self.url = f"http://127.0.0.1:{self.api_port}/api/v2"
        self.extra = extra or []
        self.process: Process | None = None
        data_dir.mkdir(parents=True, exist_ok=True)
        subprocess.run([str(BIN / "calamari-ctl"), "--data-dir", str(data_dir), "user", "add", self.USER,
                        "--role", "admin"], input=self.PASSWORD + "\n", text=True, check=True, timeout=60,
                       capture_output=True)
        self._plain = [] if secure_bus else plain_bus_options("calamari-server")

    def start(self, timeout: float = 60) -> ApiClient:
        argv = [str(BIN / "calamari-server"), "--data-dir", str(self.data_dir), "--api", f"127.0.0.1:{self.api_port}",
                "--bus", self.bus, *self._plain, *self.extra]
        self.process = Process(argv, self.data_dir / "server.log")
        client = ApiClient(self.url)
        try:
            wait_for(lambda: self._check_alive() and client.login(self.USER, self.PASSWORD), timeout,
                     "the server's API to answer a login")
        except WaitTimeout as exc:
            raise WaitTimeout(f"{exc}\n{self.process.log_tail()}") from None
        return client

    @contextlib.contextmanager
    def running(self, timeout: float = 60) -> Iterator[ApiClient]:
        """The server started, for the block, with its API client; stopped however the block ends
        (also when it did not start in time)."""
        try:
            yield self.start(timeout)
        finally:
            self.stop()

    def _check_alive(self) -> bool:
        assert self.process is not None
        if not self.process.alive():
            raise RuntimeError(f"calamari-server exited: {self.process.log_tail()}")
        return True

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()

    def ctl(self, *words: str) -> str:
        """`calamari-ctl --data-dir DIR WORDS...`; its standard output."""
        done = subprocess.run([str(BIN / "calamari-ctl"), "--data-dir", str(self.data_dir), *words],
                              capture_output=True, text=True, check=True, timeout=60)
        return done.stdout

    def stored_events(self) -> list[dict[str, Any]]:
        """`calamari-ctl events`: what the event store holds (JSON lines)."""
        done = subprocess.run([str(BIN / "calamari-ctl"), "--data-dir", str(self.data_dir), "events"],
                              capture_output=True, text=True, check=True, timeout=60)
        return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


class CalamariCollector:
    """`calamari-collector --ceph-conf` polling a real cluster often, for tests."""

    def __init__(self, server_bus: str, ceph_conf: str, log_path: Path, poll_interval: float = 0.5,
                 heartbeat_interval: float = 1.0, ceph_timeout: float = 3.0,
                 curve: tuple[str, Path] | None = None, extra: list[str] | None = None) -> None:
        """`curve`: (the server's public key, the collector's key dir) for an authenticated,
        encrypted bus; without it the plain-TCP development bus. `extra`: more options."""
        security = (["--server-key", curve[0], "--key-dir", str(curve[1])] if curve
                    else plain_bus_options("calamari-collector"))
        self.argv = [str(BIN / "calamari-collector"), "--server", server_bus, "--ceph-conf", ceph_conf,
                     "--poll-interval", str(poll_interval), "--heartbeat-interval", str(heartbeat_interval),
                     "--stats-interval", "5", "--ceph-timeout", str(ceph_timeout), *security, *(extra or [])]
        self.log_path = log_path
        self.process: Process | None = None

    def start(self) -> None:
        self.process = Process(self.argv, self.log_path)

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()


# ------------------------------------------------------------------------------------ REST client

class ApiError(RuntimeError):
    def __init__(self, method: str, path: str, status: int, body: Any) -> None:
        super().__init__(f"{method} {path}: {status} {body}")
        self.status = status
        self.body = body


class ApiClient:
    """JSON over HTTP with a bearer token (stdlib only)."""

    def __init__(self, base_url: str, timeout: float = 15) -> None:
        self.base_url = base_url
        self.timeout = timeout
        self.token: str | None = None

    def login(self, username: str, password: str) -> bool:
        self.token = self.call("POST", "/auth/login", {"username": username, "password": password})[1]["token"]
        return True

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base_url + path, data=data, method=method)
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as response:
                raw = response.read()
                status = response.status
        except urllib.error.HTTPError as err:
            raw, status = err.read(), err.code
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode(errors="replace")
        if status >= 400:
            raise ApiError(method, path, status, parsed)
        return status, parsed

    def get(self, path: str) -> Any:
        return self.call("GET", path)[1]

    def submit(self, method: str, path: str, body: Any = None) -> str:
        """A change: expects 202 and returns the request id."""
        status, answer = self.call(method, path, body)
        if status != 202:
            raise ApiError(method, path, status, answer)
        return str(answer["request_id"])

    def wait_request(self, request_id: str, timeout: float = 60) -> dict[str, Any]:
        """Poll /request/<id> until it is complete; the final row."""
        return wait_for(lambda: (lambda row: row if row["state"] == "complete" else None)(
            self.get(f"/request/{request_id}")), timeout, f"request {request_id} to complete", interval=0.2)


@contextlib.contextmanager
def server_and_collector(cluster: DevCluster, base: Path, server_options: list[str] | None = None,
                         collector_options: list[str] | None = None,
                         ) -> Iterator[tuple[CalamariServer, CalamariCollector, ApiClient]]:
    """A `calamari-server` and a `calamari-collector` of `cluster` (plain-TCP bus; more options of
    each if given), both stopped at the end whatever happens; yields once the cluster shows in the API."""
    server = CalamariServer(base / "data", server_options)
    collector: CalamariCollector | None = None
    try:
        api = server.start()
        collector = CalamariCollector(server.bus, cluster.conf, base / "collector.log", extra=collector_options)
        collector.start()
        fsid = cluster.fsid()
        wait_for(lambda: any(c["id"] == fsid for c in api.get("/cluster")), 60, "the cluster to appear in the API")
        yield server, collector, api
    finally:
        if collector is not None:
            collector.stop()
        server.stop()
