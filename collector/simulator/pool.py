"""A simulated pool: its settings, its PGs and its IO counters; the answer to a pool name that
names none."""

from __future__ import annotations

from array import array
from dataclasses import dataclass
from typing import Any

from collector.simulator.ceph import ENOENT, OBJECT_BYTES, Reply


@dataclass
class SimPool:
    pool_id: int
    name: str
    pg_num: int
    size: int
    min_size: int
    erasure: bool
    crush_rule: int
    create_time: str
    last_change: int
    pg_indexes: array  # global PG indexes, position = placement seed (ps)
    erasure_code_profile: str = ""
    quota_max_bytes: int = 0
    quota_max_objects: int = 0
    pg_autoscale_mode: str = "on"
    hashpspool: bool = True
    application: str = "rbd"
    stored_bytes: float = 0.0
    write_rate: float = 0.0
    num_read: int = 0
    num_write: int = 0
    num_read_kb: int = 0
    num_write_kb: int = 0
    read_bytes_sec: int = 0
    write_bytes_sec: int = 0
    read_op_per_sec: int = 0
    write_op_per_sec: int = 0

    @property
    def objects(self) -> int:
        return int(self.stored_bytes) // OBJECT_BYTES


def no_such_pool(name: Any) -> Reply:
    """Ceph's answer to a command naming a pool that does not exist."""
    return -ENOENT, "", f"unrecognized pool '{name}'"
