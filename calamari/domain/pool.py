"""The pool aggregate: one pool of a cluster, as the OSD map describes it."""

from typing import Any

from eventsourcing.domain import Aggregate

from calamari.domain.base import CalamariAggregate

# Settings diffed into PoolSettingsChanged; name and quotas have events of their own.
POOL_SETTINGS = (
    "type",
    "size",
    "min_size",
    "pg_num",
    "pgp_num",
    "crush_rule",
    "erasure_code_profile",
    "hashpspool",
    "full",
    "pg_autoscale_mode",
    "application",
    "target_max_bytes",
    "target_max_objects",
)


class Pool(CalamariAggregate):
    class PoolCreated(Aggregate.Created):
        fsid: str
        pool_id: int
        name: str
        settings: dict[str, Any]
        quota_max_bytes: int
        quota_max_objects: int
        epoch: int

    def __init__(
        self,
        fsid: str,
        pool_id: int,
        name: str,
        settings: dict[str, Any],
        quota_max_bytes: int,
        quota_max_objects: int,
        epoch: int,
    ) -> None:
        self.fsid = fsid
        self.pool_id = pool_id
        self.name = name
        self.settings = settings
        self.quota_max_bytes = quota_max_bytes
        self.quota_max_objects = quota_max_objects
        self.epoch = epoch
        self.deleted = False

    class PoolRenamed(Aggregate.Event):
        epoch: int
        name: str
        previous: str

        def apply(self, pool: "Pool") -> None:
            pool.name, pool.epoch = self.name, self.epoch

    class PoolSettingsChanged(Aggregate.Event):
        """`changes` maps each changed setting to [previous, new]."""

        epoch: int
        changes: dict[str, list[Any]]

        def apply(self, pool: "Pool") -> None:
            settings = dict(pool.settings)
            for key, (_, new) in self.changes.items():
                settings[key] = new
            pool.settings, pool.epoch = settings, self.epoch

    class PoolQuotaChanged(Aggregate.Event):
        epoch: int
        quota_max_bytes: int
        quota_max_objects: int

        def apply(self, pool: "Pool") -> None:
            pool.quota_max_bytes, pool.quota_max_objects = self.quota_max_bytes, self.quota_max_objects
            pool.epoch = self.epoch

    class PoolReappeared(Aggregate.Event):
        """A deleted pool id is listed again by a newer OSD map. Ceph does not reuse pool ids, so
        this is a cluster rebuilt under the same fsid or a map sequence Ceph itself would not
        make; either way the model follows the newest map, which carries everything afresh."""

        epoch: int
        name: str
        settings: dict[str, Any]
        quota_max_bytes: int
        quota_max_objects: int

        def apply(self, pool: "Pool") -> None:
            pool.name, pool.settings, pool.epoch = self.name, self.settings, self.epoch
            pool.quota_max_bytes, pool.quota_max_objects = self.quota_max_bytes, self.quota_max_objects
            pool.deleted = False

    class PoolDeleted(Aggregate.Event):
        epoch: int

        def apply(self, pool: "Pool") -> None:
            pool.deleted, pool.epoch = True, self.epoch
