"""CalamariServer.running(), what the tests that need a real calamari-server use: the server is up
for the block and stopped after it, also when it did not answer in time (no process is left)."""

import pytest

from calamari.testing.live import CalamariServer, WaitTimeout


def test_the_server_answers_in_the_block_and_is_stopped_after_it(tmp_path):
    server = CalamariServer(tmp_path / "data")
    with server.running() as api:
        assert api.get("/cluster") == []
        assert server.process is not None and server.process.alive()
    assert not server.process.alive()


def test_a_server_that_does_not_answer_in_time_is_stopped_all_the_same(tmp_path):
    server = CalamariServer(tmp_path / "data")
    with pytest.raises(WaitTimeout), server.running(timeout=0.01):
        pytest.fail("the block ran without a server")
    assert server.process is not None and not server.process.alive()
