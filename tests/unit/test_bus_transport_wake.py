"""The bus's serving thread is woken over an inproc socket whose name must be the transport's
own: a closed transport's inproc name is released by libzmq later, and an address made of
id(transport) may already be another's then (a start failing with "Address already in use")."""

from __future__ import annotations

import zmq

from calamari.adapters.bus.transport import RouterTransport


def test_a_transport_starts_while_an_inproc_name_of_its_id_is_still_bound() -> None:
    context = zmq.Context()
    transport = RouterTransport(context, "tcp://127.0.0.1:0", 1024 * 1024, 0.1)
    leftover = context.socket(zmq.PAIR)  # as an earlier transport's socket not yet reaped
    leftover.bind(f"inproc://calamari-bus-wake-{id(transport)}")
    try:
        transport.start(lambda *args: None, lambda: None)
        assert transport.stop(5)
    finally:
        context.destroy(linger=0)  # every socket, also one a failed start left open
