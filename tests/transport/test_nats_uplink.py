"""The uplink through one station at a time, through a real nats-server: only the chosen station
sends each unit up, in order; a unit no station can take is counted, never lost silently."""

from __future__ import annotations

import pytest

from transport.nats_uplink import UplinkForwarder, UplinkRelay

pytestmark = [pytest.mark.timeout(60)]


def test_each_unit_goes_through_the_station_chosen_at_that_moment(nats_server) -> None:
    sent: dict[str, list[tuple[int, bytes]]] = {"s1": [], "s2": []}
    via = ["s1"]
    forwarders = [
        UplinkForwarder(
            nats_server.url, name, lambda layer, unit, name=name: sent[name].append((layer, unit)) or True
        )
        for name in sent
    ]
    relay = UplinkRelay(nats_server.url, lambda: via[0])
    try:
        for k in range(10):
            if k == 6:
                via[0] = "s2"  # the handover: s2 is in contact now
            relay.send(3, bytes([k]) * 20)
        assert relay.flush()
    finally:
        relay.close()
        for forwarder in forwarders:
            forwarder.close()
    assert sent["s1"] == [(3, bytes([k]) * 20) for k in range(6)]  # in order, once, through s1 only
    assert sent["s2"] == [(3, bytes([k]) * 20) for k in range(6, 10)]
    counters = relay.counters
    assert (counters.requested, counters.delivered, counters.no_station, counters.failed) == (10, 10, 0, 0)
    assert counters.as_dict()["by_station"] == {"s1": 6, "s2": 4}
    assert [f.counters.forwarded for f in forwarders] == [6, 4]


def test_units_no_station_can_take_are_counted(nats_server) -> None:
    via: list[str | None] = [None]
    refusing = UplinkForwarder(nats_server.url, "busy", lambda layer, unit: False)  # its probe link is full
    relay = UplinkRelay(nats_server.url, lambda: via[0], timeout_s=1.0)
    try:
        relay.send(3, b"no station in contact")
        via[0] = "ghost"  # chosen, but no such station on the bus
        relay.send(3, b"nobody listens")
        via[0] = "busy"
        relay.send(3, b"not taken")
        assert relay.flush()
    finally:
        relay.close()
        refusing.close()
    counters = relay.counters
    assert (counters.requested, counters.delivered, counters.no_station, counters.failed) == (3, 0, 2, 1)
    assert refusing.counters.not_sent == 1
