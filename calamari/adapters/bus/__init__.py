"""The server end of the collector bus: a ZeroMQ ROUTER served by one thread.

By job: `transport` (the socket, its poll loop, sending), `admission` (CURVE, ZAP and which keys
may feed the model), `peers` (per-collector sessions and counters), `replies` (what the server
answers), `routing` (each message type to its sink call), `deltas` (sync objects rebuilt from
deltas), and `collector_bus` (CollectorBus, which puts them together for the service).
With CURVE (the default for real collectors) the ROUTER is a CurveZMQ server; without server
keys the bus is plain TCP (development and tests).
"""

from calamari.adapters.bus.admission import KEY_REJECT_REASONS, ZAP_DOMAIN, KeyGate
from calamari.adapters.bus.collector_bus import CollectorBus
from calamari.adapters.bus.peers import MAX_REJECT_WARNINGS, MAX_SESSIONS, CollectorSession
from calamari.adapters.bus.routing import CLOCK_TOLERANCE_S, StatsSink, event_time

__all__ = [
    "CLOCK_TOLERANCE_S",
    "KEY_REJECT_REASONS",
    "MAX_REJECT_WARNINGS",
    "MAX_SESSIONS",
    "ZAP_DOMAIN",
    "CollectorBus",
    "CollectorSession",
    "KeyGate",
    "StatsSink",
    "event_time",
]
