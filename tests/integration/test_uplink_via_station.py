"""Uplink through one station at a time: two `paleblue ground --bus --uplink` stations, each with
its own uplink to the probe (here the test's PULL sockets, to see which station sent what); units
the merger's relay sends go up through the chosen station only, in order, and the handover moves
them to the other; each station counts what it forwarded in its bus.json."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from groundstation.merge.uplink_choice import UplinkChoice
from protocols.capture.zmq_framing import TOPIC_UPLINK, Envelope, Layer
from tests.integration.conftest import PALEBLUE, free_endpoint
from transport.nats_uplink import UplinkRelay
from transport.puller import Puller

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


def received(puller: Puller, want: int, timeout_s: float = 20.0) -> list[tuple[Layer, bytes]]:
    out: list[tuple[Layer, bytes]] = []
    deadline = time.monotonic() + timeout_s
    while len(out) < want and time.monotonic() < deadline:
        for parts in puller.receive(64):
            assert parts[0] == TOPIC_UPLINK
            out.append((Envelope.unpack(parts[1]).layer, parts[2]))
        time.sleep(0.02)
    return out


def test_units_go_up_through_the_chosen_station_only(tmp_path: Path, nats_server) -> None:
    uplinks = {name: free_endpoint() for name in ("s1", "s2")}
    pullers = {name: Puller(endpoint) for name, endpoint in uplinks.items()}
    grounds = {
        name: subprocess.Popen(
            [
                *PALEBLUE,
                "ground",
                "--downlink",
                free_endpoint(),
                "-o",
                str(tmp_path / name),
                "--station-id",
                name,
                "--bus",
                nats_server.url,
                "--uplink",
                uplink,
                "--timeout",
                "60",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for name, uplink in uplinks.items()
    }
    via = UplinkChoice(via="s1")
    relay = UplinkRelay(nats_server.url, via, timeout_s=2.0)
    try:
        deadline = time.monotonic() + 60  # until both stations are on the bus
        while relay.counters.delivered < 2 and time.monotonic() < deadline:
            for name in ("s1", "s2"):
                via.via = name
                relay.send(Layer.PACKETS, b"hello " + name.encode())
            relay.flush()
            time.sleep(0.2)
        assert relay.counters.by_station["s1"] >= 1 and relay.counters.by_station["s2"] >= 1
        hellos = {name: received(pullers[name], relay.counters.by_station[name]) for name in pullers}
        via.via = "s1"
        for k in range(5):
            relay.send(Layer.CLTUS, bytes([k]) * 30)
        via.via = "s2"  # the handover
        for k in range(5, 8):
            relay.send(Layer.CLTUS, bytes([k]) * 30)
        assert relay.flush()
        got = {name: received(pullers[name], n) for name, n in (("s1", 5), ("s2", 3))}
    finally:
        relay.close()
        for process in grounds.values():
            process.send_signal(signal.SIGTERM)
        for process in grounds.values():
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
        for puller in pullers.values():
            puller.close()
    assert all(unit == b"hello " + name.encode() for name in hellos for _, unit in hellos[name])
    assert got["s1"] == [(Layer.CLTUS, bytes([k]) * 30) for k in range(5)]  # through s1 only, in order
    assert got["s2"] == [(Layer.CLTUS, bytes([k]) * 30) for k in range(5, 8)]
    for name, puller_got in (("s1", 5), ("s2", 3)):
        bus = json.loads((tmp_path / name / "bus.json").read_text())
        assert bus["uplink"]["forwarded"] == relay.counters.by_station[name]
        assert bus["uplink"]["forwarded"] == len(hellos[name]) + puller_got
