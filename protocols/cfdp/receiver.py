"""The receiving entity of one transaction, class 1 or class 2, and a dispatcher for many.

The file is assembled into a buffer of the size the Metadata (or EOF) declares, never larger,
and only once that size passes the configured free-space limit. Every offset and length that
arrives is checked against the declared size; offenders are counted in ``rejections`` and
dropped. A class 1 transaction with missing data or a bad checksum is never reported complete.
"""

from __future__ import annotations

from collections.abc import Callable

from protocols.cfdp.checksum import SUPPORTED_CHECKSUM_TYPES, file_checksum
from protocols.cfdp.config import EntityConfig
from protocols.cfdp.constants import (
    ConditionCode,
    DeliveryCode,
    Direction,
    DirectiveCode,
    FileStatus,
    PromptResponse,
    TransactionStatus,
    TransmissionMode,
)
from protocols.cfdp.faults import Rejection, RejectionCounter
from protocols.cfdp.header import PduHeader
from protocols.cfdp.naks import METADATA_REQUEST, nak_sequence
from protocols.cfdp.outcome import Clock, Send, TransactionResult, TransactionState
from protocols.cfdp.pdu import (
    Ack,
    Eof,
    FileData,
    Finished,
    KeepAlive,
    Metadata,
    Pdu,
    Prompt,
    decode_pdu,
    encode_pdu,
)
from protocols.cfdp.progress import TransactionProgress
from protocols.cfdp.ranges import RangeSet
from protocols.cfdp.timers import Countdown
from protocols.errors import DecodeError

SegmentCallback = Callable[[tuple[int, int], int, bytes], None]
"""Called with (transaction id, offset, octets) for every segment that brings new data."""


class FileReceiver:
    """Receives one file. Created by :class:`ReceivingEntity` on the first PDU of a transaction."""

    def __init__(
        self,
        config: EntityConfig,
        first_header: PduHeader,
        *,
        send: Send,
        now: Clock,
        on_segment: SegmentCallback | None = None,
    ) -> None:
        self.config = config
        self._send = send
        self._now = now
        self._on_segment = on_segment
        self.mode = first_header.transmission_mode
        # Our replies keep the sender's field widths and file-size width, with our CRC choice.
        self.header = PduHeader(
            source_entity_id=first_header.source_entity_id,
            destination_entity_id=first_header.destination_entity_id,
            transaction_sequence_number=first_header.transaction_sequence_number,
            transmission_mode=self.mode,
            entity_id_length=first_header.entity_id_length,
            sequence_number_length=first_header.sequence_number_length,
            crc_flag=config.crc,
            large_file_flag=first_header.large_file_flag,
        )
        timers = config.timers
        self._nak_timer = Countdown(timers.nak_interval)
        self._ack_timer = Countdown(timers.ack_interval)
        self._check_timer = Countdown(timers.check_interval)
        self._inactivity = Countdown(timers.inactivity_interval)
        self._keep_alive = Countdown(timers.keep_alive_interval or 0.0)
        self._timers = (
            self._nak_timer,
            self._ack_timer,
            self._check_timer,
            self._inactivity,
            self._keep_alive,
        )
        self.state = TransactionState.RECEIVING
        self.result: TransactionResult | None = None
        self.rejections = RejectionCounter()
        self.metadata: Metadata | None = None
        self.file_size: int | None = None
        self._buffer: bytearray | None = None
        self._received = RangeSet()
        self._early: list[FileData] = []
        self._early_bytes = 0
        self._eof: Eof | None = None
        self._finished_raw = b""
        self._nak_count = self._ack_count = self._check_count = 0
        self._nak_rounds = 0
        self._bytes_at_last_nak = 0
        self._nak_sent = False
        self._recovered_bytes = 0
        self._suspended = False
        self._started_at = now()
        self._ended_at: float | None = None
        self._closed = False  # class 2: Finished acknowledged (or given up); nothing more to do
        self._start_timer(self._inactivity)
        if self.mode == TransmissionMode.ACKNOWLEDGED and timers.keep_alive_interval:
            self._start_timer(self._keep_alive)

    # ------------------------------------------------------------ owner interface

    @property
    def transaction_id(self) -> tuple[int, int]:
        return self.header.transaction_id

    @property
    def ended(self) -> bool:
        return self._ended_at is not None

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def received(self) -> RangeSet:
        return self._received

    def file_bytes(self) -> bytes | None:
        """The file, only when delivered complete and checksum-verified."""
        if self.result is None or not self.result.complete or self._buffer is None:
            return None
        return bytes(self._buffer)

    def partial_bytes(self) -> bytes:
        """Whatever has arrived so far (zeros in the gaps), for progressive display."""
        return b"" if self._buffer is None else bytes(self._buffer)

    def handle(self, raw: bytes | bytearray | memoryview) -> None:
        try:
            pdu = decode_pdu(raw)
        except DecodeError:
            self.rejections.reject(Rejection.UNDECODABLE)
            return
        self.handle_pdu(pdu)

    def handle_pdu(self, pdu: Pdu) -> None:
        if pdu.header.transaction_id != self.transaction_id:
            self.rejections.reject(Rejection.WRONG_TRANSACTION)
            return
        body = pdu.body
        if self.ended:
            self._after_end(body)
            return
        if not self._suspended:
            self._inactivity.start(self._now())
        match body:
            case FileData():
                self._on_file_data(body)
            case Metadata():
                self._on_metadata(body)
            case Eof():
                self._on_eof(body)
            case Prompt():
                self._on_prompt(body)
            case Ack(acknowledged_directive=DirectiveCode.FINISHED):
                self._on_finished_ack()
            case _:
                self.rejections.reject(Rejection.UNEXPECTED_PDU)

    def poll(self) -> None:
        """Run timers (NAK, ACK, check, inactivity, keep-alive)."""
        if self._suspended or self._closed:
            return
        now = self._now()
        if self._ack_timer.expired(now):
            self._ack_count += 1
            if self._ack_count > self.config.timers.ack_limit:
                self._ack_timer.stop()
                self._close()  # the sender never acknowledged Finished; our outcome stands
            else:
                self._send(self._finished_raw)
                self._ack_timer.start(now)
        if self.ended:
            return
        if self._nak_timer.expired(now):
            self._on_nak_timer(now)
        if self._check_timer.expired(now):
            self._check_count += 1
            if self._check_count >= self.config.timers.check_limit:
                self._finish(ConditionCode.CHECK_LIMIT_REACHED, complete=False)
            else:
                self._check_timer.start(now)
        if not self.ended and self._inactivity.expired(now):
            self.cancel(ConditionCode.INACTIVITY_DETECTED)
        if not self.ended and self._keep_alive.expired(now):
            self._send_pdu(KeepAlive(self._received.contiguous_end))
            self._keep_alive.start(now)

    def suspend(self) -> None:
        if not self._suspended:
            self._suspended = True
            now = self._now()
            for timer in self._timers:
                timer.freeze(now)

    def resume(self) -> None:
        if self._suspended:
            self._suspended = False
            now = self._now()
            for timer in self._timers:
                timer.thaw(now)

    def cancel(self, condition: ConditionCode = ConditionCode.CANCEL_REQUEST_RECEIVED) -> None:
        if not self.ended:
            self._finish(condition, complete=False, fault_location=self.header.destination_entity_id)

    def progress(self) -> TransactionProgress:
        return TransactionProgress(
            source_entity_id=self.header.source_entity_id,
            sequence_number=self.header.transaction_sequence_number,
            role="receiver",
            state=str(self.state),
            file_size=self.file_size,
            bytes_done=self._received.covered,
            nak_rounds=self._nak_rounds,
            retransmitted_bytes=self._recovered_bytes,
            started_at=self._started_at,
            ended_at=self._ended_at,
            condition_code=None if self.result is None else int(self.result.condition_code),
        )

    # ------------------------------------------------------------ PDU handlers

    def _on_file_data(self, data: FileData) -> None:
        if self.file_size is None:
            self._hold_early(data)
            return
        end = data.offset + len(data.data)
        if data.offset > self.file_size:
            self.rejections.reject(Rejection.OFFSET_PAST_FILE_SIZE)
            return
        if end > self.file_size:
            self.rejections.reject(Rejection.SEGMENT_OVERRUNS_FILE_SIZE)
            return
        held_end = self._received.highest_end
        self._store(data.offset, data.data)
        immediate = self.config.immediate_nak and self.mode == TransmissionMode.ACKNOWLEDGED
        if immediate and self._eof is None and data.offset > held_end:
            self._send_nak_pdus(held_end, data.offset, [(held_end, data.offset)])
        self._check_completion()

    def _hold_early(self, data: FileData) -> None:
        """File data before any size is known: keep it within the free-space limit, replay it later."""
        end = data.offset + len(data.data)
        if end > self.config.max_file_size:
            self.rejections.reject(Rejection.OFFSET_PAST_FILE_SIZE)
        elif self._early_bytes + len(data.data) > min(self.config.max_early_data, self.config.max_file_size):
            self.rejections.reject(Rejection.EARLY_DATA_OVER_LIMIT)
        else:
            self._early.append(data)
            self._early_bytes += len(data.data)

    def _on_metadata(self, metadata: Metadata) -> None:
        if self.metadata is not None:
            if metadata != self.metadata:
                self.rejections.reject(Rejection.METADATA_CONFLICT)
            return
        if self.file_size is not None and metadata.file_size != self.file_size:
            self.rejections.reject(Rejection.EOF_SIZE_DIFFERS_FROM_METADATA)
            self._finish(ConditionCode.FILE_SIZE_ERROR, complete=False)
            return
        self.metadata = metadata
        if metadata.checksum_type not in SUPPORTED_CHECKSUM_TYPES:
            self._finish(ConditionCode.UNSUPPORTED_CHECKSUM_TYPE, complete=False)
            return
        if self._declare_size(metadata.file_size):
            self._check_completion()

    def _declare_size(self, size: int) -> bool:
        """Allocate the buffer for a declared size, if it fits the free space. False when refused."""
        if self.file_size is not None:
            return True
        if size > self.config.max_file_size:
            self.rejections.reject(Rejection.FILE_SIZE_OVER_LIMIT)
            self._finish(
                ConditionCode.FILESTORE_REJECTION,
                complete=False,
                file_status=FileStatus.DISCARDED_FILESTORE_REJECTION,
            )
            return False
        self.file_size = size
        self._buffer = bytearray(size)
        early, self._early, self._early_bytes = self._early, [], 0
        for data in early:
            if data.offset + len(data.data) > size:
                self.rejections.reject(Rejection.SEGMENT_OVERRUNS_FILE_SIZE)
            else:
                self._store(data.offset, data.data)
        return True

    def _on_eof(self, eof: Eof) -> None:
        if self.mode == TransmissionMode.ACKNOWLEDGED:
            ack = Ack(DirectiveCode.EOF, eof.condition_code, TransactionStatus.ACTIVE)
            self._send_pdu(ack)
        if eof.condition_code != ConditionCode.NO_ERROR:
            # The sender cancelled; we acknowledged and stop, keeping nothing as complete.
            self._end(
                TransactionState.CANCELLED,
                TransactionResult(
                    eof.condition_code, DeliveryCode.DATA_INCOMPLETE, FileStatus.DISCARDED_DELIBERATELY
                ),
            )
            self._closed = True
            return
        if self._eof is not None:
            return  # a repeat because our ACK was lost; answered above
        if eof.file_size < self._received.highest_end or any(
            d.offset + len(d.data) > eof.file_size for d in self._early
        ):
            self.rejections.reject(Rejection.EOF_SMALLER_THAN_DATA_RECEIVED)
            self._finish(ConditionCode.FILE_SIZE_ERROR, complete=False)
            return
        if self.file_size is not None and eof.file_size != self.file_size:
            self.rejections.reject(Rejection.EOF_SIZE_DIFFERS_FROM_METADATA)
            self._finish(ConditionCode.FILE_SIZE_ERROR, complete=False)
            return
        self._eof = eof
        if not self._declare_size(eof.file_size):
            return
        self.state = TransactionState.WAITING_FOR_MISSING_DATA
        if self._check_completion():
            return
        if self.mode == TransmissionMode.ACKNOWLEDGED:
            self._send_naks(0, eof.file_size)
        else:
            self._start_timer(self._check_timer)

    def _on_prompt(self, prompt: Prompt) -> None:
        if self.mode != TransmissionMode.ACKNOWLEDGED:
            return
        if prompt.response_required == PromptResponse.KEEP_ALIVE:
            self._send_pdu(KeepAlive(self._received.contiguous_end))
        else:
            end = self._eof.file_size if self._eof is not None else self._received.highest_end
            self._send_naks(0, end)

    def _on_finished_ack(self) -> None:
        self.rejections.reject(Rejection.UNEXPECTED_PDU)  # no Finished outstanding before the end

    def _after_end(self, body) -> None:
        """Late PDUs: re-acknowledge a repeated EOF, close on the ACK of our Finished."""
        if isinstance(body, Ack) and body.acknowledged_directive == DirectiveCode.FINISHED:
            self._ack_timer.stop()
            self._close()
        elif isinstance(body, Eof) and self.mode == TransmissionMode.ACKNOWLEDGED:
            self._send_pdu(Ack(DirectiveCode.EOF, body.condition_code, TransactionStatus.TERMINATED))
            if self._finished_raw and not self._closed:
                self._send(self._finished_raw)
        else:
            self.rejections.reject(Rejection.AFTER_TRANSACTION_END)

    # ------------------------------------------------------------ assembly, NAKs, completion

    def _store(self, offset: int, octets: bytes) -> None:
        if not octets:
            return
        added = self._received.add(offset, offset + len(octets))
        if not added:
            return
        self._buffer[offset : offset + len(octets)] = octets
        if self._nak_sent:
            self._recovered_bytes += added
        if self._on_segment is not None:
            self._on_segment(self.transaction_id, offset, octets)

    def _missing(self, end: int) -> list[tuple[int, int]]:
        requests = [] if self.metadata is not None else [METADATA_REQUEST]
        return requests + self._received.gaps(0, end)

    def _send_naks(self, start: int, end: int) -> None:
        requests = self._missing(end)
        if not requests:
            return
        self._nak_rounds += 1
        self._bytes_at_last_nak = self._received.covered
        self._send_nak_pdus(start, end, requests)
        self._start_timer(self._nak_timer)

    def _send_nak_pdus(self, start: int, end: int, requests: list[tuple[int, int]]) -> None:
        self._nak_sent = True
        for nak in nak_sequence(self.header, start, end, requests, self.config.max_pdu_length):
            self._send_pdu(nak)

    def _on_nak_timer(self, now: float) -> None:
        if self._eof is None:
            self._nak_timer.stop()
            return
        if self._received.covered == self._bytes_at_last_nak and self.metadata is not None:
            self._nak_count += 1
        else:
            self._nak_count = 0  # progress since the last NAK: the link works, keep asking
        if self._nak_count >= self.config.timers.nak_limit:
            self._finish(ConditionCode.NAK_LIMIT_REACHED, complete=False)
            return
        self._send_naks(0, self._eof.file_size)

    def _check_completion(self) -> bool:
        if self._eof is None or self.metadata is None or self.file_size is None:
            return False
        if not self._received.contains(0, self.file_size):
            return False
        try:
            computed = file_checksum(self.metadata.checksum_type, self._buffer)
        except ValueError:
            self._finish(ConditionCode.UNSUPPORTED_CHECKSUM_TYPE, complete=False)
            return True
        if computed != self._eof.file_checksum:
            self._finish(ConditionCode.FILE_CHECKSUM_FAILURE, complete=False)
        else:
            self._finish(ConditionCode.NO_ERROR, complete=True)
        return True

    def _finish(
        self,
        condition: ConditionCode,
        *,
        complete: bool,
        fault_location: int | None = None,
        file_status: FileStatus | None = None,
    ) -> None:
        delivery = DeliveryCode.DATA_COMPLETE if complete else DeliveryCode.DATA_INCOMPLETE
        if file_status is None:
            file_status = FileStatus.RETAINED if complete else FileStatus.DISCARDED_DELIBERATELY
        result = TransactionResult(condition, delivery, file_status)
        state = TransactionState.COMPLETED if complete else TransactionState.CANCELLED
        if condition != ConditionCode.NO_ERROR and fault_location is None:
            fault_location = self.header.destination_entity_id
        closure = self.mode == TransmissionMode.ACKNOWLEDGED or (
            self.metadata is not None and self.metadata.closure_requested
        )
        self._end(state, result)
        if closure:
            finished = Finished(condition, delivery, file_status, (), fault_location)
            self._finished_raw = encode_pdu(Pdu(self.header, finished))
            self._send(self._finished_raw)
        if self.mode == TransmissionMode.ACKNOWLEDGED:
            self.state = TransactionState.WAITING_FOR_FINISHED_ACK if complete else state
            self._start_timer(self._ack_timer)
        else:
            self._closed = True

    def _close(self) -> None:
        self._closed = True
        if self.state == TransactionState.WAITING_FOR_FINISHED_ACK:
            self.state = TransactionState.COMPLETED

    def _end(self, state: TransactionState, result: TransactionResult) -> None:
        self.state = state
        self.result = result
        self._ended_at = self._now()
        for timer in self._timers:
            timer.stop()

    def _start_timer(self, timer: Countdown) -> None:
        timer.start(self._now())
        if self._suspended:
            timer.freeze(self._now())

    def _send_pdu(self, body) -> None:
        self._send(encode_pdu(Pdu(self.header, body)))


class ReceivingEntity:
    """Routes incoming PDUs to one :class:`FileReceiver` per transaction, creating them as needed.

    At most ``max_active`` unfinished transactions are kept (more are refused and counted);
    ended ones (with their buffers) stay to answer late duplicates until ``max_remembered`` is
    reached, then the oldest closed ones are forgotten.
    """

    def __init__(
        self,
        config: EntityConfig,
        *,
        send: Send,
        now: Clock,
        on_segment: SegmentCallback | None = None,
        on_end: Callable[[FileReceiver], None] | None = None,
        max_active: int = 16,
        max_remembered: int = 32,
    ) -> None:
        self.config = config
        self._send = send
        self._now = now
        self._on_segment = on_segment
        self._on_end = on_end
        self._max_active = max_active
        self._max_remembered = max_remembered
        self.transactions: dict[tuple[int, int], FileReceiver] = {}
        self._reported: set[tuple[int, int]] = set()
        self.rejections = RejectionCounter()

    def handle(self, raw: bytes | bytearray | memoryview) -> FileReceiver | None:
        try:
            pdu = decode_pdu(raw)
        except DecodeError:
            self.rejections.reject(Rejection.UNDECODABLE)
            return None
        return self.handle_pdu(pdu)

    def handle_pdu(self, pdu: Pdu) -> FileReceiver | None:
        header = pdu.header
        if header.destination_entity_id != self.config.local_entity_id:
            self.rejections.reject(Rejection.NOT_FOR_THIS_ENTITY)
            return None
        receiver = self.transactions.get(header.transaction_id)
        if receiver is None:
            if header.direction != Direction.TOWARD_RECEIVER or isinstance(pdu.body, Ack):
                self.rejections.reject(Rejection.UNEXPECTED_PDU)
                return None
            if sum(not r.ended for r in self.transactions.values()) >= self._max_active:
                self.rejections.reject(Rejection.TOO_MANY_TRANSACTIONS)
                return None
            self._forget_old()
            receiver = FileReceiver(
                self.config, header, send=self._send, now=self._now, on_segment=self._on_segment
            )
            self.transactions[header.transaction_id] = receiver
        receiver.handle_pdu(pdu)
        self._report(receiver)
        return receiver

    def poll(self) -> None:
        for receiver in list(self.transactions.values()):
            receiver.poll()
            self._report(receiver)

    def suspend(self) -> None:
        for receiver in self.transactions.values():
            receiver.suspend()

    def resume(self) -> None:
        for receiver in self.transactions.values():
            receiver.resume()

    def all_rejections(self) -> RejectionCounter:
        total = RejectionCounter(self.rejections)
        for receiver in self.transactions.values():
            total.update(receiver.rejections)
        return total

    def _report(self, receiver: FileReceiver) -> None:
        if receiver.ended and receiver.transaction_id not in self._reported:
            self._reported.add(receiver.transaction_id)
            if self._on_end is not None:
                self._on_end(receiver)

    def _forget_old(self) -> None:
        ended = [key for key, r in self.transactions.items() if r.ended and r.closed]
        while len(self.transactions) >= self._max_remembered and ended:
            key = ended.pop(0)
            del self.transactions[key]
            self._reported.discard(key)
