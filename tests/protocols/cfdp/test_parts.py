"""Small parts: range sets against a set model, frozen timers, the entity dispatchers' bounds."""

from __future__ import annotations

import os

from hypothesis import given
from hypothesis import strategies as st

from protocols.cfdp.config import EntityConfig
from protocols.cfdp.header import PduHeader
from protocols.cfdp.pdu import FileData, Pdu, encode_pdu
from protocols.cfdp.ranges import RangeSet
from protocols.cfdp.receiver import ReceivingEntity
from protocols.cfdp.sender import SendingEntity
from protocols.cfdp.timers import Countdown
from tests.protocols.cfdp.harness import RECEIVER_ID, SENDER_ID, FakeClock, fast_timers
from tests.protocols.cfdp.strategies import bodies

SPANS = st.lists(st.tuples(st.booleans(), st.integers(0, 200), st.integers(0, 60)), max_size=40)


@given(SPANS, st.integers(0, 200), st.integers(0, 260))
def test_range_set_behaves_like_a_set_of_offsets(operations, query_start, query_end) -> None:
    ranges, model = RangeSet(), set()
    for is_add, start, length in operations:
        if is_add:
            added = ranges.add(start, start + length)
            assert added == len(set(range(start, start + length)) - model)
            model |= set(range(start, start + length))
        else:
            ranges.remove(start, start + length)
            model -= set(range(start, start + length))
        assert ranges.covered == len(model)
        assert {o for s, e in ranges for o in range(s, e)} == model
        assert all(e1 < s2 for (_, e1), (s2, _) in zip(list(ranges), list(ranges)[1:], strict=False))
    gaps = {o for s, e in ranges.gaps(query_start, query_end) for o in range(s, e)}
    assert gaps == set(range(query_start, query_end)) - model


def test_a_frozen_countdown_keeps_its_remaining_time() -> None:
    timer = Countdown(10.0)
    timer.start(100.0)
    timer.freeze(104.0)
    assert not timer.expired(1000.0)
    timer.thaw(500.0)
    assert not timer.expired(505.9)
    assert timer.expired(506.0)


def test_receiving_entity_bounds_transactions_and_ignores_other_destinations() -> None:
    clock = FakeClock()
    config = EntityConfig(RECEIVER_ID, timers=fast_timers())
    ground = ReceivingEntity(config, send=lambda raw: None, now=clock, max_active=3)
    for sequence in range(5):
        ground.handle(encode_pdu(Pdu(PduHeader(SENDER_ID, RECEIVER_ID, sequence), FileData(0, b"abc"))))
    ground.handle(encode_pdu(Pdu(PduHeader(SENDER_ID, 0x99, 77), FileData(0, b"abc"))))
    assert len(ground.transactions) == 3
    assert ground.rejections["too_many_transactions"] == 2
    assert ground.rejections["not_for_this_entity"] == 1


def test_early_data_before_any_size_is_bounded() -> None:
    clock = FakeClock()
    config = EntityConfig(RECEIVER_ID, timers=fast_timers(), max_early_data=1000)
    ground = ReceivingEntity(config, send=lambda raw: None, now=clock)
    header = PduHeader(SENDER_ID, RECEIVER_ID, 1)
    for k in range(20):
        ground.handle(encode_pdu(Pdu(header, FileData(100 * k, bytes(100)))))
    receiver = ground.transactions[header.transaction_id]
    assert receiver.rejections["early_data_over_limit"] == 10
    assert receiver.partial_bytes() == b""


@given(st.lists(st.data(), max_size=25))
def test_sender_survives_any_pdu_for_its_transaction(draws) -> None:
    clock = FakeClock()
    out = []
    entity = SendingEntity(
        EntityConfig(SENDER_ID, max_pdu_length=128, timers=fast_timers()), send=out.append, now=clock
    )
    sender = entity.put(RECEIVER_ID, os.urandom(1000))
    entity.poll(5)
    for data in draws:
        header = PduHeader(
            SENDER_ID,
            RECEIVER_ID,
            sender.header.transaction_sequence_number,
            large_file_flag=data.draw(st.booleans()),
        )
        entity.handle(encode_pdu(Pdu(header, data.draw(bodies(header)))))
        entity.poll(3)
        clock.time += 0.5
        assert sender.progress().bytes_done <= 1000
    assert all(len(raw) <= 128 for raw in out)


def test_sending_entity_numbers_transactions_and_shares_its_budget() -> None:
    clock = FakeClock()
    out = []
    entity = SendingEntity(EntityConfig(SENDER_ID, timers=fast_timers()), send=out.append, now=clock)
    first = entity.put(RECEIVER_ID, bytes(5000))
    second = entity.put(RECEIVER_ID, bytes(5000))
    assert second.header.transaction_sequence_number == first.header.transaction_sequence_number + 1
    assert entity.poll(4) == 4 and len(out) == 4
    assert entity.poll() > 0 and first.idle and second.idle
