"""A real Ceph cluster as a collector source: librados (collector/ceph_rados.py: `mon_command` /
`mgr_command` with JSON commands); when the collector's Python cannot load it, librados through the
`ceph` CLI's own interpreter (collector/rados_bridge.py); the `ceph` CLI itself (collector/ceph_cli.py:
argv list, never a shell, one process per command) as the last resort and when a command fails on
the others.

Two kinds of reads (collector/ceph_polling.py; docs/architecture.md, "Freshness"):
- `check()`, every few tens of milliseconds: one `status` gives the epochs of the OSD, monitor and
  file system maps, the quorum's election and a hash of health; a map is fetched when its
  version changed.
- `poll()`, about once a second: the PG map's version (`pg dump summary`, `mgr stat`) and the
  PG summary when it moved, usage, config, OSD metadata and health on their refresh intervals,
  the cluster log; and a check.
- `notified()`: the maps the calamari_notify mgr module announced, read at once; while its channel
  is up, `check()` reads nothing (docs/mgr-module.md).
Each kind is paced by what it costs (collector/pacing.py), so that together they stay within a
share of one core whatever the backend. PGs are reduced to counts here and never sent one by one.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Callable, Sequence
from typing import Any

from collector import host as host_info
from collector.ceph_backend import CephBackend, CephCommandError
from collector.ceph_cli import CliBackend, cli_argv
from collector.ceph_polling import Polling, process_cpu_seconds
from collector.ceph_rados import RadosBackend
from collector.ceph_shapes import cluster_points, host_services
from collector.crush_compile import CrushCompileError, compile_crush_text
from collector.logs import HostLogs, LogDirectory, default_log_dir
from collector.mgr_notify import MgrNotifyListener, parse_endpoint
from collector.pacing import CpuPacer
from collector.rados_bridge import bridge_for
from collector.source import ReportTracker

__all__ = [
    "CLIENTS",
    "DEFAULT_CPU_SHARE",
    "MAX_READ_INTERVAL_S",
    "MGR_PREFIXES",
    "SHARE_SPLIT",
    "CephBackend",
    "CephCommandError",
    "CephSource",
    "CliBackend",
    "RadosBackend",
    "cli_argv",
    "open_backends",
    "process_cpu_seconds",
]

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
# Reads the mgr module asks for (collector/mgr_notify.py) are counted, never held back: they come
# at the pace the monitors commit maps, and while they do the checks above do not run.
READ_KINDS = (*SHARE_SPLIT, "notified")



class CephSource(Polling):
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
        mgr_notify: Sequence[str] | None = None,
    ) -> None:
        """`client`: "auto" (librados, else librados through the `ceph` CLI's interpreter, else
        the CLI), or one of "librados", "bridge", "cli" only (the CLI still serves commands the
        chosen one fails). `cpu_share`: of one core, for the steady reads (pacing.py).
        `log_dir`: where this host's Ceph logs are (default: per the conf's `log file`).
        `mgr_notify`: where the calamari_notify mgr module may listen (`HOST[:PORT]`, tried in
        turn; docs/mgr-module.md); None or empty: version checks only.
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
        self.pacers["notified"] = CpuPacer(1.0)  # measures only: never consulted
        self.fetched_by: dict[str, str] = {}  # sync object -> "check", "poll" or "notified"
        self._cause = "poll"
        self._notifier: MgrNotifyListener | None = None
        self._mgr_get_off = -1  # the channel connection on which the mgr failed to hand over a map
        self.maps_from_mgr = 0  # announced maps the mgr handed over (the others were read from the monitors)
        self.maps_pushed = 0  # announced maps taken as the module sent them
        self._pushed_off = -1  # the channel connection on which a sent map was not usable
        self._push_key_read: tuple[int, bytes] = (-1, b"")  # (connection, the module's key)
        self._push_key_tried = -1  # the connection on which the key was last read ahead of a map
        if mgr_notify:
            self._notifier = MgrNotifyListener([parse_endpoint(text) for text in mgr_notify], self.fsid)
            self._notifier.start()
        self._failing: set[str] = set()  # backends whose last call raised (logged once)
        self.backend_used: dict[str, int] = {backend.name: 0 for backend in self._backends}
        self.reads: dict[str, int] = {kind: 0 for kind in READ_KINDS}  # paced reads that ran

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

    @property
    def notify_counters(self) -> dict[str, int]:
        """The mgr module channel's counters (connections, notifications, malformed lines, ...)."""
        return dict(self._notifier.counters) if self._notifier is not None else {}

    def close(self) -> None:
        if self._notifier is not None:
            self._notifier.close()
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
