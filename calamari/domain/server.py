"""The server aggregate: one host (fqdn) running Ceph services, possibly of several clusters."""

from typing import Any

from eventsourcing.domain import Aggregate

from calamari.domain.base import CalamariAggregate
from calamari.protocol.host_names import LOOPBACK_NAMES  # noqa: F401  (model.py reads it from here)


def osd_service_keys(services: list[dict[str, Any]]) -> list[tuple[str, int]]:
    """(fsid, OSD id) of each OSD among a server's services: what says which server an OSD runs
    on (its metadata names the host as the host calls itself, often by its short name)."""
    return [(s["fsid"], int(s["id"])) for s in services
            if s.get("type") == "osd" and s.get("fsid") and str(s.get("id")).isdigit()]


# A host's boot time is derived from its clock (psutil reads /proc/stat's btime, which moves when
# NTP steps the clock): a report within this many seconds of the held one is the same boot, not a
# change worth an event (a time that jittered by a second once made one event per report).
BOOT_TIME_JITTER_S = 60.0


def facts_changed(held: dict[str, Any], reported: dict[str, Any]) -> bool:
    """Whether a host's reported facts differ from the held ones by more than boot-time jitter."""
    if held.keys() != reported.keys():
        return True
    for key, value in reported.items():
        old = held[key]
        if key == "boot_time" and isinstance(value, int | float) and isinstance(old, int | float):
            if abs(value - old) > BOOT_TIME_JITTER_S:
                return True
        elif value != old:
            return True
    return False


class Server(CalamariAggregate):
    # Set when a host first known by its short name (from `ceph osd metadata`) turns out to be
    # another server's fqdn; a class default so snapshots written before it existed still load.
    merged_into: str | None = None
    forgotten = False  # an admin removed it from the lists (a class default, as above)

    class ServerDiscovered(Aggregate.Created):
        fqdn: str
        hostname: str

    def __init__(self, fqdn: str, hostname: str) -> None:
        self.fqdn = fqdn
        self.hostname = hostname
        self.services: list[dict[str, Any]] = []
        self.facts: dict[str, Any] = {}
        self.contact_lost = False
        self.managed = False

    class ServerServicesChanged(Aggregate.Event):
        """`services`: [{fsid, type, id, running, version}], sorted by (fsid, type, id)."""

        services: list[dict[str, Any]]
        added: list[str]
        removed: list[str]

        def apply(self, server: "Server") -> None:
            server.services = self.services

    class ServerFactsChanged(Aggregate.Event):
        facts: dict[str, Any]

        def apply(self, server: "Server") -> None:
            server.facts, server.managed = self.facts, True

    class ServerContactLost(Aggregate.Event):
        last_contact: float

        def apply(self, server: "Server") -> None:
            server.contact_lost = True

    class ServerContactRegained(Aggregate.Event):
        def apply(self, server: "Server") -> None:
            server.contact_lost = False

    class ServerMergedInto(Aggregate.Event):
        """This host name was a short name of `fqdn`, which reported itself: its services moved there."""

        fqdn: str

        def apply(self, server: "Server") -> None:
            server.merged_into, server.services = self.fqdn, []

    class ServerReclaimed(Aggregate.Event):
        """A host merged into another server reports its facts under this name again."""

        def apply(self, server: "Server") -> None:
            server.merged_into = None

    class ServerForgotten(Aggregate.Event):
        """An admin removed a host that runs no Ceph service any more (a decommissioned one)."""

        by: str

        def apply(self, server: "Server") -> None:
            server.forgotten, server.services = True, []

    class ServerRediscovered(Aggregate.Event):
        """A forgotten host was named again (its collector reported, or the OSD metadata)."""

        def apply(self, server: "Server") -> None:
            server.forgotten = False
