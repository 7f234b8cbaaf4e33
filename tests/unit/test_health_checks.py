"""Health checks as a Ceph operator sees them: muted checks (`ceph health mute`) are not alarms,
and a check that worsens from WARN to ERR is news even though its code stays."""

import copy
from datetime import UTC, datetime, timedelta

from calamari.domain.event_feed import EventFeed
from calamari.domain.model import ClusterModel
from calamari.testing.captures import capture_steps, content_hash, sync_objects

T0 = datetime(2026, 11, 24, 15, 45, tzinfo=UTC)


def start(capture_dir: str) -> tuple[ClusterModel, EventFeed, str, dict]:
    fsid, objects = sync_objects(capture_steps(capture_dir)[5])  # 05: OSD_DOWN and OSDMAP_FLAGS raised
    model, feed = ClusterModel(), EventFeed()
    for name, version, data in objects:
        model.ingest(fsid, name, version, data, T0)
    feed.add(model.drain(), model)
    health = next(data for name, _, data in objects if name == "health")
    return model, feed, fsid, health


def send_health(model: ClusterModel, feed: EventFeed, fsid: str, health: dict, seconds: int) -> list:
    model.ingest(fsid, "health", content_hash(health), health, T0 + timedelta(seconds=seconds))
    events = model.drain()
    feed.add(events, model)
    return events


def test_muting_a_check_is_recorded_and_not_an_alarm(capture_dir):
    model, feed, fsid, health = start(capture_dir)
    muted = copy.deepcopy(health)
    muted["checks"]["OSD_DOWN"]["muted"] = True
    told_before = len(feed.query(fsid=fsid))
    events = send_health(model, feed, fsid, muted, 10)
    assert [(type(e).__name__, e.code, e.muted) for e in events] == [("HealthCheckUpdated", "OSD_DOWN", True)]
    assert model.clusters[fsid].health_checks["OSD_DOWN"]["muted"] is True
    assert len(feed.query(fsid=fsid)) == told_before  # muting alone is no alarm

    # a check raised while muted is told as INFO
    raised = copy.deepcopy(muted)
    raised["checks"]["PG_DEGRADED"] = {"severity": "HEALTH_WARN", "muted": True, "detail": [],
                                       "summary": {"message": "Degraded data redundancy", "count": 3}}
    send_health(model, feed, fsid, raised, 20)
    newest = feed.query(fsid=fsid)[0]
    assert newest["severity"] == "INFO" and "PG_DEGRADED" in newest["message"] and "muted" in newest["message"]


def test_a_check_worsening_to_error_is_told(capture_dir):
    model, feed, fsid, health = start(capture_dir)
    worse = copy.deepcopy(health)
    worse["checks"]["OSD_DOWN"]["severity"] = "HEALTH_ERR"
    worse["status"] = "HEALTH_ERR"
    events = send_health(model, feed, fsid, worse, 10)
    updated = next(e for e in events if type(e).__name__ == "HealthCheckUpdated")
    assert (updated.previous_severity, updated.severity) == ("HEALTH_WARN", "HEALTH_ERR")
    messages = [(e["severity"], e["message"]) for e in feed.query(fsid=fsid)[:3]]
    assert ("ERROR", f"Health check OSD_DOWN worsened to HEALTH_ERR: {updated.message}") in messages


def test_stored_events_from_before_muting_existed_still_replay(capture_dir):
    """Events stored without the new fields (muted, previous_severity) read back with defaults."""
    model, _, fsid, health = start(capture_dir)
    raised = next(e for e in _replayable(capture_dir) if type(e).__name__ == "HealthCheckRaised")
    del raised.__dict__["muted"]
    fresh = ClusterModel()
    for event in _replayable(capture_dir):
        if type(event).__name__ == "HealthCheckRaised" and event.code == raised.code:
            event = raised
        fresh.apply(event)
    assert fresh.clusters[fsid].health_checks[raised.code]["muted"] is False


def _replayable(capture_dir: str) -> list:
    fsid, objects = sync_objects(capture_steps(capture_dir)[5])
    model = ClusterModel()
    for name, version, data in objects:
        model.ingest(fsid, name, version, data, T0)
    return model.drain()
