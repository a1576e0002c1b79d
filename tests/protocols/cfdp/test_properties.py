"""Properties over any loss pattern and any hostile input."""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocols.cfdp.config import EntityConfig
from protocols.cfdp.constants import ConditionCode, TransmissionMode
from protocols.cfdp.header import PduHeader
from protocols.cfdp.naks import METADATA_REQUEST, nak_sequence
from protocols.cfdp.pdu import Eof, FileData, Metadata, Nak, Pdu, decode_pdu, encode_pdu
from protocols.cfdp.ranges import RangeSet
from protocols.cfdp.receiver import FileReceiver
from tests.protocols.cfdp.harness import (
    CORRUPT,
    DELIVER,
    DROP,
    DUPLICATE,
    LATE,
    RECEIVER_ID,
    SENDER_ID,
    FakeClock,
    fast_timers,
    make_transfer,
)
from tests.protocols.cfdp.strategies import bodies

LOSSY = st.sampled_from([DELIVER, DROP, DUPLICATE, LATE])
FILES = st.binary(min_size=0, max_size=3000)


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=40)
@given(FILES, st.lists(LOSSY, max_size=60), st.lists(LOSSY, max_size=30), st.booleans())
def test_class2_delivers_intact_under_any_finite_loss_pattern(data, down, up, immediate) -> None:
    # Limits exceed the number of PDUs the pattern can touch: the link stays up "long enough".
    timers = fast_timers(
        ack_limit=len(down) + len(up) + 2, nak_limit=len(down) + 2, inactivity_round_trips=400
    )
    transfer = make_transfer(data, down_fates=down, up_fates=up, timers=timers, immediate_nak=immediate)
    transfer.run(until=3000)
    receiver = transfer.receiver
    assert receiver.file_bytes() == data
    assert receiver.result.condition_code == ConditionCode.NO_ERROR
    assert transfer.sender.result.complete


@settings(max_examples=40)
@given(FILES, st.lists(st.sampled_from([DELIVER, DROP, DUPLICATE, LATE, CORRUPT]), max_size=40))
def test_class1_never_reports_a_damaged_file_as_complete(data, down) -> None:
    transfer = make_transfer(data, mode=TransmissionMode.UNACKNOWLEDGED, down_fates=down)
    transfer.run(until=200)
    receiver = transfer.receiver
    if receiver is None:
        return  # nothing decodable arrived: nothing reported at all
    assert receiver.ended
    if receiver.result.complete:
        assert receiver.file_bytes() == data
    else:
        assert receiver.file_bytes() is None


def _receiver_with_metadata(size: int) -> tuple[FileReceiver, PduHeader, list[bytes]]:
    clock, sent = FakeClock(), []
    header = PduHeader(SENDER_ID, RECEIVER_ID, 9, entity_id_length=2, sequence_number_length=2)
    config = EntityConfig(RECEIVER_ID, max_pdu_length=128, max_file_size=1 << 16, timers=fast_timers())
    receiver = FileReceiver(config, header, send=sent.append, now=clock)

    receiver.handle(encode_pdu(Pdu(header, Metadata(size, b"a", b"b"))))
    return receiver, header, sent


@given(st.integers(0, 5000), st.lists(st.one_of(st.binary(max_size=80), st.data()), max_size=30), st.data())
def test_hostile_pdus_are_counted_and_never_grow_the_buffer(size, raws, data) -> None:
    receiver, _header, _ = _receiver_with_metadata(size)
    for item in raws:
        if isinstance(item, bytes):
            raw = item
        else:
            hostile_header = PduHeader(
                SENDER_ID,
                RECEIVER_ID,
                9,
                transmission_mode=data.draw(st.sampled_from(TransmissionMode)),
                large_file_flag=data.draw(st.booleans()),
            )
            raw = encode_pdu(Pdu(hostile_header, data.draw(bodies(hostile_header))))
        receiver.handle(raw)  # must not raise
        receiver.poll()
        assert len(receiver.partial_bytes()) in (0, size)
        assert receiver.received.highest_end <= size
    if receiver.result is not None and receiver.result.complete:
        assert receiver.received.covered == size


def test_each_kind_of_hostile_pdu_is_rejected_for_its_reason() -> None:
    receiver, header, _ = _receiver_with_metadata(1000)
    receiver.handle(encode_pdu(Pdu(header, FileData(5000, b"x"))))
    receiver.handle(encode_pdu(Pdu(header, FileData(990, bytes(20)))))
    receiver.handle(b"\xff" * 3)
    receiver.handle(encode_pdu(Pdu(PduHeader(SENDER_ID, RECEIVER_ID, 10), FileData(0, b"x"))))
    receiver.handle(encode_pdu(Pdu(header, FileData(0, bytes(200)))))

    receiver.handle(encode_pdu(Pdu(header, Eof(0, 100))))
    counts = receiver.rejections
    assert counts["offset_past_file_size"] == 1
    assert counts["segment_overruns_file_size"] == 1
    assert counts["undecodable"] == 1
    assert counts["wrong_transaction"] == 1
    assert counts["eof_smaller_than_data_received"] == 1
    assert receiver.result.condition_code == ConditionCode.FILE_SIZE_ERROR
    assert len(receiver.partial_bytes()) == 1000


def test_sender_rejects_naks_for_ranges_it_never_sent() -> None:
    transfer = make_transfer(bytes(1000))
    transfer.sender.poll(3)  # Metadata and two data segments
    header = transfer.sender.header
    nak = Nak(0, 5000, ((0, 10), (10, 5), (900, 950), (2000, 3000), METADATA_REQUEST))
    transfer.sender.handle(encode_pdu(Pdu(header, nak)))
    counts = transfer.sender.rejections
    assert counts["nak_scope_beyond_file_size"] == 1
    assert counts["nak_inverted_range"] == 1
    assert counts["nak_for_unsent_data"] == 1
    assert counts["nak_beyond_file_size"] == 1
    sent = []
    transfer.sender._send = sent.append
    transfer.sender.poll(2)
    resent = [decode_pdu(raw).body for raw in sent]
    assert type(resent[0]).__name__ == "Metadata"
    assert resent[1] == FileData(0, bytes(10))


@given(st.integers(1, 400), st.sampled_from([64, 100, 256, 1024]), st.booleans(), st.booleans())
def test_nak_sequences_split_without_truncation(gap_count, max_pdu_length, large, crc) -> None:
    header = PduHeader(SENDER_ID, RECEIVER_ID, 9, large_file_flag=large, crc_flag=crc)
    gaps = [(10 * k, 10 * k + 5) for k in range(gap_count)]
    naks = nak_sequence(header, 0, 10 * gap_count, gaps, max_pdu_length)
    raws = [encode_pdu(Pdu(header, nak)) for nak in naks]
    assert all(len(raw) <= max_pdu_length for raw in raws)
    assert [r for nak in naks for r in nak.segment_requests] == gaps
    assert naks[0].start_of_scope == 0 and naks[-1].end_of_scope == 10 * gap_count
    assert all(a.end_of_scope == b.start_of_scope for a, b in itertools.pairwise(naks))


def test_hundreds_of_gaps_reach_the_sender_in_several_nak_pdus() -> None:
    data = bytes(range(256)) * 160  # 40 960 octets, 357 segments of 115 octets
    fates = [DELIVER] + [DROP if k % 2 else DELIVER for k in range(400)]
    transfer = make_transfer(data, down_fates=fates, timers=fast_timers(inactivity_round_trips=400))
    transfer.run(until=3000, pdus_per_step=20)
    naks = transfer.up.sent
    assert transfer.receiver.file_bytes() == data
    first_round = [decode_pdu(raw).body for raw in naks if isinstance(decode_pdu(raw).body, Nak)]
    assert len(first_round) > 1
    assert all(len(raw) <= 128 for raw in naks)
    requested = RangeSet()
    for nak in first_round:
        for start, end in nak.segment_requests:
            requested.add(start, end)
    assert requested.covered >= len(data) // 2 - 115
