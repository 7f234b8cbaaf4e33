"""The cluster aggregate: cluster-wide state of one Ceph cluster (fsid): flags, health, monitors,
PG state counts, CRUSH, file systems, configuration, contact."""

from typing import Any

from eventsourcing.domain import Aggregate

from calamari.domain.base import CalamariAggregate


class Cluster(CalamariAggregate):
    class ClusterDiscovered(Aggregate.Created):
        fsid: str
        name: str

    def __init__(self, fsid: str, name: str) -> None:
        self.fsid = fsid
        self.name = name
        self.flags: list[str] = []
        self.health_status: str | None = None
        self.health_checks: dict[str, dict[str, Any]] = {}
        self.mons: list[dict[str, Any]] = []
        self.mon_map_epoch = 0
        self.quorum: list[str] = []
        self.election_epoch = 0
        self.pg_by_state: dict[str, int] = {}
        self.pg_by_pool: dict[str, dict[str, int]] = {}
        self.pgmap_version = 0
        self.crush: dict[str, Any] = {}
        self.crush_version = 0
        self.filesystems: list[dict[str, Any]] = []
        self.fs_map_epoch = 0
        self.config: dict[str, str] = {}
        self.ratios: dict[str, Any] = {}
        self.stale = False
        self.forgotten = False

    class ClusterFlagsChanged(Aggregate.Event):
        epoch: int
        flags: list[str]
        set: list[str]
        unset: list[str]

        def apply(self, cluster: "Cluster") -> None:
            cluster.flags = self.flags

    class ClusterSettingsChanged(Aggregate.Event):
        """OSD map settings: full ratios, required releases."""

        epoch: int
        ratios: dict[str, Any]

        def apply(self, cluster: "Cluster") -> None:
            cluster.ratios = self.ratios

    class HealthChanged(Aggregate.Event):
        status: str
        previous: str | None

        def apply(self, cluster: "Cluster") -> None:
            cluster.health_status = self.status

    class HealthCheckRaised(Aggregate.Event):
        code: str
        severity: str
        message: str
        count: int
        muted: bool = False  # muted by an operator (`ceph health mute`): Ceph leaves it out of the status

        def apply(self, cluster: "Cluster") -> None:
            _put_health_check(cluster, self)

    class HealthCheckUpdated(Aggregate.Event):
        """The check's severity, count or muting changed (its message alone is not news)."""

        code: str
        severity: str
        message: str
        count: int
        muted: bool = False
        previous_severity: str | None = None

        def apply(self, cluster: "Cluster") -> None:
            _put_health_check(cluster, self)

    class HealthCheckCleared(Aggregate.Event):
        code: str

        def apply(self, cluster: "Cluster") -> None:
            checks = dict(cluster.health_checks)
            checks.pop(self.code, None)
            cluster.health_checks = checks

    class MonMapChanged(Aggregate.Event):
        epoch: int
        mons: list[dict[str, Any]]

        def apply(self, cluster: "Cluster") -> None:
            cluster.mons, cluster.mon_map_epoch = self.mons, self.epoch

    class MonQuorumChanged(Aggregate.Event):
        election_epoch: int
        quorum: list[str]
        joined: list[str]
        left: list[str]

        def apply(self, cluster: "Cluster") -> None:
            cluster.quorum, cluster.election_epoch = self.quorum, self.election_epoch

    class PgStatesChanged(Aggregate.Event):
        """PG counts by state changed; `by_pool` holds only the pools whose counts changed."""

        version: int
        by_state: dict[str, int]
        by_pool: dict[str, dict[str, int]]
        pools_gone: list[str]

        def apply(self, cluster: "Cluster") -> None:
            by_pool = {**cluster.pg_by_pool, **self.by_pool}
            for pool in self.pools_gone:
                by_pool.pop(pool, None)
            cluster.pg_by_state, cluster.pg_by_pool = self.by_state, by_pool
            cluster.pgmap_version = self.version

    class CrushMapChanged(Aggregate.Event):
        version: int
        crush: dict[str, Any]

        def apply(self, cluster: "Cluster") -> None:
            cluster.crush, cluster.crush_version = self.crush, self.version

    class FsMapChanged(Aggregate.Event):
        epoch: int
        filesystems: list[dict[str, Any]]

        def apply(self, cluster: "Cluster") -> None:
            cluster.filesystems, cluster.fs_map_epoch = self.filesystems, self.epoch

    class ConfigChanged(Aggregate.Event):
        changed: dict[str, str]
        removed: list[str]

        def apply(self, cluster: "Cluster") -> None:
            config = {**cluster.config, **self.changed}
            for key in self.removed:
                config.pop(key, None)
            cluster.config = config

    class ClusterContactLost(Aggregate.Event):
        """No collector of this cluster has been heard from for longer than the timeout."""

        last_contact: float

        def apply(self, cluster: "Cluster") -> None:
            cluster.stale = True

    class ClusterContactRegained(Aggregate.Event):
        def apply(self, cluster: "Cluster") -> None:
            cluster.stale = False

    class ClusterForgotten(Aggregate.Event):
        """A user removed the cluster from Calamari: it leaves the lists, its events stay stored."""

        by: str

        def apply(self, cluster: "Cluster") -> None:
            cluster.forgotten, cluster.stale = True, False

    class ClusterRediscovered(Aggregate.Event):
        """Maps arrived again from a forgotten cluster (its collector still reports)."""

        def apply(self, cluster: "Cluster") -> None:
            cluster.forgotten = False

    class SyncVersionAdvanced(Aggregate.Event):
        """A newer version of a sync object (`name`) was taken in that changed nothing else the
        model records (e.g. an OSD map epoch that only moved pg_temp). Recorded so that after a
        restart the model still knows the newest version it reflects and refuses older ones; the
        model's index of versions (ClusterModel.reflected) is folded from it."""

        name: str
        version: int

        def apply(self, cluster: "Cluster") -> None:
            pass  # the version index lives in the model, next to the aggregates it spans

    class SyncVersionsReset(Aggregate.Event):
        """An admin said the cluster was rebuilt under the same fsid (`calamari-ctl cluster
        reset-versions`): the versions recorded so far no longer bound what is accepted, and the
        next map of any version is diffed against the model."""

        by: str

        def apply(self, cluster: "Cluster") -> None:
            pass  # see SyncVersionAdvanced


def _put_health_check(cluster: Cluster, check: Any) -> None:
    cluster.health_checks = {
        **cluster.health_checks,
        check.code: {"severity": check.severity, "message": check.message, "count": check.count,
                     "muted": check.muted},
    }
