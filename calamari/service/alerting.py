"""The alerting service: evaluates the alert rules on the in-memory model as changes are committed
(a listener of ModelService notes what each commit touched, and a thread evaluates the rules for
those objects only), and on a timer for durations ("down longer than 5 minutes"), time-series
thresholds and silences that start or end. Alert events are stored durably before the
`alert_sink` (the notifier) hears of them; rule changes, acknowledgements and silences are made by
people and stored the same way."""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from calamari.domain.alerts.alert import Alert, alert_document
from calamari.domain.alerts.changes import RecentChanges
from calamari.domain.alerts.evaluate import AlertEngine, Scope
from calamari.domain.alerts.retention import (
    DEFAULT_ALERT_RETENTION,
    AlertRetention,
    alerts_due,
    retire_alerts,
    silences_due,
)
from calamari.domain.alerts.rules import SERIES_LOOKBACK_S, AlertRule, RuleDefinition
from calamari.domain.alerts.silence import Silence, silence_document
from calamari.service.model import ModelService, NotPersisted

log = logging.getLogger(__name__)

DEFAULT_INTERVAL_S = 5.0
# A condition that has held for its rule's duration is raised by a full pass run when that
# duration ends (not at the next timer pass, up to 5 s later): at most one such pass this often,
# so that many conditions falling due one after another cost a pass each half second at most.
DUE_PASS_GAP_S = 0.5
DEFAULT_WINDOW = timedelta(minutes=30)
# A pass caused by a change waits this long after it: the changes of a burst (a map, the next one
# a few milliseconds later) are evaluated together, and the pass is not run in the milliseconds
# when the server answers the first reads of the change.
SETTLE_S = 0.02
PRIME_EVENTS = 200_000  # the newest stored events read at a start for what changed before alerts
RETIRE_EVERY_S = 3600.0  # resolved alerts and ended silences past the retention leave: at a start, then hourly
RETIRE_STEP = 1000  # retired under one hold of the model's lock (a first pass may find years' worth)


class AlertSink(Protocol):
    """Told of every stored change to an alert, with its document as `GET /api/v2/alert/<id>` has it."""

    def alert_changed(self, alert: Mapping[str, Any]) -> None: ...


class NoAlertSink:
    def alert_changed(self, alert: Mapping[str, Any]) -> None:
        return None


# A reader of time series: (pattern, seconds) -> [(metric, newest value within those seconds)].
SeriesReader = Callable[[str, int], list[tuple[str, float]]]


def whisper_reader(store: Any, clock: Callable[[], float] = time.time) -> SeriesReader:
    """The newest non-empty value of each metric matching a pattern, from a WhisperStore (its
    points in memory when it has them all: a rule over 10,000 OSDs reads no file)."""
    def read(pattern: str, seconds: int) -> list[tuple[str, float]]:
        return store.newest(pattern, seconds, int(clock()))
    return read


class OlderChanges:
    """The stored changes from before a start that alerts raised after it may show: only those of
    the window before now, so a start reads the events of that window and no more (going back
    until a whole batch is older than it, or `limit_events` were read)."""

    def __init__(self, alerting: AlertingService, limit_events: int) -> None:
        self.alerting = alerting
        self.limit_events = limit_events
        self.oldest_wanted = alerting.clock() - alerting.changes.window
        self.batches: list[RecentChanges] = []  # newest first
        self.read = 0
        self.primed = threading.Event()

    def take(self, positioned: list[tuple[int, Any]]) -> bool:
        """Stored events older than all taken before, oldest first; True while older ones may
        still be within the window. Each batch is kept as its entries, not its events."""
        if not positioned or self.read >= self.limit_events:
            return False
        positioned = positioned[-(self.limit_events - self.read):]
        self.read += len(positioned)
        changes = RecentChanges(self.alerting.changes.window, self.alerting.changes.capacity)
        aggregates = self.alerting.service.model.aggregates
        for _, event in positioned:
            agg = aggregates.get(event.originator_id)
            if agg is not None:
                changes.add(event, agg)
        self.batches.append(changes)
        return self.read < self.limit_events and positioned[0][1].timestamp >= self.oldest_wanted

    def finish(self) -> None:
        """Put what was taken in front of the changes seen since the start; sets `primed`."""
        service = self.alerting.service
        try:
            older = RecentChanges(self.alerting.changes.window, self.alerting.changes.capacity)
            for changes in reversed(self.batches):  # oldest first
                for key, entries in changes.entries.items():
                    older.entries.setdefault(key, deque(maxlen=older.capacity)).extend(entries)
            with service.reading():
                self.alerting.changes.add_older(older)
        except Exception:  # what changed before is context; the alerts themselves do not need it
            if not service.closed:
                log.exception("could not read the stored changes for alerts")
        finally:
            self.batches = []
            self.primed.set()


class AlertingService:
    """Rules over the model service's model; `attach()` then `start()`, `stop()` at the end."""

    def __init__(self, service: ModelService, *, alert_sink: AlertSink | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC), series: SeriesReader | None = None,
                 interval_s: float = DEFAULT_INTERVAL_S, window: timedelta = DEFAULT_WINDOW,
                 retention: timedelta = DEFAULT_ALERT_RETENTION) -> None:
        self.service = service
        self.alert_sink: AlertSink = alert_sink or NoAlertSink()
        self.clock = clock
        self.series = series
        self.interval_s = interval_s
        self.engine = AlertEngine()
        self.changes = RecentChanges(window)
        self.retention = retention
        self._next_retire = 0.0  # time.monotonic() of the next retirement pass
        self.generation = 0  # counts changes to alerts, silences and rules (the lists' ETags)
        self._scope = Scope()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._evaluating = threading.Lock()  # one pass at a time (the thread, tests, API changes)
        self.failed_passes = 0
        self.primed = threading.Event()  # set once attach() has read the stored changes
        self.primed.set()
        self.older: OlderChanges | None = None  # what attach() reads them into

    # ------------------------------------------------------------------ wiring

    def attach(self, prime_events: int = PRIME_EVENTS, *, read_past: bool = True) -> threading.Event:
        """Listen to commits from now on, and read the newest stored events (a background thread)
        so that alerts raised soon after a start still see what changed before it. Returns an
        Event set once they are read. With `read_past` False the caller reads them instead,
        handing them to older_changes() (calamari-server reads them once for the event feed and
        alerting, after its API answers)."""
        with self.service.reading():
            self.service.writer.flush(self.service.config.durable_timeout)
            end = self.service.position()
            self.service.listeners.append(self._on_commit)
        older = self.older = self.older_changes(prime_events)
        self.primed = older.primed

        def prime() -> None:
            try:
                with self.service.reading_store() as store:
                    for batch in store.read_newest_first(end):
                        if not older.take(batch) or self.service.closed:
                            break
            except Exception:  # what changed before is context; the alerts themselves do not need it
                if not self.service.closed:
                    log.exception("could not read the stored changes for alerts")
            finally:
                older.finish()

        if not read_past:
            return older.primed
        if end > 0 and prime_events > 0:
            threading.Thread(target=prime, name="alerting-history", daemon=True).start()
        else:
            older.finish()
        return older.primed

    def older_changes(self, limit_events: int = PRIME_EVENTS) -> OlderChanges:
        """What changed before the start, built from stored events handed over going back from the
        newest (`take`) and put in front of the changes seen since (`finish`, which sets `primed`)."""
        return OlderChanges(self, limit_events)

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="alerting", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _on_commit(self, events: list[Any], model: Any) -> None:
        """Under the service lock, with each committed batch: note what it touched (cheap)."""
        touched = False
        for event in events:
            agg = model.aggregates.get(event.originator_id)
            if isinstance(agg, Alert | Silence | AlertRule | AlertRetention):
                self.generation += 1
                continue
            if agg is None:
                continue
            self.changes.add(event, agg)
            self._scope.add(agg, event)
            touched = True
        if touched:
            self._wake.set()

    def due_in(self) -> float | None:
        """Seconds until the first condition that holds but is not raised yet has lasted its
        rule's duration (0 or less: now); None when there is none."""
        with self._evaluating:
            pending = list(self.engine.pending.items())
        if not pending:
            return None
        with self.service.reading():
            rules = self.service.model.alert_rule_set()
        now = self.clock()
        soonest: float | None = None
        for key, since in pending:
            rule = rules.get(key.split("|", 1)[0])
            if rule is None or not rule.enabled:
                continue
            left = rule.for_seconds - (now - since).total_seconds()
            soonest = left if soonest is None else min(soonest, left)
        return soonest

    def _due_or_none(self) -> float | None:
        try:
            return self.due_in()
        except Exception:  # the timer still runs the passes; the log says why
            log.exception("cannot tell when pending alert conditions fall due")
            return None

    def _run(self) -> None:
        # an alert raised before the stored past is read would record too little of what came
        # before it: the first pass waits for it
        while not self.primed.wait(0.5):
            if self._stop.is_set() or self.service.closed:
                return
        last_full = 0.0
        while not self._stop.is_set():
            since_full = time.monotonic() - last_full
            wait = self.interval_s - since_full
            due = self._due_or_none()
            if due is not None:
                wait = min(wait, max(due, DUE_PASS_GAP_S - since_full))
            if self._wake.wait(max(0.05, wait)):
                self._stop.wait(SETTLE_S)
            if self._stop.is_set() or self.service.closed:
                return
            self._wake.clear()
            try:
                if time.monotonic() >= self._next_retire:
                    self._next_retire = time.monotonic() + RETIRE_EVERY_S
                    self.retire()
                since_full = time.monotonic() - last_full
                due = self._due_or_none()
                if since_full >= self.interval_s or (due is not None and due <= 0 and since_full >= DUE_PASS_GAP_S):
                    last_full = time.monotonic()
                    self.evaluate_all()
                else:
                    self.evaluate_changes()
            except Exception:  # a failing pass must not end alerting; the next one retries
                self.failed_passes += 1
                log.exception("alert evaluation failed")

    # ------------------------------------------------------------------ passes

    def evaluate_changes(self) -> list[dict[str, Any]]:
        """Evaluate the rules for what the commits since the last pass touched."""
        with self.service.reading():
            scope, self._scope = self._scope, Scope()
        if not scope:
            return []
        return self._pass(scope)

    def evaluate_all(self) -> list[dict[str, Any]]:
        """Evaluate every rule on everything, time series included, and refresh silences."""
        with self.service.reading():
            self._scope = Scope()
        return self._pass(None)

    def _pass(self, scope: Scope | None) -> list[dict[str, Any]]:
        with self._evaluating:
            now = self.clock()
            fetch = self._prefetch() if scope is None else None
            saved = dict(self.engine.pending)
            try:
                with self.service.durable() as model:
                    rules = list(model.alert_rule_set().values())
                    touched = self.engine.run(model, rules, scope, now, fetch, self.changes.before)
                    if scope is None:
                        open_alerts = [a for r in rules for a in model.open_alerts_of(r.name)]
                        extra: dict[str, Alert] = {}
                        self.engine.silence(model, open_alerts, now, extra)
                        touched += [a for i, a in extra.items() if all(t.alert_id != i for t in touched)]
                    documents = [alert_document(a) for a in touched]
            except NotPersisted as err:
                self.engine.pending = saved
                log.warning("alert changes not stored (%s); the next pass tries again", err.reason)
                return []
        self._tell(documents)
        return documents

    def _prefetch(self) -> Callable[[str, int], list[tuple[str, float]]] | None:
        """Read the series the enabled series rules need, outside the service lock."""
        if self.series is None:
            return None
        with self.service.reading():
            rules = [r for r in self.service.model.alert_rule_set().values() if r.kind == "series" and r.enabled]
            fsids = list(self.service.model.clusters)
        read: dict[tuple[str, int], list[tuple[str, float]]] = {}
        for rule in rules:
            for fsid in fsids:
                pattern = f"ceph.cluster.{fsid}.{rule.params['metric']}"
                try:
                    read[(pattern, SERIES_LOOKBACK_S)] = self.series(pattern, SERIES_LOOKBACK_S)
                except Exception:  # an unreadable series is no alert; the log says why
                    log.exception("cannot read %s for rule %s", pattern, rule.name)
                    read[(pattern, SERIES_LOOKBACK_S)] = []
        return lambda pattern, seconds: read.get((pattern, seconds), [])

    def _tell(self, documents: list[dict[str, Any]]) -> None:
        for document in documents:
            try:
                self.alert_sink.alert_changed(document)
            except Exception:  # the notifier keeps its own outbox; a failure there is its to report
                log.exception("alert sink failed for alert %s", document.get("id"))

    def retire(self) -> tuple[int, int]:
        """Retire the resolved alerts and ended silences older than the retention (stored
        durably, RETIRE_STEP of each at a time: the model's lock is given back between steps);
        returns how many of each."""
        now, counts = self.clock(), (0, 0)
        with self.service.reading():
            alerts = alerts_due(self.service.model, now - self.retention)
            silences = silences_due(self.service.model, now - self.retention)
        for start in range(0, max(len(alerts), len(silences)), RETIRE_STEP):
            with self._evaluating:
                try:
                    with self.service.durable() as model:
                        step = retire_alerts(model, self.retention, now, alerts[start:start + RETIRE_STEP],
                                             silences[start:start + RETIRE_STEP])
                except NotPersisted as err:
                    log.warning("alert retirement not stored (%s); the next pass tries again", err.reason)
                    break
            counts = (counts[0] + step[0], counts[1] + step[1])
        if any(counts):
            log.info("retired %d resolved alerts and %d ended silences older than %s", *counts, self.retention)
        return counts

    # ------------------------------------------------------------------ reads (the API)

    def alerts(self) -> list[dict[str, Any]]:
        """Every alert's document, newest first."""
        with self.service.reading():
            found = list(self.service.model.alerts.values())
            docs = [alert_document(a) for a in found]
        docs.sort(key=lambda d: (d["raised_at"], d["id"]), reverse=True)
        return docs

    def alert(self, alert_id: str) -> dict[str, Any] | None:
        with self.service.reading():
            alert = self.service.model.alerts.get(alert_id)
            return alert_document(alert) if alert is not None else None

    def retired(self, kind: str, item_id: str) -> datetime | None:
        """When an alert or silence (`kind`) left the live model, if it is one of the retired
        ones the model still names."""
        with self.service.reading():
            retention = self.service.model.alert_retention
            if retention is None:
                return None
            named = retention.retired_alerts if kind == "alert" else retention.retired_silences
            return named.get(item_id)

    def silences(self) -> list[dict[str, Any]]:
        now = self.clock()
        with self.service.reading():
            docs = [silence_document(s, now) for s in self.service.model.silences.values()]
        docs.sort(key=lambda d: (d["created_at"], d["id"]), reverse=True)
        return docs

    def silence(self, silence_id: str) -> dict[str, Any] | None:
        with self.service.reading():
            silence = self.service.model.silences.get(silence_id)
            return silence_document(silence, self.clock()) if silence is not None else None

    def rules(self) -> list[RuleDefinition]:
        with self.service.reading():
            return list(self.service.model.alert_rule_set().values())

    # ------------------------------------------------------------------ changes people make

    def acknowledge(self, alert_id: str, by: str, comment: str = "") -> dict[str, Any]:
        """KeyError for an unknown alert, AlertConflict if acknowledged already; NotPersisted."""
        with self.service.durable() as model:
            alert = model.acknowledge_alert(alert_id, by, comment, self.clock())
            document = alert_document(alert)
        self._tell([document])
        return document

    def create_silence(self, body: dict[str, Any], by: str) -> dict[str, Any]:
        """SilenceInvalid naming each bad field (nothing stored); NotPersisted. The alerts it
        covers are marked silenced at once."""
        now = self.clock()
        with self.service.durable() as model:
            silence = model.create_silence(secrets.token_hex(16), body, by, now)
            document = silence_document(silence, now)
        self.evaluate_silences()
        return document

    def expire_silence(self, silence_id: str, by: str) -> dict[str, Any]:
        """KeyError, AlertConflict when it already ended; NotPersisted."""
        now = self.clock()
        with self.service.durable() as model:
            silence = model.expire_silence(silence_id, by, now)
            document = silence_document(silence, now)
        self.evaluate_silences()
        return document

    def evaluate_silences(self) -> list[dict[str, Any]]:
        with self._evaluating:
            now = self.clock()
            try:
                with self.service.durable() as model:
                    touched: dict[str, Alert] = {}
                    firing = [a for r in model.alert_rule_set() for a in model.open_alerts_of(r)]
                    self.engine.silence(model, firing, now, touched)
                    documents = [alert_document(a) for a in touched.values()]
            except NotPersisted as err:
                log.warning("silencing not stored (%s); the next pass tries again", err.reason)
                return []
        self._tell(documents)
        return documents

    def tune_rule(self, name: str, changes: dict[str, Any], by: str) -> RuleDefinition | None:
        """KeyError for an unknown rule, RuleInvalid naming each bad field; None if nothing changed.
        The rule is evaluated again at once with its new settings."""
        with self.service.durable() as model:
            rule = model.tune_alert_rule(name, changes, by, self.clock())
        if rule is not None:
            self.evaluate_all()
        return rule

    def define_rule(self, body: dict[str, Any], by: str) -> RuleDefinition:
        with self.service.durable() as model:
            rule = model.define_alert_rule(body, by, self.clock())
        self.evaluate_all()
        return rule
