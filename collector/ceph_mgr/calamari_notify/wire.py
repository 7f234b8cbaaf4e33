"""What goes over the channel between the calamari_notify mgr module and the collector: text
lines, server to collector only (the module reads nothing a client sends but its hang-up).

    calamari_notify 1 <fsid> <mgr name>   the greeting, first line of every connection
    map <notify type>                     the mgr has a new map of that kind (coalesced)
    tick                                  nothing new; sent every KEEPALIVE_S, so that a silent
                                          channel (a hung or stopped mgr) is noticed

No map contents and no secrets travel on it: a client learns the fsid and that a map changed.
Shared by the module (system python3, standard library) and the collector."""

GREETING = "calamari_notify"
VERSION = 1
# The kinds of notify() the collector acts on (what its version check watches); the others are not
# sent: pg_summary comes every mgr_stats_period and stays on the 1 s poll, clog and command are not maps.
MAP_TYPES = ("osd_map", "mon_map", "fs_map", "health")
# The maps the collector may read from the mgr that announced them (`calamari_notify get KIND`):
# those whose mgr dump is the monitors' own (`osd dump`, `fs dump`: the same C++ dump(); the
# monitors' `mon dump` adds the quorum, so the monitor map is read from them).
MAP_DUMPS = ("osd_map", "fs_map")
KEEPALIVE_S = 2.0
# A collector that heard nothing for this long takes the channel for dead and polls again.
SILENCE_S = 3 * KEEPALIVE_S
MAX_LINE = 256
DEFAULT_PORT = 9287


def greeting(fsid: str, mgr_name: str) -> bytes:
    return f"{GREETING} {VERSION} {fsid} {mgr_name}\n".encode("ascii", "replace")


def map_line(notify_type: str) -> bytes:
    return f"map {notify_type}\n".encode("ascii")


TICK = b"tick\n"
