"""The cluster model: every aggregate of every cluster, and the diffing of incoming sync objects
(Ceph maps) into fine-grained events.

Pure: callers pass the time of each change. `ingest()` validates a whole document before it
changes anything, so a bad map leaves the model as it was. `apply()` folds a stored event back
in (replay); live ingest and replay go through the same event `apply` methods, so they agree."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from itertools import islice
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from calamari.domain import ids
from calamari.domain.base import CalamariAggregate, recording_prior_states, restore_prior_states
from calamari.domain.cluster import Cluster
from calamari.domain.collector_key import CollectorKey, collector_key_id
from calamari.domain.login_guard import LOGIN_GUARD_ID, LoginGuard
from calamari.domain.maps import (
    ConfigEntry,
    CrushMap,
    FsMap,
    Health,
    InvalidMap,
    MonMap,
    MonStatus,
    OsdEntry,
    OsdMapHeader,
    OsdMetadataEntry,
    PgSummary,
    PoolEntry,
    validate,
    validate_list,
)
from calamari.domain.osd import NIL_UUID, Osd
from calamari.domain.pool import POOL_SETTINGS, Pool
from calamari.domain.server import LOOPBACK_NAMES, Server, facts_changed
from calamari.domain.user import User
from calamari.domain.user_request import COMPLETE, UserRequest

SyncVersion = int | str
Change = Callable[[Cluster], None]  # what an ingested map does to the model, once it is validated

# Sync objects versioned by a number that only grows; the others carry a content hash.
NUMERIC_VERSIONS = {"osd_map", "mon_map", "mon_status", "fs_map", "pg_summary", "df", "crush_map"}
SYNC_OBJECTS = NUMERIC_VERSIONS | {"health", "config", "osd_metadata"}
# Sync objects whose every newer version is recorded, with SyncVersionAdvanced when nothing else
# changed: their versions move only when the cluster does. The PG summary's moves every few
# seconds, so only versions that changed PG counts are recorded (PgStatesChanged); df is not
# modelled at all (see docs/architecture.md, "Versions across a restart").
EXACT_VERSIONS = {"osd_map", "mon_map", "mon_status", "fs_map", "crush_map"}

# The events that carry the version of the sync object that caused them: (sync object, field).
VERSION_SOURCES: dict[type, tuple[str, str]] = {
    **{cls: ("osd_map", "epoch") for cls in (
        Cluster.ClusterFlagsChanged, Cluster.ClusterSettingsChanged,
        Osd.OsdAdded, Osd.OsdReadded, Osd.OsdRemoved, Osd.OsdDestroyed, Osd.OsdMarkedUp, Osd.OsdMarkedDown,
        Osd.OsdMarkedIn, Osd.OsdMarkedOut, Osd.OsdReweighted, Osd.OsdPrimaryAffinityChanged,
        Osd.OsdAddressChanged,
        Pool.PoolCreated, Pool.PoolRenamed, Pool.PoolSettingsChanged, Pool.PoolQuotaChanged,
        Pool.PoolReappeared, Pool.PoolDeleted)},
    Osd.OsdMovedInCrush: ("crush_map", "crush_version"),
    Osd.OsdCrushWeightChanged: ("crush_map", "crush_version"),
    Cluster.CrushMapChanged: ("crush_map", "version"),
    Cluster.MonMapChanged: ("mon_map", "epoch"),
    Cluster.MonQuorumChanged: ("mon_status", "election_epoch"),
    Cluster.FsMapChanged: ("fs_map", "epoch"),
    Cluster.PgStatesChanged: ("pg_summary", "version"),
}

# OSD map header fields kept as cluster settings.
RATIO_FIELDS = ("full_ratio", "backfillfull_ratio", "nearfull_ratio", "require_osd_release")

# `ceph osd metadata` fields worth keeping on the OSD.
METADATA_FIELDS = (
    "hostname",
    "ceph_version",
    "ceph_version_short",
    "osd_objectstore",
    "osd_data",
    "devices",
    "arch",
    "kernel_version",
    "distro_description",
    "front_addr",
    "back_addr",
    "front_iface",
    "back_iface",
    "rotational",
)

POOL_TYPES = {1: "replicated", 3: "erasure"}

# The CRUSH place of an OSD the CRUSH map does not hold.
UNPLACED: dict[str, Any] = {"host": None, "ancestry": [], "crush_weight": None, "device_class": None}


def is_newer(name: str, version: SyncVersion, held: SyncVersion | None) -> bool:
    """Numeric versions must grow; a content hash only has to differ."""
    if held is None:
        return True
    if name in NUMERIC_VERSIONS:
        return isinstance(version, int) and isinstance(held, int) and version > held
    return version != held


def pool_settings(entry: PoolEntry) -> dict[str, Any]:
    flags = [f for f in entry.flags_names.split(",") if f]
    return {
        "type": POOL_TYPES.get(entry.type, str(entry.type)),
        "size": entry.size,
        "min_size": entry.min_size,
        "pg_num": entry.pg_num,
        "pgp_num": entry.pg_placement_num,
        "crush_rule": entry.crush_rule,
        "erasure_code_profile": entry.erasure_code_profile,
        "hashpspool": "hashpspool" in flags,
        "full": "full" in flags or "full_quota" in flags,
        "pg_autoscale_mode": entry.pg_autoscale_mode,
        "application": sorted(entry.application_metadata),
        "target_max_bytes": entry.target_max_bytes,
        "target_max_objects": entry.target_max_objects,
    }


class ClusterModel:
    """All aggregates, indexed by natural keys, plus the newest sync object of each kind (the
    input the events were derived from; kept to diff the next one and to serve it raw)."""

    def __init__(self) -> None:
        self.aggregates: dict[UUID, CalamariAggregate] = {}
        self.clusters: dict[str, Cluster] = {}
        self.osds: dict[str, dict[int, Osd]] = {}
        self.pools: dict[str, dict[int, Pool]] = {}
        self.servers: dict[str, Server] = {}
        self.requests: dict[str, UserRequest] = {}
        self.users: dict[str, User] = {}
        self.collector_keys: dict[UUID, CollectorKey] = {}  # every key ever registered, deleted ones too
        self._open_requests: set[str] | None = None  # unfinished request ids; None: recompute
        self.held: dict[str, dict[str, tuple[SyncVersion, Any]]] = {}
        self.last_contact: dict[str, float] = {}
        self.last_contact_host: dict[str, float] = {}
        self._fqdn_of_hello: dict[str, str] = {}  # a collector's hello name -> its server's fqdn (a cache)
        # The raw OSD and pool entries of the newest OSD map, to skip unchanged ones cheaply.
        self._osd_entries: dict[str, dict[int, Any]] = {}
        self._pool_entries: dict[str, dict[int, Any]] = {}
        self.received_at: dict[str, dict[str, float]] = {}
        # fsid -> sync object -> the newest version the model reflects, folded from the events
        # (VERSION_SOURCES, SyncVersionAdvanced) live and in replay alike, and kept in snapshots:
        # unlike `held`, it survives a restart, so an older map is refused after one too.
        self.reflected: dict[str, dict[str, int]] = {}
        self._touched: list[CalamariAggregate] = []
        self._new: list[Aggregate.Event] = []

    # ---------------------------------------------------------------- registry and replay

    def _register(self, agg: CalamariAggregate) -> None:
        self.aggregates[agg.id] = agg
        if isinstance(agg, Osd):
            self.osds.setdefault(agg.fsid, {})[agg.osd_id] = agg
        elif isinstance(agg, Pool):
            self.pools.setdefault(agg.fsid, {})[agg.pool_id] = agg
        elif isinstance(agg, Cluster):
            if not getattr(agg, "forgotten", False):  # snapshots from before forgetting lack it
                self.clusters[agg.fsid] = agg
        elif isinstance(agg, Server):
            self.servers[agg.fqdn] = agg
        elif isinstance(agg, UserRequest):
            self.requests[agg.request_id] = agg
            self._open_requests = None
        elif isinstance(agg, User):
            self.users[agg.username] = agg
        elif isinstance(agg, CollectorKey):
            self.collector_keys[agg.id] = agg

    def apply(self, event: Aggregate.Event) -> None:
        """Fold one stored event into the model (replay)."""
        if isinstance(event, Aggregate.Created):
            agg = event.mutate(None)
            self._register(agg)
        else:
            agg = self.aggregates[event.originator_id]
            event.mutate(agg)
            if isinstance(event, UserRequest.Event):
                self._open_requests = None
            elif isinstance(event, Cluster.ClusterForgotten):
                self._unindex_cluster(agg.fsid)
            elif isinstance(event, Cluster.ClusterRediscovered):
                self.clusters[agg.fsid] = agg
        self._note_version(agg, event)

    def _note_version(self, agg: Any, event: Aggregate.Event) -> None:
        """Keep `reflected` as the events say (the same call live and in replay)."""
        if isinstance(event, Cluster.SyncVersionAdvanced):
            name, version = event.name, event.version
        elif isinstance(event, Cluster.SyncVersionsReset | Cluster.ClusterForgotten):
            self.reflected.pop(agg.fsid, None)
            return
        else:
            source = VERSION_SOURCES.get(type(event))
            if source is None:
                return
            name, version = source[0], getattr(event, source[1])
        versions = self.reflected.setdefault(agg.fsid, {})
        if version > versions.get(name, version - 1):
            versions[name] = version

    def load(self, aggregates: Iterable[CalamariAggregate],
             reflected: dict[str, dict[str, int]] | None = None) -> None:
        """Install aggregates restored from a snapshot, with the versions the model reflected
        (None from a snapshot written before they were kept: estimated from the aggregates)."""
        aggregates = list(aggregates)
        for agg in aggregates:
            self._register(agg)
        if reflected is None:
            reflected = _estimate_reflected(aggregates)
        self.reflected = {fsid: dict(versions) for fsid, versions in reflected.items()}

    def _create(self, cls: type[CalamariAggregate], created: type, agg_id: UUID, at: datetime,
                **fields: Any) -> Any:
        agg = cls._create(created, id=agg_id, timestamp=at, **fields)
        self._register(agg)
        self._touched.append(agg)
        self._new.append(agg.pending_events[-1])
        self._note_version(agg, agg.pending_events[-1])
        return agg

    def _emit(self, agg: CalamariAggregate, event_class: type, at: datetime, **fields: Any) -> None:
        agg.emit(event_class, at, **fields)
        self._touched.append(agg)
        self._new.append(agg.pending_events[-1])
        self._note_version(agg, agg.pending_events[-1])

    def drain(self) -> list[Aggregate.Event]:
        """The events produced since the last drain, in the order they were made."""
        for agg in self._touched:
            agg.pending_events.clear()
        self._touched.clear()
        events, self._new = self._new, []
        return events

    # ---------------------------------------------------------------- undoing a change

    # Indexes only ever added to by _register; every other dict of the model is copied by undoable()
    _REGISTRIES = ("aggregates", "osds", "pools", "servers", "requests", "users", "collector_keys")

    @contextmanager
    def undoable(self) -> Iterator[Callable[[], None]]:
        """Yield a function that puts the model back as it was when the block began: aggregates
        changed in the block get their prior state back, those created leave the indexes, the
        other indexes are restored, and events not yet drained are dropped. For changes that
        must be stored before they count (the caller undoes them if storing fails); they are
        few and small, as every aggregate they change is copied."""
        registered = len(self.aggregates)
        saved = {name: dict(value) for name, value in vars(self).items()
                 if isinstance(value, dict) and name not in self._REGISTRIES}
        with recording_prior_states() as prior:
            def undo() -> None:
                self.drain()
                restore_prior_states(prior)
                created = list(islice(reversed(self.aggregates), len(self.aggregates) - registered))
                for agg_id in created:
                    self._unregister(self.aggregates[agg_id])
                for name, value in saved.items():
                    setattr(self, name, value)  # a whole dict at once: readers never see it half done
                self._open_requests = None

            yield undo

    def _unregister(self, agg: CalamariAggregate) -> None:
        """Remove an aggregate that undo() takes back from every index _register put it in."""
        self.aggregates.pop(agg.id, None)
        keyed: list[tuple[dict[Any, Any], Any]] = []
        if isinstance(agg, Osd):
            keyed.append((self.osds.get(agg.fsid, {}), agg.osd_id))
        elif isinstance(agg, Pool):
            keyed.append((self.pools.get(agg.fsid, {}), agg.pool_id))
        elif isinstance(agg, Server):
            keyed.append((self.servers, agg.fqdn))
        elif isinstance(agg, UserRequest):
            keyed.append((self.requests, agg.request_id))
        elif isinstance(agg, User):
            keyed.append((self.users, agg.username))
        elif isinstance(agg, CollectorKey):
            keyed.append((self.collector_keys, agg.key_id))
        for index, key in keyed:
            if index.get(key) is agg:
                del index[key]

    # ---------------------------------------------------------------- ingest

    def accepts(self, fsid: str, name: str, version: SyncVersion) -> bool:
        """Whether a sync object of this version would be taken in: newer than the copy held, and
        not older than the version the model reflects. The held copies are gone after a restart,
        the reflected versions are not: a map of exactly that version is then taken again (it
        restores the held copy and changes nothing), an older one is refused."""
        if name in NUMERIC_VERSIONS and (not isinstance(version, int) or isinstance(version, bool)):
            return False
        held = self.held.get(fsid, {}).get(name)
        if held is not None and not is_newer(name, version, held[0]):
            return False
        floor = self.reflected.get(fsid, {}).get(name)
        return floor is None or (isinstance(version, int) and version >= floor)

    def reflected_version(self, fsid: str, name: str) -> SyncVersion | None:
        """The newest version of a sync object the model holds or reflects (for messages)."""
        held = self.held.get(fsid, {}).get(name)
        return held[0] if held is not None else self.reflected.get(fsid, {}).get(name)

    def ingest(self, fsid: str, name: str, version: SyncVersion, data: Any, at: datetime) -> bool:
        """Diff a sync object into events. False (and no change) when it is not newer than the one
        held or older than the one the model reflects (`accepts`). Raises InvalidMap, with nothing
        changed, when it is malformed."""
        if name not in SYNC_OBJECTS:
            raise InvalidMap(name, "name", "unknown sync object")
        if not isinstance(version, int | str) or isinstance(version, bool):
            raise InvalidMap(name, "version", "must be an integer or a string")
        if name in NUMERIC_VERSIONS and not isinstance(version, int):
            raise InvalidMap(name, "version", "must be an integer")
        if not self.accepts(fsid, name, version):
            return False
        handler = getattr(self, f"_ingest_{name}")
        apply_changes = handler(fsid, version, data, at)  # validates; returns the change to make
        cluster = self._cluster(fsid, at)
        apply_changes(cluster)
        if name in EXACT_VERSIONS and self.reflected.get(fsid, {}).get(name) != version:
            # nothing the model keeps changed, yet this version must still bound what comes next
            self._emit(cluster, Cluster.SyncVersionAdvanced, at, name=name, version=version)
        self.held.setdefault(fsid, {})[name] = (version, data)
        self.received_at.setdefault(fsid, {})[name] = at.timestamp()
        self._complete_awaiting(fsid, name, version, at)
        return True

    def _cluster(self, fsid: str, at: datetime) -> Cluster:
        cluster = self.clusters.get(fsid)
        if cluster is None and ids.cluster_id(fsid) in self.aggregates:
            # forgotten, and its collector still reports: the same aggregate comes back
            cluster = self.aggregates[ids.cluster_id(fsid)]
            self._emit(cluster, Cluster.ClusterRediscovered, at)
            self.clusters[fsid] = cluster
        if cluster is None:
            cluster = self._create(Cluster, Cluster.ClusterDiscovered, ids.cluster_id(fsid), at,
                                   fsid=fsid, name="ceph")
        return cluster

    # Each _ingest_X validates everything first and returns a closure that makes the changes.

    def _ingest_osd_map(self, fsid: str, epoch: int, data: Any, at: datetime) -> Change:
        if not isinstance(data, dict):
            raise InvalidMap("osd_map", "(document)", "must be an object")
        head = {k: v for k, v in data.items() if k not in ("osds", "pools")}
        head["osds"], head["pools"] = [], []
        header = validate("osd_map", OsdMapHeader, head)
        if header.fsid != fsid:
            raise InvalidMap("osd_map", "fsid", f"is {header.fsid}, expected {fsid}")
        if header.epoch != epoch:
            raise InvalidMap("osd_map", "epoch", f"is {header.epoch}, the version says {epoch}")
        osd_changes, osd_entries = _changed_entries(
            "osd_map", "osds", "osd", OsdEntry, data.get("osds"), self._osd_entries.get(fsid, {}))
        pool_changes, pool_entries = _changed_entries(
            "osd_map", "pools", "pool", PoolEntry, data.get("pools"), self._pool_entries.get(fsid, {}))
        prev_osd_keys = self._osd_entries.get(fsid, {}).keys()
        prev_pool_keys = self._pool_entries.get(fsid, {}).keys()

        def change(cluster: Cluster) -> None:
            flags = sorted(f for f in header.flags.split(",") if f)
            if flags != cluster.flags:
                old = set(cluster.flags)
                self._emit(cluster, Cluster.ClusterFlagsChanged, at, epoch=epoch, flags=flags,
                           set=sorted(set(flags) - old), unset=sorted(old - set(flags)))
            ratios = {k: getattr(header, k) for k in RATIO_FIELDS}
            if ratios != cluster.ratios:
                self._emit(cluster, Cluster.ClusterSettingsChanged, at, epoch=epoch, ratios=ratios)
            osds = self.osds.setdefault(fsid, {})
            for entry in osd_changes:
                self._diff_osd(fsid, osds.get(entry.osd), entry, epoch, at)
            if not prev_osd_keys or prev_osd_keys != osd_entries.keys():
                for osd_id, osd in osds.items():
                    if not osd.removed and osd_id not in osd_entries:
                        self._emit(osd, Osd.OsdRemoved, at, epoch=epoch)
            pools = self.pools.setdefault(fsid, {})
            for entry in pool_changes:
                self._diff_pool(fsid, pools.get(entry.pool), entry, epoch, at)
            if not prev_pool_keys or prev_pool_keys != pool_entries.keys():
                for pool_id, pool in pools.items():
                    if not pool.deleted and pool_id not in pool_entries:
                        self._emit(pool, Pool.PoolDeleted, at, epoch=epoch)
            self._osd_entries[fsid] = osd_entries
            self._pool_entries[fsid] = pool_entries

        return change

    def _diff_osd(self, fsid: str, osd: Osd | None, e: OsdEntry, epoch: int, at: datetime) -> None:
        up, in_ = bool(e.up), bool(e.in_)
        if osd is None:
            osd = self._create(Osd, Osd.OsdAdded, ids.osd_id(fsid, e.osd), at, fsid=fsid, osd_id=e.osd,
                               uuid=e.uuid, up=up, in_=in_, reweight=e.weight,
                               primary_affinity=e.primary_affinity, public_addr=e.public_addr,
                               cluster_addr=e.cluster_addr, epoch=epoch)
            self._place_new_osd(fsid, osd, at)
            return
        if not osd.removed and e.uuid == NIL_UUID and osd.uuid != NIL_UUID:
            # `ceph osd destroy` zeroes the uuid and keeps the id for a replacement: not a new OSD
            self._emit(osd, Osd.OsdDestroyed, at, epoch=epoch)
        elif osd.removed or osd.uuid != e.uuid:
            self._emit(osd, Osd.OsdReadded, at, uuid=e.uuid, up=up, in_=in_, reweight=e.weight,
                       primary_affinity=e.primary_affinity, public_addr=e.public_addr,
                       cluster_addr=e.cluster_addr, epoch=epoch)
            return
        if up != osd.up:
            self._emit(osd, Osd.OsdMarkedUp if up else Osd.OsdMarkedDown, at, epoch=epoch)
        if in_ != osd.in_:
            self._emit(osd, Osd.OsdMarkedIn if in_ else Osd.OsdMarkedOut, at, epoch=epoch, reweight=e.weight)
        elif e.weight != osd.reweight:
            self._emit(osd, Osd.OsdReweighted, at, epoch=epoch, reweight=e.weight, previous=osd.reweight)
        if e.primary_affinity != osd.primary_affinity:
            self._emit(osd, Osd.OsdPrimaryAffinityChanged, at, epoch=epoch,
                       primary_affinity=e.primary_affinity, previous=osd.primary_affinity)
        if (e.public_addr, e.cluster_addr) != (osd.public_addr, osd.cluster_addr):
            self._emit(osd, Osd.OsdAddressChanged, at, epoch=epoch, public_addr=e.public_addr,
                       cluster_addr=e.cluster_addr)

    def _place_new_osd(self, fsid: str, osd: Osd, at: datetime) -> None:
        """A new OSD takes its CRUSH place and metadata from the maps already held."""
        held = self.held.get(fsid, {})
        if "crush_map" in held:
            version, crush = held["crush_map"]
            placement = crush_placement(crush)
            if osd.osd_id in placement:
                self._diff_osd_placement(osd, placement[osd.osd_id], version, at)
        if "osd_metadata" in held:
            for entry in held["osd_metadata"][1]:
                if entry.get("id") == osd.osd_id:
                    self._diff_osd_metadata(osd, entry, at)

    def _diff_pool(self, fsid: str, pool: Pool | None, e: PoolEntry, epoch: int, at: datetime) -> None:
        settings = pool_settings(e)
        if pool is None:
            self._create(Pool, Pool.PoolCreated, ids.pool_id(fsid, e.pool), at, fsid=fsid,
                         pool_id=e.pool, name=e.pool_name, settings=settings,
                         quota_max_bytes=e.quota_max_bytes, quota_max_objects=e.quota_max_objects,
                         epoch=epoch)
            return
        if pool.deleted:
            # Older maps never get here (ingest refuses them), so the newest map is the truth
            # even where Ceph would not reuse an id (a cluster rebuilt under the same fsid).
            self._emit(pool, Pool.PoolReappeared, at, epoch=epoch, name=e.pool_name, settings=settings,
                       quota_max_bytes=e.quota_max_bytes, quota_max_objects=e.quota_max_objects)
            return
        if e.pool_name != pool.name:
            self._emit(pool, Pool.PoolRenamed, at, epoch=epoch, name=e.pool_name, previous=pool.name)
        changes = {k: [pool.settings.get(k), settings[k]] for k in POOL_SETTINGS
                   if pool.settings.get(k) != settings[k]}
        if changes:
            self._emit(pool, Pool.PoolSettingsChanged, at, epoch=epoch, changes=changes)
        if (e.quota_max_bytes, e.quota_max_objects) != (pool.quota_max_bytes, pool.quota_max_objects):
            self._emit(pool, Pool.PoolQuotaChanged, at, epoch=epoch, quota_max_bytes=e.quota_max_bytes,
                       quota_max_objects=e.quota_max_objects)

    def _ingest_health(self, fsid: str, version: str, data: Any, at: datetime) -> Change:
        health = validate("health", Health, data)

        def change(cluster: Cluster) -> None:
            checks = {code: {"severity": c.severity, "message": c.summary.message, "count": c.summary.count,
                             "muted": c.muted}
                      for code, c in health.checks.items()}
            for code, check in checks.items():
                old = cluster.health_checks.get(code)
                if old is None:
                    self._emit(cluster, Cluster.HealthCheckRaised, at, code=code, **check)
                elif _check_news(old) != _check_news(check):
                    # Messages carry ages ("blocked for 43 sec") that change on every poll: only a
                    # change of severity, count or muting is news.
                    self._emit(cluster, Cluster.HealthCheckUpdated, at, code=code, **check,
                               previous_severity=old["severity"])
            for code in cluster.health_checks:
                if code not in checks:
                    self._emit(cluster, Cluster.HealthCheckCleared, at, code=code)
            if health.status != cluster.health_status:
                self._emit(cluster, Cluster.HealthChanged, at, status=health.status,
                           previous=cluster.health_status)

        return change

    def _ingest_mon_map(self, fsid: str, epoch: int, data: Any, at: datetime) -> Change:
        monmap = validate("mon_map", MonMap, data)

        def change(cluster: Cluster) -> None:
            mons = [{"name": m.name, "rank": m.rank, "addr": m.public_addr or m.addr}
                    for m in sorted(monmap.mons, key=lambda m: m.rank)]
            if mons != cluster.mons:
                self._emit(cluster, Cluster.MonMapChanged, at, epoch=epoch, mons=mons)

        return change

    def _ingest_mon_status(self, fsid: str, election_epoch: int, data: Any, at: datetime) -> Change:
        status = validate("mon_status", MonStatus, data)
        names = {m.rank: m.name for m in status.monmap.mons}
        unknown = [r for r in status.quorum if r not in names]
        if unknown:
            raise InvalidMap("mon_status", "quorum", f"ranks {unknown} are not in the monmap")

        def change(cluster: Cluster) -> None:
            quorum = sorted(names[r] for r in status.quorum)
            if quorum != cluster.quorum:
                old = set(cluster.quorum)
                self._emit(cluster, Cluster.MonQuorumChanged, at, election_epoch=election_epoch,
                           quorum=quorum, joined=sorted(set(quorum) - old), left=sorted(old - set(quorum)))

        return change

    def _ingest_pg_summary(self, fsid: str, version: int, data: Any, at: datetime) -> Change:
        summary = validate("pg_summary", PgSummary, data)

        def change(cluster: Cluster) -> None:
            by_pool = {p: s for p, s in summary.by_pool.items() if cluster.pg_by_pool.get(p) != s}
            gone = sorted(p for p in cluster.pg_by_pool if p not in summary.by_pool)
            if summary.by_state != cluster.pg_by_state or by_pool or gone:
                self._emit(cluster, Cluster.PgStatesChanged, at, version=version,
                           by_state=summary.by_state, by_pool=by_pool, pools_gone=gone)

        return change

    def _ingest_df(self, fsid: str, version: int, data: Any, at: datetime) -> Change:
        # Usage is a time series, not events; the newest df is only held (for the API).
        if not isinstance(data, dict) or not isinstance(data.get("stats"), dict):
            raise InvalidMap("df", "stats", "must be an object")
        return lambda cluster: None

    def _ingest_crush_map(self, fsid: str, version: int, data: Any, at: datetime) -> Change:
        crush = validate("crush_map", CrushMap, data)
        reduced = {
            "types": data["types"],
            "buckets": [b.model_dump(by_alias=True) for b in crush.buckets],
            "rules": data["rules"],
        }

        def change(cluster: Cluster) -> None:
            if reduced != cluster.crush:
                self._emit(cluster, Cluster.CrushMapChanged, at, version=version, crush=reduced)
            placement = crush_placement(data)
            for osd_id, osd in self.osds.get(fsid, {}).items():
                # gone from CRUSH (purged): an OSD that takes the id later must not inherit the place
                self._diff_osd_placement(osd, placement.get(osd_id, UNPLACED), version, at)

        return change

    def _diff_osd_placement(self, osd: Osd, place: dict[str, Any], version: int, at: datetime) -> None:
        if (place["host"], place["ancestry"]) != (osd.host, osd.crush_ancestry):
            self._emit(osd, Osd.OsdMovedInCrush, at, crush_version=version, host=place["host"],
                       ancestry=place["ancestry"], previous_host=osd.host)
        if (place["crush_weight"], place["device_class"]) != (osd.crush_weight, osd.device_class):
            self._emit(osd, Osd.OsdCrushWeightChanged, at, crush_version=version,
                       crush_weight=place["crush_weight"], device_class=place["device_class"])

    def _ingest_fs_map(self, fsid: str, epoch: int, data: Any, at: datetime) -> Change:
        fsmap = validate("fs_map", FsMap, data)

        def change(cluster: Cluster) -> None:
            filesystems = [
                {
                    "id": fs.id,
                    "name": fs.mdsmap.get("fs_name", ""),
                    "max_mds": fs.mdsmap.get("max_mds", 0),
                    "metadata_pool": fs.mdsmap.get("metadata_pool"),
                    "data_pools": list(fs.mdsmap.get("data_pools", [])),
                    "up": len(fs.mdsmap.get("up", {})),
                }
                for fs in fsmap.filesystems
            ]
            if filesystems != cluster.filesystems:
                self._emit(cluster, Cluster.FsMapChanged, at, epoch=epoch, filesystems=filesystems)

        return change

    def _ingest_config(self, fsid: str, version: str, data: Any, at: datetime) -> Change:
        entries = validate_list("config", ConfigEntry, data, "")

        def change(cluster: Cluster) -> None:
            config = {(e.name if e.section == "global" else f"{e.section}/{e.name}"): e.value
                      for e in entries}
            changed = {k: v for k, v in config.items() if cluster.config.get(k) != v}
            removed = sorted(k for k in cluster.config if k not in config)
            if changed or removed:
                self._emit(cluster, Cluster.ConfigChanged, at, changed=changed, removed=removed)

        return change

    def _ingest_osd_metadata(self, fsid: str, version: str, data: Any, at: datetime) -> Change:
        entries = validate_list("osd_metadata", OsdMetadataEntry, data, "")

        def change(cluster: Cluster) -> None:
            osds = self.osds.get(fsid, {})
            hosts: dict[str, list[int]] = {}
            for raw, entry in zip(data, entries, strict=True):
                if entry.hostname:
                    hosts.setdefault(entry.hostname, []).append(entry.id)
                osd = osds.get(entry.id)
                if osd is not None:
                    self._diff_osd_metadata(osd, raw, at)
            # Ceph drops a purged OSD's metadata: an OSD that takes the id must not show the old host
            listed = {entry.id for entry in entries}
            for osd_id, osd in osds.items():
                if osd_id not in listed and osd.metadata:
                    self._diff_osd_metadata(osd, {}, at)
            self._diff_osd_services(fsid, hosts, at)

        return change

    def _diff_osd_metadata(self, osd: Osd, raw: dict[str, Any], at: datetime) -> None:
        metadata = {k: raw[k] for k in METADATA_FIELDS if k in raw}
        if metadata != osd.metadata:
            self._emit(osd, Osd.OsdMetadataChanged, at, metadata=metadata)

    def _diff_osd_services(self, fsid: str, hosts: dict[str, list[int]], at: datetime) -> None:
        """Keep each server's list of this cluster's OSD services as the metadata says. The
        metadata names hosts by their short names: a host that reported its facts is found by it."""
        fqdn_of = {s.hostname: s.fqdn for s in self.servers.values() if s.managed and s.merged_into is None}
        by_fqdn: dict[str, list[int]] = {}
        for hostname, osd_ids in hosts.items():
            by_fqdn.setdefault(fqdn_of.get(hostname, hostname), []).extend(osd_ids)
        live = {s.fqdn for s in self.servers.values() if s.merged_into is None and not s.forgotten}
        for fqdn in set(by_fqdn) | live:
            server = self.servers.get(fqdn)
            wanted = [{"fsid": fsid, "type": "osd", "id": str(i), "running": None, "version": None}
                      for i in sorted(by_fqdn.get(fqdn, []))]
            if server is not None and server.forgotten:
                self._emit(server, Server.ServerRediscovered, at)
            if server is None:
                if not wanted:
                    continue
                server = self._create(Server, Server.ServerDiscovered, ids.server_id(fqdn), at,
                                      fqdn=fqdn, hostname=fqdn.split(".")[0])
            others = [s for s in server.services if not (s["fsid"] == fsid and s["type"] == "osd")]
            known = {(s["fsid"], s["type"], s["id"]): s for s in server.services}
            # Keep what the host itself reported (running, version) for OSDs it still has.
            merged = [known.get((fsid, "osd", w["id"]), w) for w in wanted]
            self._set_services(server, others + merged, at)

    def _set_services(self, server: Server, services: list[dict[str, Any]], at: datetime) -> None:
        services = sorted(services, key=lambda s: (s["fsid"], s["type"], _id_order(s["id"])))
        if services != server.services:
            def key(s: dict[str, Any]) -> str:
                return f"{s['type']}.{s['id']}"
            old = {key(s) for s in server.services}
            new = {key(s) for s in services}
            self._emit(server, Server.ServerServicesChanged, at, services=services,
                       added=sorted(new - old), removed=sorted(old - new))

    # ---------------------------------------------------------------- forgetting a cluster

    def forget_cluster(self, fsid: str, by: str, at: datetime) -> None:
        """Drop a cluster from the lists: its open requests fail, the maps held for it go (so the
        next map its collector sends, of any version, brings it back). Raises KeyError if unknown."""
        cluster = self.clusters[fsid]
        for req in self.open_requests():
            if req.fsid == fsid:
                self.request_failed(req.request_id, f"The cluster was forgotten by {by}", at)
        self._emit(cluster, Cluster.ClusterForgotten, at, by=by)
        self._unindex_cluster(fsid)

    def reset_versions(self, fsid: str, by: str, at: datetime) -> None:
        """The cluster was rebuilt under the same fsid: forget the versions it reached, so that the
        next map of any version is diffed against the model (and bounds what comes after it). Its
        open requests fail (they wait for versions of the old history). KeyError if unknown."""
        cluster = self.clusters[fsid]
        for req in self.open_requests():
            if req.fsid == fsid:
                self.request_failed(req.request_id, f"The cluster's map versions were reset by {by}", at)
        self._emit(cluster, Cluster.SyncVersionsReset, at, by=by)
        for per_cluster in (self.held, self._osd_entries, self._pool_entries):
            per_cluster.pop(fsid, None)

    def forget_server(self, fqdn: str, by: str, at: datetime) -> None:
        """Drop a host that runs no Ceph service any more. KeyError if unknown; ValueError, naming
        them, while services are still placed on it (they would bring it straight back)."""
        server = self.servers[fqdn]
        if server.forgotten or server.merged_into is not None:
            raise KeyError(fqdn)
        if server.services:
            names = ", ".join(f"{s['type']}.{s['id']}" for s in server.services[:10])
            raise ValueError(f"it still runs {names}: remove them from their cluster first")
        self._emit(server, Server.ServerForgotten, at, by=by)
        self.last_contact_host.pop(fqdn, None)

    def _unindex_cluster(self, fsid: str) -> None:
        # The OSD and pool aggregates stay (their ids are fixed by fsid and number): a cluster that
        # comes back diffs its maps against them.
        self.clusters.pop(fsid, None)
        for per_cluster in (self.held, self.last_contact, self._osd_entries, self._pool_entries, self.received_at):
            per_cluster.pop(fsid, None)

    # ---------------------------------------------------------------- hosts and contact

    def server_facts(self, fsid: str | None, facts: dict[str, Any], at: datetime) -> None:
        fqdn = facts.get("fqdn") or facts.get("hostname")
        if not isinstance(fqdn, str) or not fqdn:
            raise InvalidMap("server_facts", "fqdn", "missing")
        services = facts.get("services", [])
        if not isinstance(services, list) or not all(
            isinstance(s, dict) and isinstance(s.get("type"), str) and s.get("id") is not None
            for s in services
        ):
            raise InvalidMap("server_facts", "services", "must be a list of {type, id, ...}")
        server = self.servers.get(fqdn)
        renamed = server is None or server.merged_into is not None
        if server is None:
            server = self._create(Server, Server.ServerDiscovered, ids.server_id(fqdn), at, fqdn=fqdn,
                                  hostname=str(facts.get("hostname") or fqdn.split(".")[0]))
        elif server.forgotten:
            self._emit(server, Server.ServerRediscovered, at)
        if server.merged_into is not None:
            self._emit(server, Server.ServerReclaimed, at)
        kept = {k: facts[k] for k in ("hostname", "boot_time", "kernel", "cpu_count", "mem_total",
                                      "frontend_addr", "backend_addr", "frontend_iface",
                                      "backend_iface") if k in facts}
        if facts_changed(server.facts, kept):
            self._emit(server, Server.ServerFactsChanged, at, facts=kept)
        inherited = self._merge_short_name(server, at)
        if renamed:
            inherited += self._merge_loopback_names(server, at)
        reported = [{"fsid": s.get("fsid") or fsid, "type": s["type"], "id": str(s["id"]),
                     "running": bool(s.get("running", True)), "version": s.get("version")}
                    for s in services]
        reported_fsids = {s["fsid"] for s in reported} | ({fsid} if fsid else set())
        reported_keys = {(s["fsid"], s["type"], s["id"]) for s in reported}
        # The host's report replaces its services of the clusters it names, except OSDs: where
        # an OSD lives is the OSD metadata's to say (the report adds running state and version).
        others = [s for s in server.services + inherited
                  if (s["fsid"], s["type"], s["id"]) not in reported_keys
                  and (s["fsid"] not in reported_fsids or s["type"] == "osd")]
        self._set_services(server, others + reported, at)
        self.heartbeat(fsid, fqdn, at)

    def _merge_loopback_names(self, server: Server, at: datetime) -> list[dict[str, Any]]:
        """The host reported itself as `localhost` before (getfqdn() on a host whose /etc/hosts
        lists its name after localhost): that server is this one, and gives its services over."""
        inherited: list[dict[str, Any]] = []
        for other in list(self.servers.values()):
            if other is not server and other.hostname == server.hostname and other.merged_into is None \
                    and not other.forgotten and other.fqdn.split(".", 1)[0] in LOOPBACK_NAMES:
                inherited += other.services
                self._emit(other, Server.ServerMergedInto, at, fqdn=server.fqdn)
                self.last_contact_host.pop(other.fqdn, None)
        return inherited

    def _merge_short_name(self, server: Server, at: datetime) -> list[dict[str, Any]]:
        """A server first named by its short host name (from the OSD metadata, before its
        collector reported) is this one: it gives its services over and is retired."""
        short = self.servers.get(server.hostname)
        if short is None or short is server or short.managed or short.merged_into is not None:
            return []
        inherited = list(short.services)
        self._emit(short, Server.ServerMergedInto, at, fqdn=server.fqdn)
        return inherited

    def heartbeat(self, fsid: str | None, host: str, at: datetime) -> None:
        ts = at.timestamp()
        if fsid:
            self.last_contact[fsid] = ts
            cluster = self.clusters.get(fsid)
            if cluster is not None and cluster.stale:
                self._emit(cluster, Cluster.ClusterContactRegained, at)
        self._host_contact(host, at)

    def cluster_unreachable(self, fsid: str, host: str, at: datetime) -> None:
        """The collector on `host` is alive but cannot reach its cluster (e.g. every monitor is
        down): the host is in contact, and the cluster is stale now rather than after the contact
        timeout, which a live collector's heartbeats would otherwise keep postponing."""
        cluster = self.clusters.get(fsid)
        if cluster is not None and not cluster.stale:
            self._emit(cluster, Cluster.ClusterContactLost, at,
                       last_contact=self.last_contact.get(fsid, at.timestamp()))
        self._host_contact(host, at)

    def _host_contact(self, host: str, at: datetime) -> None:
        server = self.servers.get(host)
        if server is None or not server.managed:
            # A collector says hello and heartbeats under its short host name, and reports its
            # facts under its fqdn: a heartbeat counts for the server of that host name too, or
            # after a restart a host whose collector died before its next facts would never be lost.
            def fits(s: Server | None) -> bool:
                return s is not None and s.hostname == host and s.managed and s.merged_into is None \
                    and not s.forgotten
            cached = self.servers.get(self._fqdn_of_hello.get(host, ""))
            if not fits(cached):  # checked at each use, so a scan happens only when it changed
                cached = next((s for s in self.servers.values() if fits(s)), None)
                if cached is not None:
                    self._fqdn_of_hello[host] = cached.fqdn
            server = cached or server
        self.last_contact_host[host] = at.timestamp()
        if server is not None:
            self.last_contact_host[server.fqdn] = at.timestamp()
        if server is not None and server.contact_lost:
            self._emit(server, Server.ServerContactRegained, at)

    def check_contact(self, now: datetime, timeout_s: float) -> None:
        limit = now.timestamp() - timeout_s
        for fsid, last in self.last_contact.items():
            cluster = self.clusters.get(fsid)
            if cluster is not None and not cluster.stale and last < limit:
                self._emit(cluster, Cluster.ClusterContactLost, now, last_contact=last)
        for host, last in self.last_contact_host.items():
            server = self.servers.get(host)
            if server is not None and server.managed and not server.contact_lost and last < limit:
                self._emit(server, Server.ServerContactLost, now, last_contact=last)

    # ---------------------------------------------------------------- user requests

    def submit_request(self, request_id: str, fsid: str, username: str, kind: str, target: str,
                       headline: str, body: dict[str, Any], commands: list[dict[str, Any]],
                       at: datetime, expect: list[dict[str, Any]] | None = None) -> UserRequest:
        req = self._create(UserRequest, UserRequest.UserRequestSubmitted, ids.user_request_id(request_id),
                           at, request_id=request_id, fsid=fsid, username=username, kind=kind,
                           target=target, headline=headline, body=body, commands=commands, expect=expect)
        self._open_requests = None
        return req

    def open_requests(self) -> list[UserRequest]:
        """Requests not yet complete (kept as a set: the history of requests only grows)."""
        if self._open_requests is None:
            self._open_requests = {r.request_id for r in self.requests.values() if r.state != COMPLETE}
        return [r for r in (self.requests[i] for i in list(self._open_requests)) if r.state != COMPLETE]

    def pool_entry(self, fsid: str, pool_id: int) -> dict[str, Any] | None:
        """The pool's entry as the newest OSD map gave it (raw: targets, flags), None if it has none."""
        return self._pool_entries.get(fsid, {}).get(pool_id)

    def _request_done(self, req: UserRequest, event_class: type, at: datetime, **fields: Any) -> None:
        self._emit(req, event_class, at, **fields)
        if self._open_requests is not None:
            self._open_requests.discard(req.request_id)

    def _shows_expected(self, req: UserRequest) -> bool:
        from calamari.domain.requests.expect import expectation_met

        held = self.held.get(req.fsid, {}).get(req.awaiting.get("name", "osd_map"))
        if held is None or not _past(held[0], req.awaiting.get("after", -1)):
            return False
        return expectation_met(getattr(req, "expect", []), held[1], held[0])

    # ---------------------------------------------------------------- users

    def add_user(self, username: str, role: str, password_hash: str, email: str, by: str, at: datetime) -> User:
        user = self.users.get(username)
        if user is None:
            return self._create(User, User.UserCreated, ids.user_id(username), at, username=username, role=role,
                                password_hash=password_hash, email=email, by=by)
        if not user.deleted:
            raise ValueError(f"user {username!r} exists")
        self._emit(user, User.UserReinstated, at, role=role, password_hash=password_hash, email=email, by=by)
        return user

    def user_event(self, username: str, event_class: type, at: datetime, **fields: Any) -> None:
        self._emit(self.users[username], event_class, at, **fields)

    def user_changed(self, username: str) -> None:
        """Record the events a User command method (e.g. User.change) emitted itself."""
        user = self.users[username]
        self._touched.append(user)
        self._new.extend(e for e in user.pending_events if e not in self._new)

    def login_address_locked(self, address: str, until: float, failures: int, at: datetime) -> None:
        guard = self.aggregates.get(LOGIN_GUARD_ID)
        if guard is None:
            guard = self._create(LoginGuard, LoginGuard.LoginGuardCreated, LOGIN_GUARD_ID, at)
        self._emit(guard, LoginGuard.LoginAddressLocked, at, address=address, until=until, failures=failures)

    # ---------------------------------------------------------------- collector keys

    def register_collector_key(self, key_id: str, public_key: str, fingerprint: str, at: datetime,
                               source: str = "") -> CollectorKey:
        """Record a key as pending for host `key_id` (whether it may register is the caller's
        policy: calamari.domain.collector_key.registration_refusal). A key seen before for this host
        (deleted, or its pending registration expired) is pending again on its aggregate; one left
        under another host name is deleted there, so that a key is live under one name at a time."""
        mine = None
        for key in self.collector_keys.values():
            if key.public_key != public_key:
                continue
            if key.key_id == key_id:
                mine = key
            elif not key.deleted:
                self._emit(key, CollectorKey.CollectorKeyDeleted, at, by="calamari",
                           reason=f"the key registered again as {key_id}")
        if mine is None:
            return self._create(CollectorKey, CollectorKey.CollectorKeyRegistered, collector_key_id(key_id, public_key),
                                at, key_id=key_id, public_key=public_key, fingerprint=fingerprint, source=source)
        self._emit(mine, CollectorKey.CollectorKeyReregistered, at, public_key=public_key, fingerprint=fingerprint,
                   source=source)
        return mine

    def collector_key_event(self, key: CollectorKey, event_class: type, at: datetime, **fields: Any) -> None:
        self._emit(key, event_class, at, **fields)

    def request_executing(self, request_id: str, status: str, at: datetime) -> None:
        self._emit(self.requests[request_id], UserRequest.UserRequestExecuting, at, status=status)

    def request_command_succeeded(self, request_id: str, index: int, output: Any,
                                  awaiting: dict[str, Any], at: datetime) -> None:
        """A command ran. `awaiting` names the sync object and the version beyond which its effect
        must show ({"name": "osd_map", "after": 41}); an empty dict completes at once."""
        req = self.requests[request_id]
        if index < len(req.commands) - 1:  # more commands to run: not waiting for a map yet
            self._emit(req, UserRequest.UserRequestCommandSucceeded, at, index=index, output=output,
                       status=f"Running command {index + 2} of {len(req.commands)}", awaiting={})
            return
        if not getattr(req, "expect", None):
            awaiting = {}
        shown_in = "a CRUSH map" if awaiting.get("name") == "crush_map" else "an OSD map"
        status = (f"Waiting for {shown_in} showing the change" if awaiting else "Command completed")
        self._emit(req, UserRequest.UserRequestCommandSucceeded, at, index=index, output=output,
                   status=status, awaiting=awaiting)
        if not awaiting or self._shows_expected(req):
            self._request_done(req, UserRequest.UserRequestCompleted, at, status="Completed")

    def request_failed(self, request_id: str, error_message: str, at: datetime) -> None:
        req = self.requests[request_id]
        if req.state != COMPLETE:
            self._request_done(req, UserRequest.UserRequestFailed, at, error_message=error_message)

    def _complete_awaiting(self, fsid: str, name: str, version: SyncVersion, at: datetime) -> None:
        """A request completes when a newer map shows every change it asked for (a newer map that
        does not yet show it, e.g. pg_num still ramping, leaves it waiting)."""
        for req in self.open_requests():
            if req.fsid == fsid and req.awaiting.get("name") == name and self._shows_expected(req):
                self._request_done(req, UserRequest.UserRequestCompleted, at, status="Completed")


def _estimate_reflected(aggregates: Iterable[CalamariAggregate]) -> dict[str, dict[str, int]]:
    """For a snapshot written before reflected versions were kept: the versions its aggregates
    show (the OSD map's from its OSDs and pools, the others from the cluster's own fields)."""
    reflected: dict[str, dict[str, int]] = {}
    aggregates = list(aggregates)
    forgotten = {a.fsid for a in aggregates if isinstance(a, Cluster) and getattr(a, "forgotten", False)}
    for agg in aggregates:
        if getattr(agg, "fsid", None) in forgotten:
            continue  # forgetting a cluster clears its versions
        if isinstance(agg, Osd | Pool):
            found = {"osd_map": agg.epoch}
        elif isinstance(agg, Cluster):
            found = {"mon_map": agg.mon_map_epoch, "mon_status": agg.election_epoch,
                     "pg_summary": agg.pgmap_version, "crush_map": agg.crush_version,
                     "fs_map": agg.fs_map_epoch}
        else:
            continue
        versions = reflected.setdefault(agg.fsid, {})
        for name, version in found.items():
            if version and version > versions.get(name, 0):
                versions[name] = version
    return reflected


def _check_news(check: dict[str, Any]) -> tuple[Any, ...]:
    return check["severity"], check["count"], check.get("muted", False)


def _past(version: SyncVersion, after: SyncVersion) -> bool:
    if isinstance(version, int) and isinstance(after, int):
        return version > after
    return version != after


def _id_order(value: str) -> tuple[int, str]:
    # ASCII and short: isdigit() also takes '²', and int() refuses thousands of digits
    return (int(value), "") if value.isascii() and value.isdigit() and len(value) < 19 else (1 << 62, value)


def _changed_entries(name: str, field: str, key: str, model: type, items: Any,
                     previous: dict[int, Any]) -> tuple[list[Any], dict[int, Any]]:
    """Validate the entries that differ from the previous map's (the same object or an equal dict
    is unchanged), and index all raw entries by id."""
    if not isinstance(items, list):
        raise InvalidMap(name, field, "must be a list")
    changed: list[Any] = []
    entries: dict[int, Any] = {}
    for i, raw in enumerate(items):
        if not isinstance(raw, dict):
            raise InvalidMap(name, f"{field}.{i}", "must be an object")
        entry_id = raw.get(key)
        prev = previous.get(entry_id) if type(entry_id) is int else None
        if prev is not None and (prev is raw or prev == raw):
            entries[entry_id] = raw
            continue
        entry = validate(name, model, raw, f"{field}.{i}.")
        if getattr(entry, key) in entries:
            raise InvalidMap(name, f"{field}.{i}.{key}", "duplicate id")
        entries[getattr(entry, key)] = raw
        changed.append(entry)
    return changed, entries


def crush_placement(crush: dict[str, Any]) -> dict[int, dict[str, Any]]:
    """Each OSD's host bucket, ancestry (root first) and CRUSH weight, ignoring the per-class
    shadow trees (names with '~')."""
    buckets = {b["id"]: b for b in crush.get("buckets", []) if "~" not in b.get("name", "~")}
    parent: dict[int, int] = {}
    weight: dict[int, float] = {}
    for bucket in buckets.values():
        for item in bucket.get("items", []):
            parent.setdefault(item["id"], bucket["id"])
            if item["id"] >= 0:
                weight.setdefault(item["id"], round(item["weight"] / 0x10000, 5))
    classes = {d["id"]: d.get("class") for d in crush.get("devices", [])}
    result: dict[int, dict[str, Any]] = {}
    for device in crush.get("devices", []):
        osd = device["id"]
        chain: list[dict[str, Any]] = []
        node = parent.get(osd)
        while node is not None and len(chain) < 32:
            chain.append(buckets[node])
            node = parent.get(node)
        host = next((b["name"] for b in chain if b.get("type_name") == "host"), None)
        result[osd] = {
            "host": host,
            "ancestry": [b["name"] for b in reversed(chain)],
            "crush_weight": weight.get(osd),
            "device_class": classes.get(osd),
        }
    return result
