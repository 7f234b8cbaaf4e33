"""A real Ceph cluster as a collector source: librados (`mon_command` / `mgr_command` with JSON
commands), with the `ceph` CLI (argv list, never a shell) when librados is unavailable or fails.

Cheap version stamps (`status`, `pg dump summary`) are read on every poll; a map is fetched only
when its version changed. PGs are reduced to counts here and never sent one by one.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import tempfile
import time
from typing import Any

from collector import host as host_info
from collector.ceph_shapes import cluster_points, content_hash, host_services, pg_summary_from_dumps
from collector.crush_compile import CrushCompileError, compile_crush_text
from collector.logs import HostLogs, LogDirectory, default_log_dir
from collector.source import ReportTracker

log = logging.getLogger("calamari.collector.ceph")

# Commands the mgr serves in Ceph 16 (the mon forwards them too, at the cost of a hop).
MGR_PREFIXES = frozenset({"pg dump", "osd perf", "osd pool stats", "osd df", "pg stat"})


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
        use_rados: bool = True,
        log_dir: str | None = None,
    ) -> None:
        """`log_dir`: where this host's Ceph logs are (default: per the conf's `log file`)."""
        self.conffile = conffile
        self.log_directory = LogDirectory(log_dir or default_log_dir(conffile))
        self._cli: CliBackend | None = None
        self._rados: RadosBackend | None = None
        if use_rados:
            try:
                self._rados = RadosBackend(conffile, keyring, name, timeout)
            except Exception as exc:
                log.warning("librados unavailable (%s); using the ceph CLI", exc)
        try:
            self._cli = CliBackend(conffile, keyring, name, timeout)
        except RuntimeError:
            if self._rados is None:
                raise
        self.fsid: str | None = self._rados.fsid() if self._rados else self._cli.fsid()  # type: ignore[union-attr]
        self.hostname = host_info.hostname()
        self.refresh = {"health": health_refresh_s, "df": df_refresh_s, "config": config_refresh_s,
                        "osd_metadata": metadata_refresh_s}
        self._current: dict[str, tuple[Any, Any]] = {}
        self._reports = ReportTracker()
        self._fetched_at: dict[str, float] = {}
        self._stamps: dict[str, Any] = {}
        self._status: dict[str, Any] | None = None
        self._host_counters = host_info.HostCounters(self.hostname)
        self.backend_used: dict[str, int] = {"rados": 0, "cli": 0}

    # -- commands -------------------------------------------------------------------------------
    def _raw(self, prefix: str, args: dict[str, Any], target: str, inbuf: bytes = b"") -> tuple[int, bytes, str]:
        if self._rados is not None:
            try:
                result = self._rados.command(prefix, args, target, inbuf)
                self.backend_used["rados"] += 1
                return result
            except Exception as exc:  # rados.Error, TimeoutError...
                if self._cli is None:
                    raise
                log.warning("librados %s failed (%s); trying the ceph CLI", prefix, exc)
        assert self._cli is not None
        self.backend_used["cli"] += 1
        return self._cli.command(prefix, args, target, inbuf)

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
        rc, out, err = self._raw(prefix, arguments, "mgr" if target == "mgr" else "mon", inbuf)
        text = out.decode("utf-8", "replace") if isinstance(out, bytes) else str(out)
        try:
            output: Any = json.loads(text) if text.strip() else ""
        except ValueError:
            output = text
        return rc, output, err

    # -- polling --------------------------------------------------------------------------------
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

    def poll(self) -> dict[str, tuple[Any, Any]]:
        now = time.monotonic()
        status = self.query("status")
        self._status = status
        summary_dump = self.query("pg dump", dumpcontents=["summary"])
        # The PG map's version lives in the active mgr and starts again after a failover; led by
        # the mgr map's epoch (which only grows) it still moves forward for the server.
        pg_generation = self._mgr_epoch() << 32
        stamps = {
            "osd_map": status["osdmap"]["epoch"],
            "mon_map": status["monmap"]["epoch"],
            "mon_status": (status["election_epoch"], tuple(status.get("quorum", []))),
            "fs_map": status["fsmap"]["epoch"],
            "health": content_hash(status["health"]),
            "pg": pg_generation + int(summary_dump["pg_map"]["version"]),
        }
        previous, self._stamps = self._stamps, stamps

        def changed(key: str) -> bool:
            return previous.get(key) != stamps[key]

        if changed("osd_map"):
            osd_map = self.query("osd dump")
            self._store("osd_map", int(osd_map["epoch"]), osd_map, now)
            crush_version = int(osd_map.get("crush_version", 0))
            if self._current.get("crush_map", (None,))[0] != crush_version:
                self._store("crush_map", crush_version, self.query("osd crush dump"), now)
            self._fetched_at.pop("osd_metadata", None)  # daemons may have restarted
        if changed("mon_map"):
            mon_map = self.query("mon dump")
            self._store("mon_map", int(mon_map["epoch"]), mon_map, now)
        if changed("mon_status"):
            quorum = self.query("quorum_status")
            self._store("mon_status", int(quorum["election_epoch"]), quorum, now)
        if changed("fs_map"):
            fs_map = self.query("fs dump")
            self._store("fs_map", int(fs_map["epoch"]), fs_map, now)
        if changed("health") or self._due("health", now):
            health = self.query("health", detail="detail")
            self._store("health", content_hash(health), health, now)
        if changed("pg"):
            brief = self.query("pg dump", dumpcontents=["pgs_brief"])
            summary = pg_summary_from_dumps(summary_dump, brief, status)
            self._store("pg_summary", stamps["pg"], summary, now)
        if (changed("pg") and self._due("df", now)) or "df" not in self._current:
            self._store("df", int(stamps["pg"]), self.query("df", detail="detail"), now)
        if self._due("config", now):
            config = self.query("config dump")
            self._store("config", content_hash(config), config, now)
        if self._due("osd_metadata", now):
            metadata = self.query("osd metadata")
            self._store("osd_metadata", content_hash(metadata), metadata, now)
        return self._reports.changed(self._current)

    def current(self, name: str) -> tuple[Any, Any] | None:
        return self._current.get(name)

    def cluster_log(self) -> list[dict[str, Any]]:
        entries = self.query("log last", num=100, channel="cluster") or []
        return self._reports.new_log_entries(entries)

    def reporting_hosts(self) -> list[str]:
        return [self.hostname]

    def host_logs(self, host: str) -> HostLogs | None:
        return self.log_directory if host in (self.hostname, host_info.fqdn()) else None

    def server_facts(self) -> list[tuple[str, dict[str, Any]]]:
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
        if self._rados is not None:
            self._rados.close()
            self._rados = None
