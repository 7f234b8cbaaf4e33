"""A real Ceph cluster as a collector source: librados (`mon_command` / `mgr_command` with JSON
commands); when the collector's Python cannot load it, librados through the `ceph` CLI's own
interpreter (collector/rados_bridge.py); the `ceph` CLI itself (argv list, never a shell, one
process per command) as the last resort and when a command fails on the others.

Two kinds of reads (docs/architecture.md, "Freshness"):
- `check()`, every few tens of milliseconds: one `status` gives the epochs of the OSD, monitor and
  file system maps, the quorum's election and a hash of health; a map is fetched when its
  version changed.
- `poll()`, about once a second: the PG map's version (`pg dump summary`, `mgr stat`) and the
  PG summary when it moved, usage, config, OSD metadata and health on their refresh intervals,
  the cluster log; and a check.
Each kind is paced by what it costs (collector/pacing.py), so that together they stay within a
share of one core whatever the backend. PGs are reduced to counts here and never sent one by one.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from collector import host as host_info
from collector.ceph_shapes import cluster_points, content_hash, host_services, pg_summary_from_dumps
from collector.crush_compile import CrushCompileError, compile_crush_text
from collector.logs import HostLogs, LogDirectory, default_log_dir
from collector.pacing import CpuPacer
from collector.rados_bridge import bridge_for
from collector.source import ReportTracker, SyncVersion

log = logging.getLogger("calamari.collector.ceph")

# Commands the mgr serves in Ceph 16 (the mon forwards them too, at the cost of a hop).
MGR_PREFIXES = frozenset({"pg dump", "osd perf", "osd pool stats", "osd df", "pg stat"})

CLIENTS = ("auto", "librados", "bridge", "cli")
# The share of one core the collector may use on an idle cluster, and how it is split between the
# steady reads: the version check gets most, being what makes changes show quickly; a tenth is
# left for the agent's own work (its loop, heartbeats, the host's counters).
DEFAULT_CPU_SHARE = 0.05
SHARE_SPLIT = {"check": 0.5, "poll": 0.2, "facts": 0.1, "stats": 0.1}
# However costly a read, it runs at least this often (seconds), so that nothing freezes for good.
MAX_READ_INTERVAL_S = {"check": 60.0, "poll": 300.0, "facts": 300.0, "stats": 300.0}


class CephBackend(Protocol):
    name: str

    def command(self, prefix: str, args: dict[str, Any], target: str, inbuf: bytes = b"") -> tuple[int, bytes, str]:
        """(rc, output, error text) of one JSON command; raises when the backend itself fails."""

    def fsid(self) -> str: ...

    def close(self) -> None: ...


class CephCommandError(RuntimeError):
    def __init__(self, prefix: str, rc: int, err: str) -> None:
        super().__init__(f"{prefix}: rc={rc} {err}")
        self.rc = rc
        self.err = err


def cli_argv(prefix: str, args: dict[str, Any]) -> list[str]:
    """`ceph` CLI words for a JSON command: prefix words, then argument values in the order given
    (the CLI matches positional words against the command signature); true flags become
    `--flag-name`."""
    argv = prefix.split()
    for key, value in args.items():
        if key in ("prefix", "format"):
            continue
        if isinstance(value, bool):
            if value:
                argv.append("--" + key.replace("_", "-"))
        elif isinstance(value, list):
            argv.extend(str(item) for item in value)
        elif value is not None:
            argv.append(str(value))
    return argv


class RadosBackend:
    name = "librados"

    def __init__(self, conffile: str, keyring: str | None, name: str, timeout: float) -> None:
        import rados  # imported here: the CLI backend must work without the binding

        # mon_command's own timeout argument is ignored by librados: without this a command to a
        # cluster whose monitors are down waits for the conf's (or default) mon op timeout.
        conf = {"rados_mon_op_timeout": str(int(max(1, timeout))), "client_mount_timeout": str(int(max(1, timeout)))}
        if keyring:
            conf["keyring"] = keyring
        self.timeout = timeout
        self.cluster = rados.Rados(conffile=conffile, conf=conf, name=name)
        self.cluster.connect(timeout=int(timeout))

    def command(self, prefix: str, args: dict[str, Any], target: str, inbuf: bytes = b"") -> tuple[int, bytes, str]:
        payload = json.dumps({"prefix": prefix, **args, "format": "json"})
        if target == "mgr":
            rc, out, err = self.cluster.mgr_command(payload, inbuf, timeout=int(self.timeout))
        else:
            rc, out, err = self.cluster.mon_command(payload, inbuf, timeout=int(self.timeout))
        return rc, out, err

    def fsid(self) -> str:
        return self.cluster.get_fsid()

    def close(self) -> None:
        self.cluster.shutdown()


class CliBackend:
    name = "cli"

    def __init__(self, conffile: str, keyring: str | None, name: str, timeout: float) -> None:
        executable = shutil.which("ceph")
        if executable is None:
            raise RuntimeError("neither librados for Python nor the ceph CLI is available")
        self.base = [executable, "--conf", conffile, "--name", name, "--connect-timeout", str(int(timeout))]
        if keyring:
            self.base += ["--keyring", keyring]
        self.timeout = timeout

    def command(self, prefix: str, args: dict[str, Any], target: str, inbuf: bytes = b"") -> tuple[int, bytes, str]:
        argv = [*self.base, *cli_argv(prefix, args), "--format", "json"]
        with tempfile.TemporaryDirectory(prefix="calamari-input-") as work:
            if inbuf:  # the CLI reads a command's input data from a file (-i)
                input_file = os.path.join(work, "input")
                with open(input_file, "wb") as f:
                    f.write(inbuf)
                argv += ["-i", input_file]
            try:
                done = subprocess.run(argv, capture_output=True, timeout=self.timeout * 2, check=False)
            except subprocess.TimeoutExpired:
                return -110, b"", f"ceph {prefix}: timed out"
        rc = -done.returncode if done.returncode > 0 else done.returncode
        return rc, done.stdout, done.stderr.decode("utf-8", "replace").strip()

    def fsid(self) -> str:
        rc, out, err = self.command("fsid", {}, "mon")
        if rc != 0:
            raise CephCommandError("fsid", rc, err)
        value = json.loads(out)
        return value["fsid"] if isinstance(value, dict) else str(value)

    def close(self) -> None:
        return None


def process_cpu_seconds() -> float:
    """CPU time of this process (all its threads: librados does its work on its own) and of its
    children that ended (one `ceph` process per command)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


class CephSource:
    """Collector source for a live cluster."""

    def __init__(
        self,
        conffile: str,
        *,
        keyring: str | None = None,
        name: str = "client.admin",
        timeout: float = 10.0,
        health_refresh_s: float = 10.0,
        df_refresh_s: float = 5.0,
        config_refresh_s: float = 10.0,
        metadata_refresh_s: float = 30.0,
        client: str = "auto",
        cpu_share: float = DEFAULT_CPU_SHARE,
        log_dir: str | None = None,
        backends: list[CephBackend] | None = None,
        clock: Callable[[], float] = time.monotonic,
        cpu_clock: Callable[[], float] = process_cpu_seconds,
    ) -> None:
        """`client`: "auto" (librados, else librados through the `ceph` CLI's interpreter, else
        the CLI), or one of "librados", "bridge", "cli" only (the CLI still serves commands the
        chosen one fails). `cpu_share`: of one core, for the steady reads (pacing.py).
        `log_dir`: where this host's Ceph logs are (default: per the conf's `log file`).
        `backends`, `clock`, `cpu_clock`: given by tests instead of a cluster and the real clocks."""
        if client not in CLIENTS:
            raise ValueError(f"client must be one of {', '.join(CLIENTS)}, not {client!r}")
        self.conffile = conffile
        self.log_directory = LogDirectory(log_dir or default_log_dir(conffile))
        self._backends: list[CephBackend] = (
            backends if backends is not None else open_backends(client, conffile, keyring, name, timeout))
        if not self._backends:
            raise RuntimeError("no way to reach the cluster: neither librados for Python nor the ceph CLI")
        self.fsid: str | None = self._backends[0].fsid()
        self.hostname = host_info.hostname()
        self.refresh = {"health": health_refresh_s, "df": df_refresh_s, "config": config_refresh_s,
                        "osd_metadata": metadata_refresh_s}
        self._current: dict[str, tuple[Any, Any]] = {}
        self._reports = ReportTracker()
        self._fetched_at: dict[str, float] = {}
        self._stamps: dict[str, Any] = {}
        self._status: dict[str, Any] | None = None
        self._log_entries: list[dict[str, Any]] = []
        self._host_counters = host_info.HostCounters(self.hostname)
        self._clock = clock
        self._cpu_clock = cpu_clock
        self.pacers = {kind: CpuPacer(cpu_share * part, max_interval=MAX_READ_INTERVAL_S[kind])
                       for kind, part in SHARE_SPLIT.items()}
        self._failing: set[str] = set()  # backends whose last call raised (logged once)
        self.backend_used: dict[str, int] = {backend.name: 0 for backend in self._backends}
        self.reads: dict[str, int] = {kind: 0 for kind in SHARE_SPLIT}  # paced reads that ran

    @property
    def backend(self) -> str:
        """The backend that serves reads (the first of those tried)."""
        return self._backends[0].name

    # -- commands -------------------------------------------------------------------------------
    def _raw(self, prefix: str, args: dict[str, Any], target: str, inbuf: bytes = b"") -> tuple[int, bytes, str]:
        for index, backend in enumerate(self._backends):
            last = index == len(self._backends) - 1
            try:
                result = backend.command(prefix, args, target, inbuf)
            except Exception as exc:  # rados.Error, BridgeUnavailable, OSError...
                if last:
                    raise
                if backend.name not in self._failing:  # once, not on every check of a 20 Hz loop
                    self._failing.add(backend.name)
                    log.warning("%s failed on %s (%s); trying the next backend until it works again",
                                backend.name, prefix, exc)
                continue
            if backend.name in self._failing:
                self._failing.discard(backend.name)
                log.info("%s works again", backend.name)
            self.backend_used[backend.name] += 1
            return result
        raise RuntimeError("no backend")  # unreachable: the list is never empty

    def query(self, prefix: str, target: str | None = None, **args: Any) -> Any:
        """Run a read command and parse its JSON output; raises CephCommandError on failure."""
        target = target or ("mgr" if prefix in MGR_PREFIXES else "mon")
        rc, out, err = self._raw(prefix, args, target)
        if rc != 0:
            raise CephCommandError(prefix, rc, err)
        return json.loads(out) if out.strip() else None

    def execute(self, prefix: str, args: dict[str, Any], target: str = "mon",
                input: str | None = None) -> tuple[int, Any, str]:  # noqa: A002 - the protocol's name
        if not isinstance(prefix, str) or not prefix.strip():
            return -22, "", "empty command prefix"
        arguments = {key: value for key, value in (args or {}).items() if key not in ("prefix", "format")}
        inbuf = b""
        if input is not None and prefix == "osd setcrushmap":
            try:  # Ceph takes the compiled map; the server sends crushtool's text form
                inbuf = compile_crush_text(input)
            except CrushCompileError as exc:
                return -22, "", str(exc)
        elif input is not None:
            inbuf = input.encode("utf-8")
        # the agent reads the maps right after a command to show its result: not held back by pacing
        self.pacers["check"].release()
        rc, out, err = self._raw(prefix, arguments, "mgr" if target == "mgr" else "mon", inbuf)
        text = out.decode("utf-8", "replace") if isinstance(out, bytes) else str(out)
        try:
            output: Any = json.loads(text) if text.strip() else ""
        except ValueError:
            output = text
        return rc, output, err

    # -- pacing ---------------------------------------------------------------------------------
    def cpu_seconds(self) -> float:
        """CPU time spent on this source: the process's and its children's, and that of a
        bridge's worker."""
        extra = sum(backend.cpu_seconds() for backend in self._backends if hasattr(backend, "cpu_seconds"))
        return self._cpu_clock() + extra

    @contextmanager
    def _paced(self, kind: str, started: float) -> Iterator[None]:
        """Charge what the block costs to the pacer of `kind`."""
        before = self.cpu_seconds()
        try:
            yield
        finally:
            self.pacers[kind].ran(started, self.cpu_seconds() - before)
            self.reads[kind] += 1

    # -- polling --------------------------------------------------------------------------------
    def check(self) -> dict[str, tuple[SyncVersion, Any]]:
        """The version check: sync objects that changed since reported, read from one `status`
        (when the pacer allows one now; else nothing)."""
        now = self._clock()
        if self.pacers["check"].due(now):
            self._read_maps(now)
        return self._reports.changed(self._current)

    def poll(self) -> dict[str, tuple[SyncVersion, Any]]:
        now = self._clock()
        if self.pacers["check"].due(now) or self._status is None:
            self._read_maps(now)
        if self.pacers["poll"].due(now):
            with self._paced("poll", now):
                self._read_slow(now)
        return self._reports.changed(self._current)

    def _read_maps(self, now: float) -> None:
        """One `status` (what the check pacer is charged), then every map whose version moved."""
        with self._paced("check", now):
            status = self.query("status")
        self._status = status
        stamps = {
            "osd_map": status["osdmap"]["epoch"],
            "mon_map": status["monmap"]["epoch"],
            "mon_status": (status["election_epoch"], tuple(status.get("quorum", []))),
            "fs_map": status["fsmap"]["epoch"],
            "health": content_hash(status["health"]),
        }
        fetch = {"osd_map": self._read_osd_map, "mon_map": self._read_mon_map, "mon_status": self._read_quorum,
                 "fs_map": self._read_fs_map, "health": self._read_health}
        for key, stamp in stamps.items():
            if self._stamps.get(key) != stamp:
                fetch[key](now)
                # only now: a fetch that failed is tried again at the next check, not forgotten
                self._stamps[key] = stamp

    def _read_osd_map(self, now: float) -> None:
        osd_map = self.query("osd dump")
        self._store("osd_map", int(osd_map["epoch"]), osd_map, now)
        crush_version = int(osd_map.get("crush_version", 0))
        if self._current.get("crush_map", (None,))[0] != crush_version:
            self._store("crush_map", crush_version, self.query("osd crush dump"), now)
        self._fetched_at.pop("osd_metadata", None)  # daemons may have restarted

    def _read_mon_map(self, now: float) -> None:
        mon_map = self.query("mon dump")
        self._store("mon_map", int(mon_map["epoch"]), mon_map, now)

    def _read_quorum(self, now: float) -> None:
        quorum = self.query("quorum_status")
        self._store("mon_status", int(quorum["election_epoch"]), quorum, now)

    def _read_fs_map(self, now: float) -> None:
        fs_map = self.query("fs dump")
        self._store("fs_map", int(fs_map["epoch"]), fs_map, now)

    def _read_health(self, now: float) -> None:
        health = self.query("health", detail="detail")
        self._store("health", content_hash(health), health, now)

    def _read_slow(self, now: float) -> None:
        """The PG map, usage, config, OSD metadata, health on their refresh intervals, the log."""
        status = self._status
        assert status is not None  # a check ran first
        summary_dump = self.query("pg dump", dumpcontents=["summary"])
        # The PG map's version lives in the active mgr and starts again after a failover; led by
        # the mgr map's epoch (which only grows) it still moves forward for the server.
        pg_stamp = (self._mgr_epoch() << 32) + int(summary_dump["pg_map"]["version"])
        pg_changed = self._stamps.get("pg") != pg_stamp
        if pg_changed:
            brief = self.query("pg dump", dumpcontents=["pgs_brief"])
            self._store("pg_summary", pg_stamp, pg_summary_from_dumps(summary_dump, brief, status), now)
            self._stamps["pg"] = pg_stamp
        if (pg_changed and self._due("df", now)) or "df" not in self._current:
            self._store("df", int(pg_stamp), self.query("df", detail="detail"), now)
        if self._due("health", now):
            self._read_health(now)
        if self._due("config", now):
            config = self.query("config dump")
            self._store("config", content_hash(config), config, now)
        if self._due("osd_metadata", now):
            metadata = self.query("osd metadata")
            self._store("osd_metadata", content_hash(metadata), metadata, now)
        self._log_entries = self._reports.new_log_entries(self.query("log last", num=100, channel="cluster") or [])

    def _mgr_epoch(self) -> int:
        """The mgr map's epoch (0 where `mgr stat` is not known)."""
        try:
            return int(self.query("mgr stat").get("epoch", 0))
        except (RuntimeError, ValueError, TypeError, AttributeError):
            return 0

    def _due(self, name: str, now: float) -> bool:
        return now - self._fetched_at.get(name, -1e9) >= self.refresh.get(name, 0.0)

    def _store(self, name: str, version: Any, data: Any, now: float) -> None:
        self._current[name] = (version, data)
        self._fetched_at[name] = now

    def current(self, name: str) -> tuple[Any, Any] | None:
        return self._current.get(name)

    def cluster_log(self) -> list[dict[str, Any]]:
        """The new entries the last poll read (each returned once)."""
        entries, self._log_entries = self._log_entries, []
        return entries

    def reporting_hosts(self) -> list[str]:
        return [self.hostname]

    def host_logs(self, host: str) -> HostLogs | None:
        return self.log_directory if host in (self.hostname, host_info.fqdn()) else None

    def server_facts(self) -> list[tuple[str, dict[str, Any]]]:
        """This host's facts; nothing when the pacer holds them back (the next call sends them)."""
        now = self._clock()
        if not self.pacers["facts"].due(now):
            return []
        with self._paced("facts", now):
            return self._server_facts()

    def _server_facts(self) -> list[tuple[str, dict[str, Any]]]:
        node_ls = self.query("node ls") or {}
        versions: dict[str, dict[str, str]] = {}
        for service_type in ("mon", "mgr", "mds"):
            if self.hostname in (node_ls.get(service_type) or {}):
                try:
                    metadata = self.query(f"{service_type} metadata") or []
                except CephCommandError:
                    metadata = []
                versions[service_type] = {
                    str(m.get("name")): m.get("ceph_version_short", "") for m in metadata
                }
        quorum = self._current.get("mon_status", (None, {}))[1] or {}
        metadata = self._current.get("osd_metadata", (None, None))[1]
        services = host_services(
            self.hostname,
            self.fsid or "",
            node_ls=node_ls,
            osd_map=self._current.get("osd_map", (None, None))[1],
            osd_metadata=metadata,
            quorum_names=quorum.get("quorum_names"),
            daemon_versions=versions,
        )
        return [(self.hostname, host_info.local_facts(services))]

    def stats(self) -> list[tuple[str, list[list[Any]]]]:
        """The cluster's and this host's points; nothing when the pacer holds them back."""
        now = self._clock()
        if not self.pacers["stats"].due(now):
            return []
        with self._paced("stats", now):
            return self._stats()

    def _stats(self) -> list[tuple[str, list[list[Any]]]]:
        ts = time.time()
        points = cluster_points(
            self.fsid or "",
            ts,
            df=self._current.get("df", (None, None))[1],
            status=self._status,
            osd_perf=self.query("osd perf"),
            osd_df=self.query("osd df"),
        )
        return [(self.hostname, points + self._host_counters.points(ts))]

    def close(self) -> None:
        for backend in self._backends:
            backend.close()


def open_backends(client: str, conffile: str, keyring: str | None, name: str, timeout: float) -> list[CephBackend]:
    """The backends `client` asks for, in the order they are tried: librados in this process, or
    through the `ceph` CLI's interpreter, then the CLI itself (which also takes over a command the
    others fail). Raises when the one asked for by name cannot be had."""
    backends: list[CephBackend] = []
    if client in ("auto", "librados"):
        try:
            backends.append(RadosBackend(conffile, keyring, name, timeout))
        except Exception as exc:  # ImportError, rados.Error
            if client == "librados":
                raise RuntimeError(f"librados for Python: {exc}") from exc
            log.warning("librados is not available to the collector's Python (%s)", exc)
    executable = shutil.which("ceph")
    if client in ("auto", "bridge") and not backends and executable is not None:
        bridge = bridge_for(executable, conffile, keyring, name, timeout)
        if bridge is not None:
            backends.append(bridge)
    if client == "bridge" and not backends:
        raise RuntimeError("librados through the ceph CLI's interpreter is unavailable (see the log)")
    if executable is not None:
        backends.append(CliBackend(conffile, keyring, name, timeout))
        if len(backends) == 1:
            log.warning("every read runs a ceph process: the collector paces its reads to its CPU share, "
                        "so changes show only every few seconds")
    return backends
