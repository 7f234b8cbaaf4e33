"""One step of the simulation: OSD flaps and their return, background scrubs, the end of
transient PG states, client IO and usage growth."""

from __future__ import annotations

from collector.simulator.state import ClusterState


def tick(state: ClusterState) -> None:
    state.tick_count += 1
    now = state.clock()
    changed_osds = False
    # OSDs that flapped earlier come back (unless the operator set noup)
    if "noup" not in state.flags:
        for osd_id, until in list(state.osd_down_until.items()):
            if until <= state.tick_count:
                del state.osd_down_until[osd_id]
                state.mark_up(osd_id)
                changed_osds = True
    churn = state.spec.churn
    if churn > 0 and "nodown" not in state.flags:
        rng = state.rng
        expected = churn * len(state.osd_up)
        flaps = int(expected) + (1 if rng.random() < expected - int(expected) else 0)
        for _ in range(flaps):
            osd_id = rng.randrange(len(state.osd_up))
            if state.osd_up[osd_id] and state.osd_exists[osd_id]:
                state.mark_down(osd_id, f"osd.{osd_id} reported failed by osd peers")
                state.osd_down_until[osd_id] = state.tick_count + 2 + rng.randrange(3)
                changed_osds = True
        # background scrubs, proportional to churn
        if "noscrub" not in state.flags and state.pgs.num_pgs:
            state.pgs.scrub_some(max(1, int(state.pgs.num_pgs * churn * 0.01)))
    state.pgs.end_transients()
    if changed_osds:
        state.bump_epoch()
    _grow_usage(state, now)
    state.pgs.version += 1


def _grow_usage(state: ClusterState, now: float) -> None:
    elapsed = max(0.0, now - state.io_stamp)
    state.io_stamp = now
    rng = state.rng
    for pool in state.pools.values():
        # rates wobble around the pool's base write rate; reads are a fraction of writes
        write_bps = int(pool.write_rate * (0.5 + rng.random()))
        read_bps = int(write_bps * rng.random() * 0.5)
        pool.write_bytes_sec = write_bps
        pool.read_bytes_sec = read_bps
        pool.write_op_per_sec = write_bps // (64 * 1024)
        pool.read_op_per_sec = read_bps // (64 * 1024)
        pool.stored_bytes += write_bps * elapsed * 0.1  # most writes overwrite
        pool.num_write += int(pool.write_op_per_sec * elapsed)
        pool.num_read += int(pool.read_op_per_sec * elapsed)
        pool.num_write_kb += int(write_bps * elapsed / 1024)
        pool.num_read_kb += int(read_bps * elapsed / 1024)
