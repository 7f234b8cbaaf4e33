"""What goes over the channel between the calamari_notify mgr module and the collector: text
lines, server to collector only (the module reads nothing a client sends but its hang-up).

    calamari_notify 1 <fsid> <mgr name>   the greeting, first line of every connection
    map <notify type>                     the mgr has a new map of that kind (coalesced)
    coming <kind>                         the same, said before the map is dumped: a `data` line
                                          of that kind follows (unless the dump fails); sent
                                          only to a client with nothing else waiting to be sent
    data <kind> <mac> <JSON>              the same, with the map itself (kinds of MAP_DUMPS, when
                                          its JSON is at most MAX_PUSH_BYTES): the mgr's dump of
                                          it, signed (data_mac) with the module's key
    tick                                  nothing new; sent every KEEPALIVE_S, so that a silent
                                          channel (a hung or stopped mgr) is noticed

No secrets travel on it. A client learns the fsid, that a map changed and, for the small maps,
their contents, which it takes only when signed with the key it reads from Ceph (the module's
store, `config-key get mgr/calamari_notify/push_key`, through cephx): something else on the port
cannot make the collector take a map of its own. Shared by the module (system python3, standard
library) and the collector."""

import hashlib
import hmac

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
# A map sent with its announcement: the JSON at most this long (a 100-OSD map is ~90-130 KB); a larger
# one is announced only, and the collector reads it from the mgr. Bounds the module's memory per
# slow client and the collector's per line.
MAX_PUSH_BYTES = 1 << 20
MAX_DATA_LINE = MAX_PUSH_BYTES + 128  # "data <kind> <mac> " + the JSON
# Where the module keeps the key that signs the maps it sends (its store; config-key for a client).
PUSH_KEY_NAME = "push_key"
PUSH_KEY_CONFIG_KEY = "mgr/calamari_notify/push_key"
DEFAULT_PORT = 9287


def greeting(fsid: str, mgr_name: str) -> bytes:
    return f"{GREETING} {VERSION} {fsid} {mgr_name}\n".encode("ascii", "replace")


def map_line(notify_type: str) -> bytes:
    return f"map {notify_type}\n".encode("ascii")


def coming_line(kind: str) -> bytes:
    return f"coming {kind}\n".encode("ascii")


TICK = b"tick\n"


def data_mac(key: bytes, fsid: str, kind: str, payload: bytes) -> str:
    """The signature of a map sent on the channel: HMAC-SHA256 over the cluster, the kind and the
    JSON, so that a map signed for one cluster or kind is not taken for another."""
    return hmac.new(key, f"{fsid} {kind} ".encode("ascii") + payload, hashlib.sha256).hexdigest()


def data_line(key: bytes, fsid: str, kind: str, payload: bytes) -> bytes:
    """`data <kind> <mac> <JSON>`; `payload` is one line of JSON (json.dumps escapes newlines)."""
    return f"data {kind} {data_mac(key, fsid, kind, payload)} ".encode("ascii") + payload + b"\n"
