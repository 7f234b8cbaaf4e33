"""Failed deliveries reach the push stream (and the event feed) as they are stored, naming the
notification's API path."""

from __future__ import annotations

import pytest
from api_support import Harness
from test_stream import FAST, changes, open_stream

from calamari.testing.notify_receivers import HttpReceiver


@pytest.fixture()
def api(tmp_path, capture_dir):
    harness = Harness(str(tmp_path), capture_dir, app_options=FAST)
    yield harness
    harness.close()


def test_a_failed_delivery_is_on_the_stream(api):
    hook = HttpReceiver(status=502)
    stream = open_stream(api)
    try:
        assert api.call("POST", "notification_channel", json={"id": "hook", "kind": "webhook",
                                                               "url": hook.url}).status_code == 201
        note = api.call("POST", "notification_channel/hook/test").json
        api.services.notifier.process()

        def failed(frames):
            return [c for c in changes(frames) if c["type"] == "DeliveryFailed"]

        message = failed(stream.read_until(lambda frames: failed(frames)))[0]
        assert message["changed"] == [f"notification/{note['id']}"]
        assert message["event"]["severity"] == "WARNING"
        assert "to channel 'hook' failed (attempt 1, retried): HTTP 502" in message["event"]["message"]
        created = [c for c in changes(stream.frames) if c["type"] == "ChannelCreated"]
        assert created and created[0]["changed"] == ["notification_channel/hook"]
    finally:
        stream.close()
        hook.close()
