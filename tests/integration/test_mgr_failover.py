"""The PG map's version lives in the active mgr and starts again when the mgr restarts or fails
over: the collector's pg_summary version must still move forward, or the server would ignore
every PG summary until the old number came round again."""

from __future__ import annotations

import pytest

from calamari.testing.live import DevCluster, wait_for
from collector.ceph_source import CephSource

pytestmark = pytest.mark.integration


def pg_summary_version(source: CephSource) -> int:
    return int(wait_for(lambda: source.poll().get("pg_summary", (None,))[0] or source.current("pg_summary")[0],
                        60, "a PG summary"))


def test_pg_summary_version_moves_forward_across_a_mgr_restart(ceph_cluster) -> None:
    cluster = DevCluster(ceph_cluster["dir"])
    # One client before the restart and a new one after it: a librados client held across the
    # mgr's restart crashed inside librados's own threads (SIGSEGV/SIGABRT in its mgr client) on a
    # heavily loaded machine, taking the test process with it. What is checked here is the
    # version's numbering, which does not depend on the connection.
    source = CephSource(cluster.conf, timeout=10)
    try:
        before = pg_summary_version(source)
    finally:
        source.close()
    mgr_epoch = int(cluster.ceph("mgr", "stat")["epoch"])
    assert before >> 32 == mgr_epoch  # the generation is the mgr map's epoch
    cluster.stop_daemon("mgr.x")
    cluster.start_daemon("mgr.x")
    wait_for(lambda: cluster.ceph("mgr", "stat").get("available") is True, 90, "the mgr to be active again")
    source = CephSource(cluster.conf, timeout=10)
    try:
        after = wait_for(lambda: (lambda v: v if v > before else None)(
            (source.poll().get("pg_summary") or source.current("pg_summary"))[0]), 90,
            "a PG summary from the restarted mgr")
        assert after > before
        assert after >> 32 > before >> 32
    finally:
        source.close()
