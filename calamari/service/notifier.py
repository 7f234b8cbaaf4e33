"""The notifier: alert changes in, notifications out, none lost.

`alert_changed(alert)` (called by the alerting service once an alert change is stored) only
queues the document in memory and wakes the delivery thread, which:

1. routes it (calamari.domain.notifications.routing) and writes the notifications it makes to the
   outbox durably (`ModelService.durable()`): once written, a crash does not lose them;
2. queues the repeats of firing alerts as they fall due;
3. sends what is due, one at a time, and records the outcome durably: delivered, or failed with
   the next attempt's time (back-off), or given up.

A delivery is recorded after the receiver answered and before the notifier moves on, so each
notification reaches each channel once when the receiver answered; one whose answer was not yet
recorded at a crash is sent again after the restart with the same id (receivers drop repeats).
Alert documents handed in but not yet written at a crash are handed in again by the alerting
service's `alert_source` at the start (the notification ids make that idempotent).

Channel secrets go to the SecretStore (a file of the data dir), never into events or answers."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from calamari.adapters.notify import DeliveryError, alertmanager, smtp, webhook
from calamari.adapters.notify.secrets import SECRETS_FILE, SecretStore
from calamari.domain.notifications import messages, outbox
from calamari.domain.notifications.channel import (
    ALERTMANAGER,
    EMAIL,
    Channel,
    ChannelError,
    check_channel_id,
    check_secret,
    check_settings,
)
from calamari.domain.notifications.notification import DELIVERED, STATES, TEST, Notification, notification_key
from calamari.domain.notifications.retention import (
    DEFAULT_NOTIFICATION_RETENTION,
    notifications_due,
    retire_notifications,
)
from calamari.domain.notifications.routing import (
    AlertDocumentError,
    Planned,
    RetryPolicy,
    check_alert,
    for_repeat,
    plan_for_change,
    repeats_due,
)
from calamari.service.model import NotPersisted

log = logging.getLogger(__name__)

IDLE_TICK_S = 1.0  # how often repeats are checked when nothing else wakes the thread
STORE_RETRY_S = 5.0  # after the store refused a change
MAX_IN_FLIGHT = 16  # channels sent to at once (one notification per channel at a time)
RETIRE_EVERY_S = 3600.0  # finished notifications past the retention leave: at a start, then hourly
RETIRE_STEP = 1000  # about this many retired under one hold of the model's lock
MAX_QUEUED_ALERTS = 100_000  # alert documents waiting to be routed (the alerting service floods: drop oldest)

Deliver = Callable[[Channel, Notification, "str | None", datetime], str]


def deliver(channel: Channel, note: Notification, secret: str | None, now: datetime) -> str:
    """Send one notification through its channel's kind of receiver (DeliveryError if it failed)."""
    alert, settings = note.alert, channel.settings
    if channel.kind == EMAIL:
        message = smtp.build_message(settings, note.notification_id, messages.email_subject(note.reason, alert),
                                     messages.email_text(note.notification_id, note.reason, alert), now.timestamp())
        return smtp.send(settings, secret, message)
    if channel.kind == ALERTMANAGER:
        body = messages.alertmanager_alert(note.notification_id, note.reason, alert,
                                           settings["repeat_interval_s"], now)
        return alertmanager.send(settings["url"], secret, note.notification_id, body, settings.get("ca_file"))
    body = messages.webhook_body(note.notification_id, channel.channel_id, note.reason, alert, now)
    return webhook.send(settings["url"], secret, note.notification_id, body, now.timestamp(), settings.get("ca_file"))


class Notifier:
    """The delivery worker thread and the operations on channels and the outbox."""

    def __init__(self, service: Any, secrets: SecretStore, *, sender: Deliver = deliver,
                 clock: Callable[[], float] = time.time, retry: RetryPolicy | None = None,
                 alert_source: Callable[[], Iterable[Mapping[str, Any]]] | None = None,
                 retention: timedelta = DEFAULT_NOTIFICATION_RETENTION) -> None:
        """`alert_source`: the alerts as they are now (the alerting service's), handed in again
        at the start so that a change not yet routed at a crash is not lost."""
        self.service = service
        self.secrets = secrets
        self.sender = sender
        self.clock = clock
        self.retry = retry or RetryPolicy()
        self.alert_source = alert_source
        self.retention = retention
        self._next_retire = 0.0  # time.monotonic() of the next retirement pass
        self._incoming: deque[dict[str, Any]] = deque()
        self._firing: dict[str, dict[str, Any]] = {}  # alert id -> its newest document, while it fires
        self._wake = threading.Condition()
        self._channel_lock = threading.Lock()  # a channel's secret and its events change together
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self.rejected = 0  # malformed alert documents
        self.dropped = 0  # alert documents dropped when too many waited
        self._in_flight: set[str] = set()  # channels a sending thread is busy with (under _wake)
        self._senders: set[threading.Thread] = set()  # sending threads running (under _wake)
        self._sent_since_pass = False  # a sending thread ended since the pass began (under _wake)
        self._store_refused_until = 0.0  # time.monotonic() before which no outcome is recorded

    # ------------------------------------------------------------------ the hand-over

    def alert_changed(self, alert: Mapping[str, Any]) -> None:
        """An alert change was stored: notify who should know (thread-safe; returns at once).
        A malformed document is logged and dropped."""
        try:
            doc = check_alert(alert)
        except AlertDocumentError as err:
            self.rejected += 1
            log.warning("alert document refused by the notifier: %s", err)
            return
        with self._wake:
            if len(self._incoming) >= MAX_QUEUED_ALERTS:
                self._incoming.popleft()
                self.dropped += 1
                if self.dropped % 1000 == 1:  # the first, then every thousandth
                    log.warning("notifier: %d alert documents wait to be routed; the oldest dropped (%d so far)",
                                MAX_QUEUED_ALERTS, self.dropped)
            self._incoming.append(doc)
            self._wake.notify()

    # ------------------------------------------------------------------ the thread

    def start(self) -> None:
        if self.alert_source is not None:
            for alert in self.alert_source():
                self.alert_changed(alert)
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="notifier", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop routing and sending; a send under way is given until `timeout` to finish and be
        recorded (one not recorded is sent again after the restart)."""
        self._stopping.set()
        with self._wake:
            self._wake.notify()
            senders = list(self._senders)
        deadline = time.monotonic() + timeout
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        for thread in senders:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _run(self) -> None:
        while not self._stopping.is_set():
            with self._wake:
                self._sent_since_pass = False
            try:
                if time.monotonic() >= self._next_retire:
                    self._next_retire = time.monotonic() + RETIRE_EVERY_S
                    self.retire()
                wait = self.process(wait=False)
            except NotPersisted as err:
                log.warning("notifier: the event store did not take a change (%s); retrying in %.0f s",
                            err.reason, STORE_RETRY_S)
                wait = STORE_RETRY_S
            except Exception:
                log.exception("notifier pass failed")
                wait = STORE_RETRY_S
            with self._wake:
                if not (self._incoming or self._sent_since_pass or self._stopping.is_set()):
                    self._wake.wait(wait)

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def process(self, wait: bool = True) -> float:
        """One pass: route what came in, queue due repeats, start sending what is due (each
        channel's notifications one at a time, in order; channels at once, so that a slow
        receiver delays only its own). With `wait`, until nothing is due any more (tests).
        Returns the seconds until something else falls due (at most IDLE_TICK_S)."""
        self._route_incoming()
        self._queue_repeats()
        while True:
            started, next_due = self._start_due()
            if not wait:
                return next_due
            for thread in started:
                thread.join()
            if not started:
                return next_due

    def _route_incoming(self) -> None:
        while True:
            with self._wake:
                if not self._incoming:
                    return
                alert = self._incoming[0]
            try:
                with self.service.durable() as model:  # NotPersisted leaves it queued: tried again later
                    planned = plan_for_change(alert, model.channels.values(), outbox.was_queued(model))
                    self._queue(model, planned, alert)
            except NotPersisted:
                raise
            except Exception:
                log.exception("alert %s could not be routed; dropped", alert.get("id"))
            with self._wake:
                if self._incoming and self._incoming[0] is alert:
                    self._incoming.popleft()
            if alert["state"] == "firing":
                self._firing[alert["id"]] = alert
            else:
                self._firing.pop(alert["id"], None)

    def _queue(self, model: Any, planned: list[Planned], alert: dict[str, Any]) -> None:
        at = self.now()
        for plan in planned:
            outbox.queue_notification(model, plan, alert, at)

    def _queue_repeats(self) -> None:
        now = self.now()
        for alert in list(self._firing.values()):
            with self.service.reading():
                planned = repeats_due(alert, self.service.model.channels.values(),
                                      outbox.was_queued(self.service.model), now)
            if planned:
                with self.service.durable() as model:
                    self._queue(model, planned, for_repeat(alert))

    def _start_due(self) -> tuple[list[threading.Thread], float]:
        """Start a sending thread for each channel not busy whose oldest pending notification is
        due: a channel's notifications go in the order they were queued, so a resolved one never
        overtakes its firing one that waits for a retry. Returns the threads, and the seconds
        until the next one not started falls due."""
        if time.monotonic() < self._store_refused_until or self._stopping.is_set():
            return [], STORE_RETRY_S
        now = self.now()
        next_due = IDLE_TICK_S
        chosen: list[tuple[Notification, Channel | None]] = []
        heads: set[str] = set()  # channels whose oldest pending notification was seen
        with self.service.reading(), self._wake:
            pending = sorted(self.service.model.pending_notifications(),
                             key=lambda n: (n.queued_at, n.notification_id))
            for note in pending:
                if note.channel_id in heads or note.channel_id in self._in_flight:
                    continue
                heads.add(note.channel_id)
                due_in = (note.due - now).total_seconds()
                if due_in > 0:
                    next_due = min(next_due, due_in)
                    continue
                if len(self._in_flight) >= MAX_IN_FLIGHT:
                    break
                self._in_flight.add(note.channel_id)
                chosen.append((note, self.service.model.channels.get(note.channel_id)))
        started = []
        for note, channel in chosen:
            thread = threading.Thread(target=self._send_one, args=(note, channel), daemon=True,
                                      name=f"notify-{note.channel_id}")
            with self._wake:
                self._senders.add(thread)
            thread.start()
            started.append(thread)
        return started, next_due

    def _send_one(self, note: Notification, channel: Channel | None) -> None:
        try:
            self._attempt(note, channel)
        except NotPersisted as err:
            # the outcome is not recorded: it is sent again once the store takes changes
            self._store_refused_until = time.monotonic() + STORE_RETRY_S
            log.warning("notifier: the outcome of notification %s was not stored (%s); it is sent again later",
                        note.notification_id, err.reason)
        except Exception:
            self._store_refused_until = time.monotonic() + STORE_RETRY_S
            log.exception("sending notification %s failed", note.notification_id)
        finally:
            with self._wake:
                self._in_flight.discard(note.channel_id)
                self._senders.discard(threading.current_thread())
                self._sent_since_pass = True
                self._wake.notify()

    def _attempt(self, note: Notification, channel: Channel | None) -> None:
        if channel is None or channel.deleted:  # cannot happen: deleting a channel cancels its notifications
            with self.service.durable() as model:
                model.emit(note, Notification.NotificationCancelled, self.now(), reason_text="no such channel")
            return
        try:
            secret = self.secrets.get(channel.channel_id)
            if channel.has_secret and secret is None:
                # never sent unsigned, or to SMTP without its password: an admin sets it again
                raise DeliveryError(f"the secret of channel {channel.channel_id} is missing from the data dir's "
                                    f"{SECRETS_FILE}: set it again (PATCH its secret)")
            detail = self.sender(channel, note, secret, self.now())
        except DeliveryError as err:
            now = self.now()
            retry_at = self.retry.retry_at(note.attempts + 1, note.retrying_since, now, err.permanent)
            log.warning("notification %s to channel %s failed (attempt %d): %s%s", note.notification_id,
                        channel.channel_id, note.attempts + 1, err,
                        "; given up" if retry_at is None else f"; next attempt at {retry_at.isoformat()}")
            with self.service.durable() as model:
                if outbox.is_pending(note):  # not cancelled meanwhile
                    outbox.delivery_failed(model, note, str(err), retry_at, now)
            return
        with self.service.durable() as model:
            outbox.delivered(model, note, detail, self.now())
        log.info("notification %s (%s of alert %s) delivered to channel %s: %s", note.notification_id,
                 note.reason, note.alert_id, channel.channel_id, detail)

    def wake(self) -> None:
        with self._wake:
            self._wake.notify()

    # ------------------------------------------------------------------ channels

    def channels(self) -> list[Channel]:
        with self.service.reading():
            return sorted((c for c in self.service.model.channels.values() if not c.deleted),
                          key=lambda c: c.channel_id)

    def channel(self, channel_id: str) -> Channel:
        """KeyError if there is no such channel."""
        with self.service.reading():
            return outbox.live_channel(self.service.model, channel_id)

    def create_channel(self, channel_id: Any, kind: Any, fields: Mapping[str, Any], secret: Any,
                       by: str) -> Channel:
        """ChannelError (nothing stored) for a bad setting or an id in use; NotPersisted."""
        check_channel_id(channel_id)
        if secret is not None:
            check_secret(secret)
        settings = check_settings(kind, fields, has_secret=secret is not None)
        with self._channel_lock:
            with self.service.reading():
                existing = self.service.model.channels.get(channel_id)
                if existing is not None and not existing.deleted:
                    raise ChannelError("id", f"a channel {channel_id!r} exists")
            previous = self.secrets.put(channel_id, secret)
            try:
                with self.service.durable() as model:
                    return outbox.create_channel(model, channel_id, kind, settings, secret is not None, by,
                                                 self.now())
            except BaseException:
                self.secrets.put(channel_id, previous)
                raise

    def update_channel(self, channel_id: str, fields: Mapping[str, Any], by: str, *, secret_given: bool = False,
                       secret: str | None = None) -> Channel:
        """New settings over the channel's (and a new secret when `secret_given`: None removes it).
        KeyError, ChannelError (nothing stored), NotPersisted."""
        if secret_given and secret is not None:
            check_secret(secret)
        with self._channel_lock:
            channel = self.channel(channel_id)
            has_secret = (secret is not None) if secret_given else channel.has_secret
            settings = check_settings(channel.kind, fields, has_secret, previous=channel.settings)
            previous = self.secrets.put(channel_id, secret) if secret_given else None
            try:
                with self.service.durable() as model:
                    outbox.update_channel(model, outbox.live_channel(model, channel_id), settings, has_secret, by,
                                          self.now(), secret_changed=secret_given and (secret or previous) is not None)
            except BaseException:
                if secret_given:
                    self.secrets.put(channel_id, previous)
                raise
        self.wake()
        return channel

    def delete_channel(self, channel_id: str, by: str) -> int:
        """Delete it and cancel what it had to send (returns how many). KeyError, NotPersisted."""
        with self._channel_lock:
            with self.service.durable() as model:
                cancelled = outbox.delete_channel(model, outbox.live_channel(model, channel_id), by, self.now())
            self.secrets.put(channel_id, None)
        return cancelled

    def send_test(self, channel_id: str, by: str) -> Notification:
        """Queue a test notification to one channel, through the outbox like any other."""
        now = self.now()
        alert_id = f"test-{channel_id}-{int(now.timestamp() * 1000)}"
        alert = {"id": alert_id, "rule": "test", "severity": "info", "state": "firing", "silenced": False,
                 "acknowledged_by": None, "cluster": None, "object": None,
                 "summary": f"Test notification of channel {channel_id}", "description": f"Sent at {by}'s request.",
                 "labels": {}, "raised_at": now.isoformat(), "updated_at": now.isoformat(), "resolved_at": None,
                 "changes_before": []}
        with self.service.durable() as model:
            outbox.live_channel(model, channel_id)
            plan = Planned(notification_key(alert_id, channel_id, TEST, now.isoformat()), channel_id, TEST)
            note = outbox.queue_notification(model, plan, alert, now)
        self.wake()
        return note

    # ------------------------------------------------------------------ the outbox

    def notifications(self, state: str | None = None, channel: str | None = None,
                      alert: str | None = None) -> list[Notification]:
        """The outbox, newest first, filtered."""
        if state is not None and state not in STATES:
            raise ValueError(state)
        with self.service.reading():
            notes = list(self.service.model.notifications.values())
        chosen = [n for n in notes if (state is None or n.state == state)
                  and (channel is None or n.channel_id == channel) and (alert is None or n.alert_id == alert)]
        return sorted(chosen, key=lambda n: (n.queued_at, n.notification_id), reverse=True)

    def notification(self, notification_id: str) -> Notification:
        with self.service.reading():
            return self.service.model.notifications[notification_id]

    def retired(self, notification_id: str) -> datetime | None:
        """When a notification left the live model, if it is one of the retired ones the model
        still names."""
        with self.service.reading():
            retention = self.service.model.outbox_retention
            return retention.retired_notifications.get(notification_id) if retention is not None else None

    def retire(self) -> int:
        """Retire the finished notifications older than the retention (stored durably, about
        RETIRE_STEP at a time: the model's lock is given back between steps); returns how many.
        NotPersisted is logged: the next pass tries again."""
        now, firing, retired = self.now(), set(self._firing), 0
        with self.service.reading():
            groups = notifications_due(self.service.model, now - self.retention, firing)
        start = 0
        while start < len(groups):
            end, size = start + 1, len(groups[start])  # whole alerts' groups, about RETIRE_STEP ids
            while end < len(groups) and size + len(groups[end]) <= RETIRE_STEP:
                size, end = size + len(groups[end]), end + 1
            step, start = groups[start:end], end
            try:
                with self.service.durable() as model:
                    retired += retire_notifications(model, self.retention, now, firing, step)
            except NotPersisted as err:
                log.warning("notifier: retirement not stored (%s); the next pass tries again", err.reason)
                break
        if retired:
            log.info("notifier: retired %d finished notifications older than %s", retired, self.retention)
        return retired

    def retry_notification(self, notification_id: str, by: str) -> Notification:
        """Try one that was given up again. KeyError; ValueError unless it was given up; NotPersisted."""
        with self.service.durable() as model:
            note = model.notifications[notification_id]
            outbox.retry(model, note, by, self.now())
        self.wake()
        return note

    def delivered_count(self) -> int:
        with self.service.reading():
            return sum(1 for n in self.service.model.notifications.values() if n.state == DELIVERED)
