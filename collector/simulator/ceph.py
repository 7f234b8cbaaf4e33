"""What the simulated cluster shares with a real Ceph 16.2 one, for every part of the simulator:
its version, features, sizes, OSD map flag bits, errno values, PG state names and formats."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

SIM_DOMAIN = "ceph.example"  # the simulated hosts' fqdns are <host>.ceph.example
DEVICE_CRUSH_WEIGHT = 4.0  # every simulated device is a 4 TiB disk
CEPH_VERSION = "ceph version 16.2.15 (618f440892089921c3e944a991122ddc44e60516) pacific (stable)"
CEPH_VERSION_SHORT = "16.2.15"
OSD_FEATURES = 4540138314316775423
OSD_BYTES = 4 * 1024**4  # every simulated OSD is a 4 TiB disk
OBJECT_BYTES = 4 * 1024**2
NO_OSD = -1
ITEM_NONE = 2147483647  # CRUSH_ITEM_NONE: a missing shard of an erasure-coded PG

# CEPH_OSDMAP_* flag bits, as `flags_num` reports them
OSDMAP_FLAG_BITS = {
    "pauserd": 1 << 2,
    "pausewr": 1 << 3,
    "pauserec": 1 << 4,
    "noup": 1 << 5,
    "nodown": 1 << 6,
    "noout": 1 << 7,
    "noin": 1 << 8,
    "nobackfill": 1 << 9,
    "norecover": 1 << 10,
    "noscrub": 1 << 11,
    "nodeep-scrub": 1 << 12,
    "notieragent": 1 << 13,
    "norebalance": 1 << 14,
    "sortbitwise": 1 << 15,
    "recovery_deletes": 1 << 19,
    "purged_snapdirs": 1 << 20,
    "nosnaptrim": 1 << 21,
    "pglog_hardlimit": 1 << 22,
}
SETTABLE_FLAGS = frozenset(
    {"pause", "noup", "nodown", "noout", "noin", "nobackfill", "norecover", "noscrub",
     "nodeep-scrub", "notieragent", "norebalance", "nosnaptrim"}
)
DEFAULT_FLAGS = ("sortbitwise", "recovery_deletes", "purged_snapdirs", "pglog_hardlimit")

EINVAL, ENOENT, EPERM, EEXIST, EBUSY, ENOTDIR, ENOTEMPTY, EACCES = 22, 2, 1, 17, 16, 20, 39, 13

STATE_CLEAN = "active+clean"
STATE_UNDERSIZED = "active+undersized+degraded"
STATE_PEERED = "undersized+degraded+peered"
STATE_STALE = "stale+active+clean"
STATE_RECOVERING = "active+recovering+degraded"
STATE_BACKFILL = "active+remapped+backfill_wait"
STATE_SCRUBBING = "active+clean+scrubbing"
STATE_DEEP_SCRUBBING = "active+clean+scrubbing+deep"
STATE_REPAIR = "active+clean+scrubbing+deep+repair"
STATE_CREATING = "creating+peering"
STATE_DELETED = "(deleted)"  # tombstone of a PG whose pool is gone; never counted

# What a Ceph command answers: (return code, output, status text)
Reply = tuple[int, Any, str]


def ceph_stamp(ts: float) -> str:
    """Ceph's time format: 2026-11-24T15:44:20.160379+0000."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+0000")


def host_address(host_index: int) -> str:
    """The public (front-end) address of a simulated host."""
    return f"10.{host_index // 250}.{host_index % 250}.10"


def json_number(value: float) -> int | float:
    """A float as Ceph's JSON writer prints it: integral ones without a fraction."""
    return int(value) if float(value).is_integer() else value


def addrvec_string(addrs: dict[str, Any]) -> str:
    return "[" + ",".join(f"{a['type']}:{a['addr']}/{a['nonce']}" for a in addrs["addrvec"]) + "]"
