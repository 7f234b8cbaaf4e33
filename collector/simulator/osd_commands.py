"""The OSD and PG commands of the simulated cluster: `osd in|out|down|reweight`, `osd set|unset`
of the map flags, and scrubs (`osd|pg scrub|deep-scrub|repair`)."""

from __future__ import annotations

from functools import partial
from typing import Any

from collector.simulator.ceph import (
    EINVAL,
    ENOENT,
    SETTABLE_FLAGS,
    STATE_BACKFILL,
    STATE_DEEP_SCRUBBING,
    STATE_REPAIR,
    STATE_SCRUBBING,
    Reply,
    ceph_stamp,
)
from collector.simulator.state import ClusterState, Handler


def _osd_ids(state: ClusterState, args: dict[str, Any]) -> list[int]:
    """The existing OSDs `ids` (or `id`) names, as numbers or osd.N; ValueError for any other."""
    raw = args.get("ids", args.get("id"))
    if raw is None:
        raise ValueError("ids is required")
    items = raw if isinstance(raw, list) else [raw]
    ids = []
    for item in items:
        text = str(item)
        text = text[4:] if text.startswith("osd.") else text
        osd_id = int(text)
        if not 0 <= osd_id < len(state.osd_up) or not state.osd_exists[osd_id]:
            raise ValueError(f"osd.{osd_id} does not exist")
        ids.append(osd_id)
    return ids


def osd_out(state: ClusterState, args: dict[str, Any]) -> Reply:
    return _set_in(state, args, 0)


def osd_in(state: ClusterState, args: dict[str, Any]) -> Reply:
    return _set_in(state, args, 1)


def _set_in(state: ClusterState, args: dict[str, Any], value: int) -> Reply:
    """`osd in` / `osd out`: the PGs of each changed OSD backfill for a few ticks."""
    changed = []
    for osd_id in _osd_ids(state, args):
        if state.osd_in[osd_id] != value:
            state.osd_in[osd_id] = value
            state.osd_entries[osd_id] = None
            changed.append(osd_id)
            for index in state.pgs.osd_pgs[osd_id]:
                state.pgs.refresh(index, STATE_BACKFILL, 3)
    if changed:
        state.last_in_change = ceph_stamp(state.clock())
        state.bump_epoch()
    word = "in" if value else "out"
    return 0, "", "".join(f"marked {word} osd.{i}. " for i in changed)


def osd_down(state: ClusterState, args: dict[str, Any]) -> Reply:
    changed = []
    for osd_id in _osd_ids(state, args):
        if state.osd_up[osd_id]:
            state.mark_down(osd_id, "marked down by an operator")
            # a healthy daemon that is marked down reasserts itself shortly after
            state.osd_down_until[osd_id] = state.tick_count + 3
            changed.append(osd_id)
    if changed:
        state.bump_epoch()
    return 0, "", "".join(f"marked down osd.{i}. " for i in changed)


def osd_reweight(state: ClusterState, args: dict[str, Any]) -> Reply:
    (osd_id,) = _osd_ids(state, {"ids": [args["id"]]})
    weight = float(args["weight"])
    if not 0.0 <= weight <= 1.0:
        return -EINVAL, "", f"weight {weight} must be in the range [0..1]"
    state.osd_weight[osd_id] = weight
    state.osd_entries[osd_id] = None
    state.bump_epoch()
    return 0, "", f"reweighted osd.{osd_id} to {weight} ({int(weight * 0x10000):x})"


def _flag(state: ClusterState, args: dict[str, Any], setting: bool) -> Reply:
    key = args["key"]
    if key not in SETTABLE_FLAGS:
        return -EINVAL, "", f"unrecognized flag '{key}'"
    flags = {"pauserd", "pausewr"} if key == "pause" else {key}
    if setting:
        state.flags |= flags
    else:
        state.flags -= flags
    state.bump_epoch()
    return 0, "", f"{key} is {'set' if setting else 'unset'}"


def _osd_scrub(state: ClusterState, args: dict[str, Any], pg_state: str, verb: str) -> Reply:
    who = str(args["who"])
    ids = list(range(len(state.osd_up))) if who in ("*", "all", "any") else _osd_ids(state, {"ids": [who]})
    for osd_id in ids:
        for index in state.pgs.osd_pgs[osd_id]:
            if state.pgs.primary(index) == osd_id:  # the primary scrubs
                state.pgs.refresh(index, pg_state, 2)
    state.pgs.version += 1
    return 0, "", f"instructed osd(s) {','.join(map(str, ids))} to {verb}"


def _pg_scrub(state: ClusterState, args: dict[str, Any], pg_state: str, verb: str) -> Reply:
    pgid = str(args["pgid"])
    pool_text, _, ps_text = pgid.partition(".")
    pool = state.pools.get(int(pool_text))
    ps = int(ps_text, 16)
    if pool is None or not 0 <= ps < len(pool.pg_indexes):
        return -ENOENT, "", f"pg {pgid} does not exist"
    index = pool.pg_indexes[ps]
    state.pgs.refresh(index, pg_state, 2)
    state.pgs.version += 1
    return 0, "", f"instructing pg {pgid} on osd.{state.pgs.primary(index)} to {verb}"


OSD_COMMANDS: dict[str, Handler] = {
    "osd out": osd_out,
    "osd in": osd_in,
    "osd down": osd_down,
    "osd reweight": osd_reweight,
    "osd set": partial(_flag, setting=True),
    "osd unset": partial(_flag, setting=False),
    "osd scrub": partial(_osd_scrub, pg_state=STATE_SCRUBBING, verb="scrub"),
    "osd deep-scrub": partial(_osd_scrub, pg_state=STATE_DEEP_SCRUBBING, verb="deep-scrub"),
    "osd repair": partial(_osd_scrub, pg_state=STATE_REPAIR, verb="repair"),
    "pg scrub": partial(_pg_scrub, pg_state=STATE_SCRUBBING, verb="scrub"),
    "pg deep-scrub": partial(_pg_scrub, pg_state=STATE_DEEP_SCRUBBING, verb="deep-scrub"),
    "pg repair": partial(_pg_scrub, pg_state=STATE_REPAIR, verb="repair"),
}
