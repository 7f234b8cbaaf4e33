"""The monitors: the mon map (who the monitors are) and the mon status (who is in quorum)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from calamari.domain.cluster import Cluster
from calamari.domain.ingest import Change
from calamari.domain.maps import InvalidMap, MonMap, MonStatus, validate
from calamari.domain.model_state import ModelState


def ingest_mon_map(model: ModelState, fsid: str, epoch: int, data: Any, at: datetime) -> Change:
    monmap = validate("mon_map", MonMap, data)

    def change(cluster: Cluster) -> None:
        mons = [{"name": m.name, "rank": m.rank, "addr": m.public_addr or m.addr}
                for m in sorted(monmap.mons, key=lambda m: m.rank)]
        if mons != cluster.mons:
            model.emit(cluster, Cluster.MonMapChanged, at, epoch=epoch, mons=mons)

    return change


def ingest_mon_status(model: ModelState, fsid: str, election_epoch: int, data: Any, at: datetime) -> Change:
    status = validate("mon_status", MonStatus, data)
    names = {m.rank: m.name for m in status.monmap.mons}
    unknown = [r for r in status.quorum if r not in names]
    if unknown:
        raise InvalidMap("mon_status", "quorum", f"ranks {unknown} are not in the monmap")

    def change(cluster: Cluster) -> None:
        quorum = sorted(names[r] for r in status.quorum)
        if quorum != cluster.quorum:
            old = set(cluster.quorum)
            model.emit(cluster, Cluster.MonQuorumChanged, at, election_epoch=election_epoch,
                       quorum=quorum, joined=sorted(set(quorum) - old), left=sorted(old - set(quorum)))

    return change
