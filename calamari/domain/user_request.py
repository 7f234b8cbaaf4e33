"""The user request aggregate: a change to a cluster asked for by a user, from submission to its
outcome. Its events are the audit trail of who did what."""

from typing import Any

from eventsourcing.domain import Aggregate

from calamari.domain.base import CalamariAggregate

SUBMITTED, EXECUTING, COMPLETE = "submitted", "executing", "complete"


class UserRequest(CalamariAggregate):
    class UserRequestSubmitted(Aggregate.Created):
        request_id: str
        fsid: str
        username: str
        kind: str
        target: str
        headline: str
        body: dict[str, Any]
        commands: list[dict[str, Any]]
        expect: list[dict[str, Any]] | None = None  # what a map must show for the request to be done

    def __init__(
        self,
        request_id: str,
        fsid: str,
        username: str,
        kind: str,
        target: str,
        headline: str,
        body: dict[str, Any],
        commands: list[dict[str, Any]],
        expect: list[dict[str, Any]] | None = None,
    ) -> None:
        self.request_id = request_id
        self.fsid = fsid
        self.username = username
        self.kind = kind
        self.target = target
        self.headline = headline
        self.body = body
        self.commands = commands
        self.expect = expect or []
        self.state = SUBMITTED
        self.status = "Submitted"
        self.error = False
        self.error_message = ""
        self.awaiting: dict[str, Any] = {}
        self.results: list[dict[str, Any]] = []

    @property
    def finished(self) -> bool:
        return self.state == COMPLETE

    class UserRequestExecuting(Aggregate.Event):
        status: str

        def apply(self, req: "UserRequest") -> None:
            req.state, req.status = EXECUTING, self.status

    class UserRequestCommandSucceeded(Aggregate.Event):
        """A command ran; the request now waits for a map showing its effect (`awaiting`)."""

        index: int
        output: Any
        status: str
        awaiting: dict[str, Any]

        def apply(self, req: "UserRequest") -> None:
            req.results = [*req.results, {"index": self.index, "output": self.output}]
            req.status, req.awaiting = self.status, self.awaiting

    class UserRequestCompleted(Aggregate.Event):
        status: str

        def apply(self, req: "UserRequest") -> None:
            req.state, req.status, req.awaiting = COMPLETE, self.status, {}

    class UserRequestFailed(Aggregate.Event):
        error_message: str

        def apply(self, req: "UserRequest") -> None:
            req.state, req.error, req.error_message, req.awaiting = COMPLETE, True, self.error_message, {}
            req.status = "Failed"
