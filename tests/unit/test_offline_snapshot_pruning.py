"""`calamari-ctl snapshot` with the server stopped does not know the server's --history-snapshots:
it must not prune the history snapshots the server was told to keep."""

from calamari.adapters import snapshots
from calamari.domain.model import ClusterModel
from calamari.service import ctl
from calamari.service.model import ServiceConfig


def test_an_offline_snapshot_keeps_every_history_snapshot(tmp_path, monkeypatch):
    monkeypatch.setattr(snapshots, "HISTORY_SPACING", 10)
    config = ServiceConfig(data_dir=str(tmp_path))
    # as a server run with --history-snapshots 220 left them: 220 older spans and the newest three
    for position in range(10, 2240, 10):
        snapshots.write_snapshot(config.snapshot_dir, position, ClusterModel(), history_keep=220)
    before = len(snapshots._snapshots(config.snapshot_dir))
    assert before > snapshots.HISTORY_KEEP + snapshots.KEEP
    assert ctl.main(["--data-dir", str(tmp_path), "snapshot"]) == 0
    assert len(snapshots._snapshots(config.snapshot_dir)) >= before
