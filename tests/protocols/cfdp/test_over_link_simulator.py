"""CFDP over the emulator's link simulator: the named profiles, end to end, on a simulated clock."""

from __future__ import annotations

import os

from emulator.link_simulator import LinkSimulator, profile
from protocols.cfdp.config import EntityConfig, TimerPolicy
from protocols.cfdp.constants import ConditionCode
from protocols.cfdp.receiver import ReceivingEntity
from protocols.cfdp.sender import SendingEntity
from tests.protocols.cfdp.harness import RECEIVER_ID, SENDER_ID, FakeClock


def _transfer(name: str, data: bytes, *, crc: bool, suspend_outside_passes: bool = False, seed: int = 5):
    pair = profile(name)
    clock = FakeClock()
    down, up = LinkSimulator(pair.downlink, seed), LinkSimulator(pair.uplink, seed + 1)
    timers = TimerPolicy(
        round_trip_light_time=2 * pair.downlink.one_way_light_time_s,
        processing_margin=1.0,
        inactivity_round_trips=10,
    )
    ground = ReceivingEntity(
        EntityConfig(RECEIVER_ID, crc=crc, timers=timers),
        send=lambda raw: up.send(raw, clock.time),
        now=clock,
    )
    space = SendingEntity(
        EntityConfig(SENDER_ID, crc=crc, timers=timers),
        send=lambda raw: down.send(raw, clock.time),
        now=clock,
    )
    sender = space.put(RECEIVER_ID, data, destination_file_name=b"moon.raw")
    step = 0.01
    budget = int(pair.downlink.data_rate_bps * step / 8 / 1024)
    was_in_view = True
    while clock.time < 1000 and not (sender.ended and sender.idle and not up.in_flight):
        in_view = pair.downlink.in_view(clock.time)
        if suspend_outside_passes and in_view != was_in_view:
            for entity in (space, ground):
                entity.resume() if in_view else entity.suspend()
            was_in_view = in_view
        space.poll(budget)
        ground.poll()
        for delivery in down.due(clock.time):
            ground.handle(delivery.unit)
        for delivery in up.due(clock.time):
            space.handle(delivery.unit)
        clock.time = round(clock.time + step, 6)
    return sender, next(iter(ground.transactions.values())), down


def test_class2_over_the_lossy_profile_with_pdu_crc_delivers_intact() -> None:
    data = os.urandom(300_000)
    sender, receiver, down = _transfer("lossy", data, crc=True)
    assert receiver.file_bytes() == data and sender.result.complete
    assert down.counters.lost_random > 0 and down.counters.corrupted_units > 0
    assert receiver.progress().nak_rounds >= 1


def test_without_pdu_crc_bit_errors_end_in_a_checksum_failure_never_a_bad_file() -> None:
    data = os.urandom(300_000)
    sender, receiver, down = _transfer("lossy", data, crc=False)
    assert down.counters.corrupted_units > 0
    assert receiver.file_bytes() is None  # corrupted file data went into the buffer unnoticed...
    assert receiver.result.condition_code == ConditionCode.FILE_CHECKSUM_FAILURE  # ...until the checksum
    assert sender.result.condition_code == ConditionCode.FILE_CHECKSUM_FAILURE


def test_suspend_across_the_outage_profile_completes() -> None:
    data = os.urandom(14_000_000)  # about 70 s at 200 PDUs/s: longer than the first 60 s pass
    sender, receiver, _ = _transfer("outage", data, crc=False, suspend_outside_passes=True)
    assert receiver.file_bytes() == data and sender.result.complete
    assert sender.progress().started_at < 60.0 < 180.0 < sender.progress().ended_at
    assert receiver.progress().ended_at > 180.0  # finished in the second pass
