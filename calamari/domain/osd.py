"""The OSD aggregate: one object storage daemon of a cluster, as the OSD map, the CRUSH map and
the OSD metadata describe it."""

from typing import Any

from eventsourcing.domain import Aggregate

from calamari.domain.base import CalamariAggregate

NIL_UUID = "00000000-0000-0000-0000-000000000000"  # the uuid of a destroyed OSD's id


class Osd(CalamariAggregate):
    class OsdAdded(Aggregate.Created):
        fsid: str
        osd_id: int
        uuid: str
        up: bool
        in_: bool
        reweight: float
        primary_affinity: float
        public_addr: str
        cluster_addr: str
        epoch: int

    def __init__(
        self,
        fsid: str,
        osd_id: int,
        uuid: str,
        up: bool,
        in_: bool,
        reweight: float,
        primary_affinity: float,
        public_addr: str,
        cluster_addr: str,
        epoch: int,
    ) -> None:
        self.fsid = fsid
        self.osd_id = osd_id
        self.uuid = uuid
        self.up = up
        self.in_ = in_
        self.reweight = reweight
        self.primary_affinity = primary_affinity
        self.public_addr = public_addr
        self.cluster_addr = cluster_addr
        self.epoch = epoch
        self.removed = False
        self.host: str | None = None
        self.crush_ancestry: list[str] = []
        self.crush_weight: float | None = None
        self.device_class: str | None = None
        self.metadata: dict[str, Any] = {}

    class OsdReadded(Aggregate.Event):
        """The id was reused for a new OSD after the old one was removed."""

        uuid: str
        up: bool
        in_: bool
        reweight: float
        primary_affinity: float
        public_addr: str
        cluster_addr: str
        epoch: int

        def apply(self, osd: "Osd") -> None:
            osd.uuid, osd.up, osd.in_, osd.reweight = self.uuid, self.up, self.in_, self.reweight
            osd.primary_affinity = self.primary_affinity
            osd.public_addr, osd.cluster_addr = self.public_addr, self.cluster_addr
            osd.epoch, osd.removed = self.epoch, False

    class OsdRemoved(Aggregate.Event):
        epoch: int

        def apply(self, osd: "Osd") -> None:
            osd.removed, osd.up, osd.in_, osd.epoch = True, False, False, self.epoch

    class OsdDestroyed(Aggregate.Event):
        """`ceph osd destroy`: the daemon and its keys are gone, the id waits for a replacement
        (which comes with a new uuid: OsdReadded)."""

        epoch: int

        def apply(self, osd: "Osd") -> None:
            osd.uuid, osd.epoch = NIL_UUID, self.epoch

    class OsdMarkedUp(Aggregate.Event):
        epoch: int

        def apply(self, osd: "Osd") -> None:
            osd.up, osd.epoch = True, self.epoch

    class OsdMarkedDown(Aggregate.Event):
        epoch: int

        def apply(self, osd: "Osd") -> None:
            osd.up, osd.epoch = False, self.epoch

    class OsdMarkedIn(Aggregate.Event):
        """Ceph gives an OSD coming in a reweight again; it is carried here, not as a reweight."""

        epoch: int
        reweight: float

        def apply(self, osd: "Osd") -> None:
            osd.in_, osd.reweight, osd.epoch = True, self.reweight, self.epoch

    class OsdMarkedOut(Aggregate.Event):
        """Ceph sets an out OSD's reweight to 0; it is carried here, not as a reweight."""

        epoch: int
        reweight: float

        def apply(self, osd: "Osd") -> None:
            osd.in_, osd.reweight, osd.epoch = False, self.reweight, self.epoch

    class OsdReweighted(Aggregate.Event):
        epoch: int
        reweight: float
        previous: float

        def apply(self, osd: "Osd") -> None:
            osd.reweight, osd.epoch = self.reweight, self.epoch

    class OsdPrimaryAffinityChanged(Aggregate.Event):
        epoch: int
        primary_affinity: float
        previous: float

        def apply(self, osd: "Osd") -> None:
            osd.primary_affinity, osd.epoch = self.primary_affinity, self.epoch

    class OsdAddressChanged(Aggregate.Event):
        epoch: int
        public_addr: str
        cluster_addr: str

        def apply(self, osd: "Osd") -> None:
            osd.public_addr, osd.cluster_addr, osd.epoch = self.public_addr, self.cluster_addr, self.epoch

    class OsdMovedInCrush(Aggregate.Event):
        """The OSD's place in the CRUSH hierarchy changed (or was first learned)."""

        crush_version: int
        host: str | None
        ancestry: list[str]
        previous_host: str | None

        def apply(self, osd: "Osd") -> None:
            osd.host, osd.crush_ancestry = self.host, self.ancestry

    class OsdCrushWeightChanged(Aggregate.Event):
        crush_version: int
        crush_weight: float | None
        device_class: str | None

        def apply(self, osd: "Osd") -> None:
            osd.crush_weight, osd.device_class = self.crush_weight, self.device_class

    class OsdMetadataChanged(Aggregate.Event):
        """Host name, version and devices reported by the daemon (`ceph osd metadata`)."""

        metadata: dict[str, Any]

        def apply(self, osd: "Osd") -> None:
            osd.metadata = self.metadata
