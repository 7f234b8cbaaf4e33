"""The server aggregate: one host (fqdn) running Ceph services, possibly of several clusters."""

from typing import Any

from eventsourcing.domain import Aggregate

from calamari.domain.base import CalamariAggregate


class Server(CalamariAggregate):
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
