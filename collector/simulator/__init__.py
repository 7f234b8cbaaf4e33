"""A deterministic synthetic Ceph 16.2 cluster, emitting the same JSON shapes as a real one.

Scale matters (10,000 OSDs, 1,000,000 PGs on a small machine): see `pgs` for how PG state is
kept. The modules, by job:

- `spec`: the simulation spec (`hosts=50,osds=1000,...`);
- `ceph`: what every part shares with a real Ceph (versions, flag bits, errno values, PG states);
- `state`, `pool`, `pgs`, `crush`, `cluster_log`: the cluster's state (hosts and OSDs, pools,
  the PG state machine, the CRUSH map, the cluster log) and the changes several parts make;
- `ticks`: what one tick changes;
- `osd_map`, `maps`, `host_reports`, `logs`: what the cluster reports (sync objects, host facts
  and stats, host log files);
- `commands` dispatches Ceph commands to `pool_commands`, `osd_commands`, `crush_commands`,
  `set_crush_map` (changes) and `cluster_reads`, `osd_reads`, `pool_reads`, `pg_reads` (reads);
- `cluster`: `SimulatedCluster`, the cluster source the collector agent polls.
"""

from collector.simulator.cluster import SimulatedCluster
from collector.simulator.spec import SimSpec

__all__ = ["SimSpec", "SimulatedCluster"]
