"""The bus sends its answers to one message before it handles the next: an acknowledgement must not
wait behind a large map that came after it (the collector would take the server for gone, and say
hello again at each heartbeat until its hello is acknowledged)."""

from __future__ import annotations

import threading

import zmq

from calamari.adapters.bus.transport import RouterTransport


def test_the_answer_to_a_message_goes_out_while_the_next_one_is_still_being_handled() -> None:
    context = zmq.Context()
    transport = RouterTransport(context, "tcp://127.0.0.1:0", 1024 * 1024, 0.1)
    answered = threading.Event()
    answered_while_busy: list[bool] = []

    def handle(frames: list[bytes], public_key: str | None, peer_address: str | None) -> None:
        identity, payload = frames
        if payload == b"hello":
            transport.queue(identity, b"ack")
        elif payload == b"large map":  # decoding and ingesting it takes a while
            answered_while_busy.append(answered.wait(10.0))

    transport.start(handle, lambda: None)
    dealer = context.socket(zmq.DEALER)
    dealer.setsockopt(zmq.LINGER, 0)
    try:
        dealer.connect(transport.bound_endpoint)
        dealer.send(b"hello")
        dealer.send(b"large map")  # both arrive before the serving thread reads: one batch
        assert dealer.poll(15_000), "no answer at all"
        assert dealer.recv() == b"ack"
        answered.set()
        assert transport.stop(15)
        assert answered_while_busy == [True]
    finally:
        dealer.close(0)
        context.destroy(linger=0)
