"""Class 1 and class 2 transactions end to end over a scripted link, driven by a fake clock."""

from __future__ import annotations

import os

from protocols.cfdp.constants import ConditionCode, DeliveryCode, FileStatus, TransmissionMode
from protocols.cfdp.outcome import TransactionState
from tests.protocols.cfdp.harness import DROP, LATE, fast_timers, kinds, make_transfer

UNACKNOWLEDGED = TransmissionMode.UNACKNOWLEDGED


def test_class2_delivers_a_file_over_a_clean_link() -> None:
    data = os.urandom(5000)
    segments = {}
    transfer = make_transfer(data, on_segment=lambda tid, offset, octets: segments.setdefault(offset, octets))
    transfer.run()
    receiver = transfer.receiver
    assert receiver.file_bytes() == data
    assert receiver.result.complete and receiver.closed
    assert receiver.state == TransactionState.COMPLETED
    assert transfer.sender.result.complete
    assert b"".join(segments[k] for k in sorted(segments)) == data
    assert receiver.metadata.destination_file_name == b"img/earth.raw"
    progress = receiver.progress()
    assert progress.percent == 100.0 and progress.nak_rounds == 0 and progress.ended_at is not None


def test_class2_recovers_lost_data_metadata_and_eof() -> None:
    data = os.urandom(3000)
    count = -(-3000 // (128 - 4 - 5 - 4)) + 2  # data PDUs + Metadata + EOF
    fates = [DROP] + [DROP if k % 3 == 0 else "deliver" for k in range(1, count - 1)] + [DROP]
    transfer = make_transfer(data, down_fates=fates, up_fates=[DROP, DROP])
    transfer.run()
    assert transfer.receiver.file_bytes() == data
    assert transfer.sender.result.complete
    assert transfer.sender.progress().retransmitted_bytes > 0
    assert transfer.receiver.progress().nak_rounds >= 1


def test_class2_immediate_nak_mode_asks_before_eof() -> None:
    data = os.urandom(4000)
    transfer = make_transfer(data, down_fates=["deliver", DROP, DROP], immediate_nak=True)
    first_nak_at = []

    def watch(t) -> None:
        if t.up.sent and not first_nak_at:
            first_nak_at.append(t.sender.state)

    transfer.run(on_step=watch, pdus_per_step=1)
    assert transfer.receiver.file_bytes() == data
    assert first_nak_at == [TransactionState.SENDING]  # a NAK came back before the EOF went out


def test_class1_delivers_a_clean_file_and_never_a_damaged_one() -> None:
    data = os.urandom(2500)
    clean = make_transfer(data, mode=UNACKNOWLEDGED)
    clean.run()
    assert clean.receiver.file_bytes() == data and clean.receiver.result.complete
    lossy = make_transfer(data, mode=UNACKNOWLEDGED, down_fates=["deliver", "deliver", DROP])
    lossy.run()
    assert lossy.receiver.file_bytes() is None
    assert not lossy.receiver.result.complete
    assert lossy.receiver.result.condition_code == ConditionCode.CHECK_LIMIT_REACHED
    assert lossy.receiver.result.delivery_code == DeliveryCode.DATA_INCOMPLETE


def test_class1_waits_for_data_that_arrives_after_the_eof() -> None:
    data = os.urandom(1000)
    count = -(-1000 // 115) + 2
    fates = ["deliver"] * (count - 2) + [LATE, "deliver"]  # last data PDU overtaken by the EOF
    transfer = make_transfer(data, mode=UNACKNOWLEDGED, down_fates=fates)
    transfer.run()
    assert transfer.receiver.file_bytes() == data


def test_class1_with_closure_reports_back_to_the_sender() -> None:
    data = os.urandom(700)
    transfer = make_transfer(data, mode=UNACKNOWLEDGED, closure_requested=True)
    transfer.run()
    assert transfer.sender.result.complete
    assert transfer.sender.result.file_status == FileStatus.RETAINED


def test_lost_uplink_hits_the_positive_ack_limit() -> None:
    data = os.urandom(500)
    transfer = make_transfer(data, up_blocked=lambda t: True, timers=fast_timers(ack_limit=3))
    transfer.run(until=60)
    assert transfer.sender.state == TransactionState.CANCELLED
    assert transfer.sender.result.condition_code == ConditionCode.POSITIVE_ACK_LIMIT_REACHED
    assert kinds(transfer.down.sent).count("Eof") == 1 + 3 + 1  # first EOF, three retries, the cancelling EOF


def test_dead_downlink_after_eof_hits_the_nak_limit() -> None:
    data = os.urandom(1000)
    transfer = make_transfer(
        data, down_fates=["deliver", DROP], timers=fast_timers(nak_limit=3), down_blocked=lambda t: t > 0.3
    )
    transfer.run(until=60)
    receiver = transfer.receiver
    assert receiver.result.condition_code == ConditionCode.NAK_LIMIT_REACHED
    assert receiver.file_bytes() is None


def test_silence_cancels_the_receiver_for_inactivity() -> None:
    data = os.urandom(3000)
    transfer = make_transfer(
        data,
        down_blocked=lambda t: t > 0.1,
        timers=fast_timers(inactivity_round_trips=4, keep_alive_round_trips=None),
    )
    transfer.run(until=30)
    receiver = transfer.receiver
    assert receiver.result.condition_code == ConditionCode.INACTIVITY_DETECTED
    assert receiver.file_bytes() is None
    assert receiver.progress().ended_at >= 4 * 1.5


def test_keep_alives_report_receiver_progress_to_the_sender() -> None:
    data = os.urandom(20_000)
    transfer = make_transfer(data, timers=fast_timers(keep_alive_round_trips=1.0))
    seen = []
    transfer.run(pdus_per_step=1, on_step=lambda t: seen.append(t.sender.receiver_progress))
    assert transfer.receiver.file_bytes() == data
    assert kinds(transfer.up.sent).count("KeepAlive") >= 3
    assert 0 < max(seen) <= len(data)
    assert seen == sorted(seen)


def test_keep_alive_discrepancy_limit_cancels_the_sender() -> None:
    data = os.urandom(20_000)
    transfer = make_transfer(
        data,
        down_blocked=lambda t: t > 0.2,
        timers=fast_timers(keep_alive_round_trips=1.0, keep_alive_discrepancy_limit=2000),
    )
    transfer.run(until=30, pdus_per_step=2)
    assert transfer.sender.result.condition_code == ConditionCode.KEEP_ALIVE_LIMIT_REACHED


def test_suspend_and_resume_across_an_outage_completes() -> None:
    """Timers freeze during the outage: a gap longer than the inactivity limit does not kill the transfer."""
    data = os.urandom(8000)
    outage = (1.0, 40.0)
    timers = fast_timers(inactivity_round_trips=6, nak_limit=2, ack_limit=2)

    def in_outage(t: float) -> bool:
        return outage[0] <= t < outage[1]

    transfer = make_transfer(data, timers=timers, down_blocked=in_outage, up_blocked=in_outage)

    def pass_planner(t) -> None:
        if t.clock.time == outage[0]:
            t.sender.suspend()
            t.ground.suspend()
        if t.clock.time == outage[1]:
            t.sender.resume()
            t.ground.resume()

    transfer.run(pdus_per_step=1, on_step=pass_planner)
    assert transfer.receiver.file_bytes() == data
    assert transfer.sender.result.complete
    assert transfer.receiver.progress().ended_at > outage[1]

    unsuspended = make_transfer(data, timers=timers, down_blocked=in_outage, up_blocked=in_outage)
    unsuspended.run(pdus_per_step=1)
    assert not unsuspended.sender.result.complete  # the same outage without suspend is fatal


def test_suspended_sender_sends_nothing() -> None:
    transfer = make_transfer(os.urandom(1000))
    transfer.sender.suspend()
    assert transfer.sender.poll() == 0
    transfer.sender.resume()
    assert transfer.sender.poll() > 0


def test_sender_cancel_tells_the_receiver() -> None:
    data = os.urandom(4000)
    transfer = make_transfer(data)
    transfer.run(until=0.3, pdus_per_step=3)
    transfer.sender.cancel()
    transfer.run(until=10)
    assert transfer.sender.result.condition_code == ConditionCode.CANCEL_REQUEST_RECEIVED
    assert transfer.receiver.result.condition_code == ConditionCode.CANCEL_REQUEST_RECEIVED
    assert transfer.receiver.file_bytes() is None


def test_files_over_the_free_space_limit_are_refused_without_allocation() -> None:
    transfer = make_transfer(os.urandom(5000), max_file_size=4096)
    transfer.run(until=20)
    receiver = transfer.receiver
    assert receiver.result.condition_code == ConditionCode.FILESTORE_REJECTION
    assert receiver.partial_bytes() == b""
    assert transfer.sender.result.condition_code == ConditionCode.FILESTORE_REJECTION


def test_crc_protected_pdus_work_end_to_end() -> None:
    data = os.urandom(3000)
    transfer = make_transfer(data, crc=True, down_fates=["deliver", DROP, "corrupt"])
    transfer.run()
    assert transfer.receiver.file_bytes() == data
    assert transfer.ground.rejections["undecodable"] == 1  # the corrupted PDU, caught by its CRC
    assert all(raw[0] & 0b10 for raw in transfer.down.sent)
