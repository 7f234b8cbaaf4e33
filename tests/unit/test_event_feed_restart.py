"""The event feed tells what happened before a restart (read from the store in the background)
and what happens after, newest first, each entry once."""

from datetime import UTC, datetime

from calamari.bootstrap import build_services
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
        services = build_services(service)
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


def test_stored_pool_events_are_told_with_the_name_the_pool_had_then(tmp_path, capture_dir):
    import copy

    from calamari.testing.captures import captured_at, sync_objects

    config = ServiceConfig(data_dir=str(tmp_path))
    service = ModelService(config)
    for prefix in ("00", "01", "02", "03", "04", "05", "06", "07", "08"):
        fsid = feed_step(service, step(capture_dir, prefix))
    # step 09 renames 'images' to 'photos' and raises its pg_num; split in two maps: the pg_num
    # change first, under the old name, then the rename
    step09 = step(capture_dir, "09")
    _, objects = sync_objects(step09)
    _, epoch, osd_map = next(o for o in objects if o[0] == "osd_map")
    before_rename = copy.deepcopy(osd_map)
    before_rename["epoch"] = epoch
    for pool in before_rename["pools"]:
        if pool["pool_name"] == "photos":
            pool["pool_name"] = "images"
    renamed = dict(osd_map, epoch=epoch + 1)
    service.on_sync_object(fsid, "osd_map", epoch, before_rename, captured_at(step09), host="vm")
    service.on_sync_object(fsid, "osd_map", epoch + 1, renamed, captured_at(step09), host="vm")
    service.close()

    service = ModelService(config)
    try:
        services = build_services(service)
        assert services.feed_history_told.wait(30)
        told = [e["message"] for e in services.feed.query(fsid=fsid) if "Pool" in e["message"]]
        assert any(m.startswith("Pool 'images' changed: pg_num 16 -> 32") for m in told), told
        assert "Pool 'images' renamed to 'photos'" in told
        assert not any(m.startswith("Pool 'photos' changed") for m in told)
    finally:
        service.close()
