"""One real Ceph cluster per test session (scripts/ceph-dev-cluster.sh in a temporary directory)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "ceph-dev-cluster.sh"
# the recording sink of the unit tests is shared with these tests
sys.path.insert(0, str(REPO / "tests" / "unit"))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def ceph_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A running 3-OSD memstore cluster: {"conf", "dir", "notify_port"}. Stopped at the end of the session."""
    yield from run_ceph_cluster(tmp_path_factory)


@pytest.fixture(scope="module")
def own_ceph_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A cluster of the module's own, for tests that stop OSD daemons: a memstore OSD comes back
    empty, and the PGs it led in the one-copy pools stay unclean, which later tests (a scrub) need."""
    yield from run_ceph_cluster(tmp_path_factory)


def run_ceph_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    missing = [tool for tool in ("ceph-mon", "ceph-osd", "ceph-mgr", "ceph") if shutil.which(tool) is None]
    if missing and os.environ.get("CALAMARI_REQUIRE_CEPH") == "1":
        pytest.fail(f"CALAMARI_REQUIRE_CEPH=1 but {', '.join(missing)} not found")
    if missing:
        pytest.skip(f"Ceph is not installed (missing {', '.join(missing)}); the real-cluster tests need "
                    "Debian's ceph-mon ceph-osd ceph-mgr ceph-common")
    cluster_dir = tmp_path_factory.mktemp("ceph")
    notify_port = _free_port()  # the calamari_notify mgr module, loaded and enabled (docs/mgr-module.md)
    env = dict(os.environ, CLUSTER_DIR=str(cluster_dir), MON_PORT=str(_free_port()), OSDS="3", HOSTS="1",
               CALAMARI_NOTIFY_PORT=str(notify_port))
    env.pop("CEPH_CONF", None)
    try:
        subprocess.run(["bash", str(SCRIPT), "up"], env=env, check=True, timeout=180,
                       capture_output=True)
    except subprocess.CalledProcessError as exc:
        subprocess.run(["bash", str(SCRIPT), "down"], env=env, check=False, timeout=60)
        pytest.fail(f"the test cluster did not start: {exc.stderr.decode(errors='replace')[-2000:]}")
    try:
        yield {"conf": str(cluster_dir / "ceph.conf"), "dir": str(cluster_dir), "notify_port": str(notify_port)}
    finally:
        subprocess.run(["bash", str(SCRIPT), "down"], env=env, check=False, timeout=60)
