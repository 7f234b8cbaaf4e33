"""The common base of calamari's aggregates."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate

# While a change is recorded for undoing (see recording_prior_states), the state of each aggregate
# before its first event of that change, by object identity.
_prior_states: ContextVar[dict[int, tuple[CalamariAggregate, dict[str, Any]]] | None] = ContextVar(
    "calamari_prior_states", default=None)


class CalamariAggregate(Aggregate):
    """An aggregate whose events take their time from the data that caused them (the domain
    reads no clock)."""

    def emit(self, event_class: type[Aggregate.Event], at: datetime, **fields: Any) -> None:
        self.trigger_event(event_class, timestamp=at, **fields)

    def trigger_event(self, event_class: type[Any], **kwargs: Any) -> None:
        prior = _prior_states.get()
        if prior is not None and id(self) not in prior:
            # deep: some events change containers in place
            prior[id(self)] = (self, copy.deepcopy(self.domain_state()))
        super().trigger_event(event_class, **kwargs)

    def domain_state(self) -> dict[str, Any]:
        """The domain fields (library bookkeeping left out), for comparisons and snapshots."""
        return {k: v for k, v in self.__dict__.items() if k != "_pending_events"}


@contextmanager
def recording_prior_states() -> Iterator[dict[int, tuple[CalamariAggregate, dict[str, Any]]]]:
    """Within this block (in this thread), every aggregate keeps a copy of its state from before
    its first new event, so the block's changes can be undone (restore_prior_states)."""
    prior: dict[int, tuple[CalamariAggregate, dict[str, Any]]] = {}
    token = _prior_states.set(prior)
    try:
        yield prior
    finally:
        _prior_states.reset(token)


def restore_prior_states(prior: dict[int, tuple[CalamariAggregate, dict[str, Any]]]) -> None:
    """Put aggregates back as they were before the recorded events, their pending events dropped."""
    for agg, state in prior.values():
        # key by key, so that a reader without the lock never finds a field missing
        for name in [k for k in agg.__dict__ if k not in state and k != "_pending_events"]:
            del agg.__dict__[name]
        agg.__dict__.update(state)
        agg.__dict__["_pending_events"] = []
