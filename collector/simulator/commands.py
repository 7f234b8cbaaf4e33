"""Which function of the simulator runs a Ceph command, and how a bad one is answered: every
command the simulator knows, the ones that change the cluster and the read-only ones."""

from __future__ import annotations

from typing import Any

from collector.simulator.ceph import EINVAL, Reply
from collector.simulator.cluster_reads import CLUSTER_READS
from collector.simulator.crush_commands import CRUSH_COMMANDS
from collector.simulator.osd_commands import OSD_COMMANDS
from collector.simulator.osd_reads import OSD_READS
from collector.simulator.pg_reads import PG_READS
from collector.simulator.pool_commands import POOL_COMMANDS
from collector.simulator.pool_reads import POOL_READS
from collector.simulator.set_crush_map import set_crush_map
from collector.simulator.state import ClusterState, Handler

WRITE_COMMANDS: dict[str, Handler] = {**POOL_COMMANDS, **CRUSH_COMMANDS, **OSD_COMMANDS}
READ_COMMANDS: dict[str, Handler] = {**CLUSTER_READS, **OSD_READS, **POOL_READS, **PG_READS}


def run_command(state: ClusterState, prefix: str, args: dict[str, Any], input_text: str | None) -> Reply:
    """Run a Ceph command the way the mon/mgr would; `input_text` is the command's input data (for
    `osd setcrushmap`, the map's text, which the simulator reads instead of crushtool's binary)."""
    if prefix == "osd setcrushmap":
        return set_crush_map(state, args, input_text)
    handler = WRITE_COMMANDS.get(prefix) or READ_COMMANDS.get(prefix)
    if handler is None:
        return -EINVAL, "", f"unrecognized command: {prefix!r}"
    try:
        return handler(state, args)
    except (KeyError, ValueError, TypeError) as exc:
        return -EINVAL, "", f"invalid command arguments: {exc}"
