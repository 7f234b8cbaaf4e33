"""The common base of calamari's aggregates."""

from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate


class CalamariAggregate(Aggregate):
    """An aggregate whose events take their time from the data that caused them (the domain
    reads no clock)."""

    def emit(self, event_class: type[Aggregate.Event], at: datetime, **fields: Any) -> None:
        self.trigger_event(event_class, timestamp=at, **fields)

    def domain_state(self) -> dict[str, Any]:
        """The domain fields (library bookkeeping left out), for comparisons and snapshots."""
        return {k: v for k, v in self.__dict__.items() if k != "_pending_events"}
