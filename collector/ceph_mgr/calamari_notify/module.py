"""The MgrModule: hands ceph-mgr's map notifications to the NotifyServer and runs it while the
module is active (only the active mgr serves; a standby's module does not run, so after a failover
the new active one listens and collectors reconnect to it)."""

import json
import threading
from typing import Any

from mgr_module import CLIReadCommand, HandleCommandResult, MgrModule, NotifyType, Option

from .server import NotifyServer
from .wire import DEFAULT_PORT, MAP_DUMPS, MAP_TYPES

RETRY_BIND_S = 5.0


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
            server = NotifyServer(self.get("mon_map")["fsid"], self.get_mgr_id(), self.log)
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
