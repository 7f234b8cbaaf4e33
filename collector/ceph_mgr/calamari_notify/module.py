"""The MgrModule: hands ceph-mgr's map notifications to the NotifyServer and runs it while the
module is active (only the active mgr serves; a standby's module does not run, so after a failover
the new active one listens and collectors reconnect to it)."""

import functools
import json
import secrets
import threading
import time
from typing import Any

from mgr_module import CLIReadCommand, HandleCommandResult, MgrModule, NotifyType, Option

from .server import NotifyServer
from .wire import DEFAULT_PORT, MAP_DUMPS, MAP_TYPES, MAX_PUSH_BYTES, PUSH_KEY_NAME, data_line

RETRY_BIND_S = 5.0
# A map found too large to send is announced only, and not dumped again for this long: dumping a
# large map costs the mgr for nothing.
TOO_LARGE_RETRY_S = 300.0


class Module(MgrModule):
    MODULE_OPTIONS = [
        Option(name="server_addr", type="str", default="127.0.0.1",
               desc="address the collector connects to (loopback unless the collector runs on another host)"),
        Option(name="server_port", type="int", default=DEFAULT_PORT, min=1, max=65535,
               desc="TCP port of the notification channel"),
    ]
    NOTIFY_TYPES = [NotifyType(kind) for kind in MAP_TYPES]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._shutting_down = threading.Event()
        self._server: NotifyServer | None = None
        self._listen_error: str | None = None
        self._too_large_until: dict[str, float] = {}

    def notify(self, notify_type: Any, notify_id: str) -> None:
        server = self._server
        if server is not None:
            server.notify(getattr(notify_type, "value", notify_type))

    def config_notify(self) -> None:
        server = self._server
        if server is not None:
            server.stop()  # serve() binds again with the new options

    def serve(self) -> None:
        while not self._shutting_down.is_set():
            addr = str(self.get_module_option("server_addr") or "127.0.0.1")
            port = int(self.get_module_option("server_port") or DEFAULT_PORT)
            fsid = self.get("mon_map")["fsid"]
            key = self._push_key()
            server = NotifyServer(fsid, self.get_mgr_id(), self.log,
                                  dump=functools.partial(self._data_line, key, fsid), dumps=self._dumps)
            self._server = server
            try:
                server.serve(addr, port)
                self._listen_error = None
            except OSError as exc:
                self._listen_error = f"{addr}:{port}: {exc}"
                self.log.error("calamari_notify cannot listen on %s:%s (%s); retrying in %.0f s",
                               addr, port, exc, RETRY_BIND_S)
                self._shutting_down.wait(RETRY_BIND_S)
            finally:
                self._server = None

    def _push_key(self) -> bytes:
        """The key that signs the maps sent: made once, kept in the module's store, where a
        collector reads it through cephx (`config-key get mgr/calamari_notify/push_key`)."""
        key = self.get_store(PUSH_KEY_NAME)
        if not key:
            key = secrets.token_hex(32)
            self.set_store(PUSH_KEY_NAME, key)
        return str(key).encode("ascii")

    def _dumps(self, kind: str) -> bool:
        """Whether `_data_line` dumps the map of `kind` now (not while it was found too large)."""
        return self._too_large_until.get(kind, 0.0) <= time.monotonic()

    def _data_line(self, key: bytes, fsid: str, kind: str) -> bytes | None:
        """The map of `kind` as the mgr holds it, signed, for the channel; None when too large."""
        if not self._dumps(kind):
            return None
        now = time.monotonic()
        payload = json.dumps(self.get(kind), separators=(",", ":")).encode("ascii")
        if len(payload) > MAX_PUSH_BYTES:
            self._too_large_until[kind] = now + TOO_LARGE_RETRY_S
            return None
        return data_line(key, fsid, kind, payload)

    def shutdown(self) -> None:
        self._shutting_down.set()
        server = self._server
        if server is not None:
            server.stop()
        super().shutdown()

    @CLIReadCommand("calamari_notify status")
    def status(self) -> HandleCommandResult:
        """Where the channel listens, its clients and its counters"""
        server = self._server
        report = {
            "listening": list(server.address) if server is not None and server.address else None,
            "clients": server.clients() if server is not None else 0,
            "counters": dict(server.counters) if server is not None else {},
            "error": self._listen_error,
        }
        return HandleCommandResult(stdout=json.dumps(report))

    @CLIReadCommand("calamari_notify get")
    def get_map(self, kind: str) -> HandleCommandResult:
        """A map as this mgr holds it, in the JSON of the monitors' dump of it"""
        if kind not in MAP_DUMPS:
            return HandleCommandResult(retval=-22, stderr=f"not one of {', '.join(MAP_DUMPS)}: {kind}")
        return HandleCommandResult(stdout=json.dumps(self.get(kind)))
