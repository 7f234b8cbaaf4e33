"""Recorded Ceph captures (a folder per step, files named like `ceph ... -f json` commands:
osd_dump.json, health_detail.json, ...) as the sync objects a collector sends: the collector's
own replay conversion, so tests see exactly what `calamari-collector --replay` would send."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from collector.ceph_shapes import content_hash
from collector.replay import sync_objects_of_step

SyncObject = tuple[str, int | str, Any]

# The order a person reads a step in: host facts first, then the maps that refer to them.
ORDER = ("osd_metadata", "osd_map", "crush_map", "health", "mon_map", "mon_status", "fs_map", "config",
         "pg_summary", "df")

__all__ = ["capture_steps", "captured_at", "content_hash", "sync_objects"]


def captured_at(step_dir: str) -> datetime:
    path = os.path.join(step_dir, "captured_at")
    if os.path.exists(path):
        with open(path) as f:
            return datetime.fromisoformat(f.read().strip().replace("Z", "+00:00"))
    return datetime.fromtimestamp(os.path.getmtime(step_dir), tz=UTC)


def sync_objects(step_dir: str) -> tuple[str, list[SyncObject]]:
    """The fsid and the sync objects of one capture step."""
    objects = sync_objects_of_step(Path(step_dir))
    fsid = objects["osd_map"][1]["fsid"]
    names = [n for n in ORDER if n in objects] + sorted(n for n in objects if n not in ORDER)
    return fsid, [(name, *objects[name]) for name in names]


def capture_steps(root: str) -> list[str]:
    return [os.path.join(root, d) for d in sorted(os.listdir(root)) if os.path.isdir(os.path.join(root, d))]
