"""Issue 14, item 5: a lossy link's counters and the ground's add up, over seeds.

The probe's transmitter makes CADUs, the link simulator drops, corrupts, holds back and duplicates
them (its own seeded counters), the ground's link receiver counts what it got; the reconciliation
(:mod:`protocols.link.link_tally`) must find: frames sent = received + dropped by the simulator,
frames that came after a later one counted as reordered (not as 255 missing), missing frames equal
to the simulator's drops, duplicates recognised as duplicates. ``paleblue run`` does the same across
two processes (tests/integration/test_deep_space_link.py, every link profile).
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from emulator.link_simulator import LinkSimulator, profile
from emulator.transmitter import Transmitter
from groundstation.link_receiver import LinkReceiver
from protocols.link.channel_file import preset
from protocols.link.link_tally import GroundCount, Reconciliation, reconcile
from protocols.packets.space_packet import SpacePacket

CADUS = 2500
IMPAIRMENTS = {
    "lossy": {},  # the profile itself: 10 % loss, BER 1e-5, 2 % reordered, 0.5 % duplicated
    "reordering": {"reorder_probability": 0.2, "duplicate_probability": 0.05},
    "bursts of duplicates": {
        "loss_probability": 0.02,
        "duplicate_probability": 0.3,
        "reorder_probability": 0.1,
    },
}


def _pass(seed: int, stop_after: int | None = None, **changes) -> tuple[Reconciliation, LinkSimulator]:
    """A pass of CADUs through the simulator to the ground; ``stop_after``: the ground reads only
    that many deliveries (it stopped while the link went on)."""
    config = preset()
    tx = Transmitter(config, {0: 1, 1: 0})
    for i in range(300):
        tx.submit(1, SpacePacket(apid=0x0C8, sequence_count=i, data=bytes([i % 256]) * 3000).pack())
    link = replace(profile("lossy").downlink, **changes)
    simulator = LinkSimulator(link, seed)
    step = link.serialisation_s(config.cadu_length)
    arrived = []
    for k in range(CADUS):
        simulator.send(tx.next_cadu(), k * step)
        arrived += simulator.due(k * step)
    arrived += simulator.due(float("inf"))
    stream = b"".join(d.unit for d in arrived[:stop_after])
    receiver = LinkReceiver(config)
    for start in range(0, len(stream), 10_000):
        receiver.feed(stream[start : start + 10_000])
    receiver.close()
    ground = GroundCount.from_summary({"channel": {"frame_type": "tm"}, "cadu": receiver.counters_dict()})
    return reconcile(simulator.tally(), ground), simulator


@pytest.mark.parametrize("impairment", sorted(IMPAIRMENTS))
@pytest.mark.parametrize("seed", range(4))
def test_a_whole_lossy_pass_reconciles(seed: int, impairment: str) -> None:
    result, simulator = _pass(seed, **IMPAIRMENTS[impairment])
    counters = simulator.counters
    assert counters.reordered > 0 and counters.duplicated > 0 and counters.lost_random > 0
    assert result.adds_up is True, result.line()
    # frames sent = received + dropped by the simulator (duplicates are not frames sent)
    assert result.sent == CADUS == result.received - result.duplicated + result.dropped_by_link
    assert result.after_ground_stopped == 0
    # missing = the simulator's drops after the first frame received (the ground cannot know of
    # frames lost before the first one it saw)
    first = next(a for a in simulator.tally().arrivals if a >= 0)
    assert result.lost == sum(1 for d in simulator.tally().dropped if d > first)
    assert result.duplicated == counters.duplicated
    assert result.reordered == result.expected["reordered"] > 0  # overtaken ones, not 255 missing each
    assert result.reordered <= counters.reordered  # a unit held back but not overtaken arrives in order
    assert result.corrected > 0  # BER 1e-5: Reed-Solomon at work


@pytest.mark.parametrize("seed", range(3))
def test_a_ground_that_stops_early_reconciles_on_what_it_read(seed: int) -> None:
    result, _ = _pass(seed, stop_after=1200 + 97 * seed, **IMPAIRMENTS["reordering"])
    assert result.adds_up is True, result.line()
    assert result.after_ground_stopped > 0
    assert (
        result.sent
        == result.received - result.duplicated + result.dropped_by_link + result.after_ground_stopped
    )
