"""The event feed tells what happened before a restart (read from the store in the background)
and what happens after, newest first, each entry once."""

from datetime import UTC, datetime

from calamari.api.app import Services
from calamari.service.model import ModelService, ServiceConfig
from tests.unit.api_support import feed_step, step


def test_feed_after_restart_tells_the_past_and_the_present_once(tmp_path, capture_dir):
    config = ServiceConfig(data_dir=str(tmp_path))
    service = ModelService(config)
    for prefix in ("00", "01", "02", "03", "04", "05"):
        fsid = feed_step(service, step(capture_dir, prefix))
    service.close()

    service = ModelService(config)
    try:
        services = Services(service)
        feed_step(service, step(capture_dir, "06"))  # after start-up: told live
        assert services.feed_history_told.wait(30)
        entries = services.feed.query(fsid=fsid)
        messages = [e["message"] for e in entries]
        ids = [e["id"] for e in entries]
        assert ids == sorted(ids, reverse=True) and len(set(ids)) == len(ids)
        down = [m for m in messages if "osd.2" in m.lower() or "osd 2" in m.lower()]
        assert len(down) >= 2, messages  # down (before the restart) and out (after it)
        out_at = next(i for i, m in enumerate(messages) if "out" in m.lower() and "2" in m)
        down_at = next(i for i, m in enumerate(messages) if "down" in m.lower() and "2" in m)
        assert out_at < down_at  # newest first: the live 'out' before the stored 'down'
        assert all(datetime.fromisoformat(e["when"]) <= datetime.now(UTC) for e in entries)
    finally:
        service.close()
