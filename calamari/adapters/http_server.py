"""The API's HTTP server: waitress, with idle and slow clients bounded so that they cannot lock
legitimate clients out, and long-lived answers (the push stream) taken off the worker threads.

Plain waitress stops accepting at 100 open connections and closes an idle one only after 120 s
without a byte, so about 100 sockets that each send half a request (a byte now and then) stop the
API for everyone. Here:

- a request whose line, headers and body have not all arrived `request_timeout` seconds after its
  first byte (for a new connection: after it opened) is dropped, however slowly bytes keep coming;
- a connection with nothing in progress (between requests, or holding an answer its client does
  not read) is closed after `idle_timeout` seconds without progress;
- at `max_connections`, a new connection evicts the waiting one (idle, or still sending its
  request) that has waited longest, instead of being refused;
- a body larger than `max_body` is refused (413) as soon as its Content-Length is read, before it
  is received, and waitress's own error answers are JSON like the API's.

A connection whose request is being answered, or is queued for a worker thread, is never timed
out or evicted here. There can only be a bounded number of those: each holds a worker thread
(`threads`) or waits for one. The exception is a client that stops reading its answer while a
worker thread waits for it (more than waitress's outbuf_high_watermark unsent, nothing sent for
`idle_timeout`): it is closed, which frees the thread.

An answer that lasts (a push stream) must not hold a worker thread: the application takes it off
with `environ[HAND_OVER]` once its head is decided (see `PushedAnswer`). The worker thread then
returns; whoever holds the PushedAnswer appends to it from any thread without blocking, and this
server's I/O loop sends it. Pushed answers neither count towards `max_connections` nor are evicted
(the application bounds their number); one is closed once nothing of it could be sent for
`idle_timeout` (a client that stopped reading; its writer's keep-alives are progress), when the
client sends anything more, or when it hangs up.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from waitress.adjustments import Adjustments
from waitress.server import MultiSocketServer
from waitress.task import ThreadedTaskDispatcher

from calamari.adapters.http_connections import REPORT_EVERY_S, ConnectionLimits, GuardedChannel, GuardedServer, JsonErrorTask
from calamari.adapters.http_hand_over import AT_ONCE, HAND_OVER, HandOverTask, PushedAnswer, answered_at_once

__all__ = ["AT_ONCE", "HAND_OVER", "REPORT_EVERY_S", "ConnectionLimits", "GuardedChannel", "GuardedServer", "GuardedServers",
           "HandOverTask", "JsonErrorTask", "PushedAnswer", "create_http_server"]


def create_http_server(application: Callable[..., Any], host: str, port: int, threads: int,
                       limits: ConnectionLimits, at_once: Callable[[dict[str, Any]], Any] | None = None) -> Any:
    """A waitress server for `application` on every address `host` resolves to; run() serves
    until close(). `at_once(environ)`: a WSGI application answering that GET request without
    blocking, or None; called on the I/O loop for each request that arrives alone on its
    connection, whose answer it then sends with no worker thread (calamari.api.answers)."""
    if at_once is not None:
        application = answered_at_once(application)
    adj = Adjustments(host=host, port=port, threads=threads, connection_limit=limits.max_connections,
                      max_request_body_size=limits.max_body + 1,  # waitress refuses from this size on
                      asyncore_use_poll=True)
    sockets: dict[int, Any] = {}
    dispatcher = ThreadedTaskDispatcher()
    dispatcher.set_thread_count(adj.threads)
    servers = [GuardedServer(application, limits, at_once, map=sockets, dispatcher=dispatcher, adj=adj, sockinfo=info)
               for info in adj.listen]
    if len(servers) == 1:
        return servers[0]
    return GuardedServers(servers, sockets, adj, dispatcher)


class GuardedServers(MultiSocketServer):
    """Several listening sockets (a host name with IPv4 and IPv6 addresses) served by one loop."""

    def __init__(self, servers: list[GuardedServer], sockets: dict[int, Any], adj: Adjustments,
                 dispatcher: ThreadedTaskDispatcher) -> None:
        super().__init__(sockets, adj, [(s.effective_host, s.effective_port) for s in servers], dispatcher,
                         servers[0].log_info)
        self.servers = servers

    def run(self) -> None:
        for server in self.servers:
            server._looping = True
        try:
            super().run()
        finally:
            for server in self.servers:
                server._looping = False

    def close(self) -> None:
        for server in self.servers:
            server.close()
