"""The sending entity of one transaction, class 1 (unacknowledged) or class 2 (acknowledged).

No sockets, no clocks: PDUs go out through the injected ``send`` callback and every timer reads
the injected ``now()``. The owner calls :meth:`FileSender.poll` in its loop (optionally with a
PDU budget, which is how the link rate paces the sender) and hands received PDUs to
:meth:`FileSender.handle`.
"""

from __future__ import annotations

from dataclasses import replace

from protocols.cfdp.checksum import file_checksum
from protocols.cfdp.config import EntityConfig
from protocols.cfdp.constants import (
    ConditionCode,
    DeliveryCode,
    DirectiveCode,
    FileStatus,
    PduType,
    TransactionStatus,
    TransmissionMode,
)
from protocols.cfdp.faults import Rejection, RejectionCounter
from protocols.cfdp.header import PduHeader
from protocols.cfdp.naks import METADATA_REQUEST
from protocols.cfdp.outcome import Clock, Send, TransactionResult, TransactionState
from protocols.cfdp.pdu import (
    Ack,
    Eof,
    Finished,
    KeepAlive,
    Metadata,
    Nak,
    Pdu,
    decode_pdu,
    encode_file_data_fast,
    encode_pdu,
    max_file_data_length,
)
from protocols.cfdp.progress import TransactionProgress
from protocols.cfdp.ranges import RangeSet
from protocols.cfdp.timers import Countdown
from protocols.errors import DecodeError

LARGE_FILE_THRESHOLD = 1 << 32


class FileSender:
    """Sends one file: Metadata, file data, EOF; then (class 2) answers NAKs until Finished."""

    def __init__(
        self,
        config: EntityConfig,
        destination_entity_id: int,
        sequence_number: int,
        file_data: bytes,
        *,
        send: Send,
        now: Clock,
        mode: TransmissionMode = TransmissionMode.ACKNOWLEDGED,
        source_file_name: bytes = b"",
        destination_file_name: bytes = b"",
        closure_requested: bool = False,
    ) -> None:
        self.config = config
        self._file = bytes(file_data)
        self._view = memoryview(self._file)
        self._send = send
        self._now = now
        self.mode = mode
        self.header = PduHeader(
            source_entity_id=config.local_entity_id,
            destination_entity_id=destination_entity_id,
            transaction_sequence_number=sequence_number,
            transmission_mode=mode,
            entity_id_length=config.entity_id_length,
            sequence_number_length=config.sequence_number_length,
            crc_flag=config.crc,
            large_file_flag=len(self._file) >= LARGE_FILE_THRESHOLD,
        )
        self.header.check()
        self._data_header = replace(self.header, pdu_type=PduType.FILE_DATA)
        self._segment_length = max_file_data_length(self.header, config.max_pdu_length)
        if self._segment_length < 1:
            raise ValueError(f"max PDU length {config.max_pdu_length} leaves no room for file data")
        self._closure_requested = closure_requested or mode == TransmissionMode.ACKNOWLEDGED
        self._metadata = Metadata(
            len(self._file),
            source_file_name,
            destination_file_name,
            config.checksum_type,
            self._closure_requested,
        )
        self._checksum = file_checksum(config.checksum_type, self._file)
        timers = config.timers
        self._ack_timer = Countdown(timers.ack_interval)
        self._inactivity = Countdown(timers.inactivity_interval)
        self._ack_count = 0
        self.state = TransactionState.SENDING
        self.result: TransactionResult | None = None
        self.rejections = RejectionCounter()
        self.receiver_progress = 0
        self._metadata_pending = True
        self._next_offset = 0
        self._eof_sent = False
        self._eof_raw = b""
        self._retransmit = RangeSet()
        self._outbox: list[bytes] = []
        self._suspended = False
        self._naks_received = 0
        self._retransmitted_bytes = 0
        self._started_at = now()
        self._ended_at: float | None = None

    # ------------------------------------------------------------ owner interface

    @property
    def transaction_id(self) -> tuple[int, int]:
        return self.header.transaction_id

    @property
    def file_size(self) -> int:
        return len(self._file)

    @property
    def ended(self) -> bool:
        return self._ended_at is not None

    @property
    def suspended(self) -> bool:
        return self._suspended

    @property
    def idle(self) -> bool:
        """Nothing to send right now (waiting for the other side or for a timer)."""
        if self._outbox:
            return False
        everything_sent = self._next_offset >= len(self._file) and self._eof_sent
        return self.ended or (not self._metadata_pending and not self._retransmit and everything_sent)

    def poll(self, max_pdus: int | None = None) -> int:
        """Run timers, then send up to ``max_pdus`` PDUs (all that are ready when None). Returns the count."""
        if self._suspended:
            return 0
        if not self.ended:
            self._run_timers(self._now())
        sent = 0
        while max_pdus is None or sent < max_pdus:
            raw = self._next_pdu()
            if raw is None:
                break
            self._send(raw)
            sent += 1
        return sent

    def handle(self, raw: bytes | bytearray | memoryview) -> None:
        try:
            pdu = decode_pdu(raw)
        except DecodeError:
            self.rejections.reject(Rejection.UNDECODABLE)
            return
        self.handle_pdu(pdu)

    def handle_pdu(self, pdu: Pdu) -> None:
        header = pdu.header
        if (
            header.transaction_id != self.transaction_id
            or header.destination_entity_id != self.header.destination_entity_id
        ):
            self.rejections.reject(Rejection.WRONG_TRANSACTION)
            return
        body = pdu.body
        if self.ended:
            if isinstance(body, Finished) and self.mode == TransmissionMode.ACKNOWLEDGED:
                self._outbox.append(self._ack_of_finished(body))  # our ACK was lost: say it again
            else:
                self.rejections.reject(Rejection.AFTER_TRANSACTION_END)
            return
        if self._inactivity.running and not self._suspended:
            self._inactivity.start(self._now())
        match body:
            case Ack(acknowledged_directive=DirectiveCode.EOF):
                if self.state == TransactionState.WAITING_FOR_EOF_ACK:
                    self._ack_timer.stop()
                    self.state = TransactionState.WAITING_FOR_FINISHED
                    self._start_timer(self._inactivity)
            case Nak():
                self._on_nak(body)
            case Finished():
                self._on_finished(body)
            case KeepAlive():
                if body.progress > len(self._file):
                    self.rejections.reject(Rejection.KEEP_ALIVE_BEYOND_FILE_SIZE)
                    return
                self.receiver_progress = body.progress
                limit = self.config.timers.keep_alive_discrepancy_limit
                if limit is not None and self._next_offset - body.progress > limit:
                    self.cancel(ConditionCode.KEEP_ALIVE_LIMIT_REACHED)
            case _:
                self.rejections.reject(Rejection.UNEXPECTED_PDU)

    def suspend(self) -> None:
        """Stop sending and freeze every timer (e.g. the pass ended)."""
        if not self._suspended:
            self._suspended = True
            now = self._now()
            for timer in (self._ack_timer, self._inactivity):
                timer.freeze(now)

    def resume(self) -> None:
        if self._suspended:
            self._suspended = False
            now = self._now()
            for timer in (self._ack_timer, self._inactivity):
                timer.thaw(now)

    def cancel(self, condition: ConditionCode = ConditionCode.CANCEL_REQUEST_RECEIVED) -> None:
        """Notice of cancellation: an EOF carrying ``condition`` and our entity as fault location."""
        if self.ended:
            return
        sent = self._view[: self._next_offset]
        eof = Eof(
            file_checksum(self.config.checksum_type, sent),
            self._next_offset,
            condition,
            self.config.local_entity_id,
        )
        self._outbox.append(encode_pdu(Pdu(self.header, eof)))
        self._end(
            TransactionState.CANCELLED,
            TransactionResult(condition, DeliveryCode.DATA_INCOMPLETE, FileStatus.UNREPORTED),
        )

    def progress(self) -> TransactionProgress:
        return TransactionProgress(
            source_entity_id=self.header.source_entity_id,
            sequence_number=self.header.transaction_sequence_number,
            role="sender",
            state=str(self.state),
            file_size=len(self._file),
            bytes_done=self._next_offset,
            nak_rounds=self._naks_received,
            retransmitted_bytes=self._retransmitted_bytes,
            started_at=self._started_at,
            ended_at=self._ended_at,
            condition_code=None if self.result is None else int(self.result.condition_code),
        )

    # ------------------------------------------------------------ internals

    def _start_timer(self, timer: Countdown) -> None:
        timer.start(self._now())
        if self._suspended:
            timer.freeze(self._now())

    def _end(self, state: TransactionState, result: TransactionResult) -> None:
        self.state = state
        self.result = result
        self._ended_at = self._now()
        self._ack_timer.stop()
        self._inactivity.stop()
        self._retransmit = RangeSet()

    def _run_timers(self, now: float) -> None:
        if self._ack_timer.expired(now):
            self._ack_count += 1
            if self._ack_count > self.config.timers.ack_limit:
                self.cancel(ConditionCode.POSITIVE_ACK_LIMIT_REACHED)
                return
            self._outbox.append(self._eof_raw)
            self._ack_timer.start(now)
        if self._inactivity.expired(now):
            self.cancel(ConditionCode.INACTIVITY_DETECTED)

    def _next_pdu(self) -> bytes | None:
        if self._outbox:
            return self._outbox.pop(0)
        if self.ended:
            return None
        if self._metadata_pending:
            self._metadata_pending = False
            return encode_pdu(Pdu(self.header, self._metadata))
        if self._retransmit:
            start, end = self._retransmit.pop_front(self._segment_length)
            self._retransmitted_bytes += end - start
            return encode_file_data_fast(self._data_header, start, self._view[start:end].tobytes())
        if self._next_offset < len(self._file):
            start = self._next_offset
            end = min(start + self._segment_length, len(self._file))
            self._next_offset = end
            return encode_file_data_fast(self._data_header, start, self._view[start:end].tobytes())
        if not self._eof_sent:
            self._eof_sent = True
            self._eof_raw = encode_pdu(Pdu(self.header, Eof(self._checksum, len(self._file))))
            self._after_eof()
            return self._eof_raw
        return None

    def _after_eof(self) -> None:
        if self.mode == TransmissionMode.ACKNOWLEDGED:
            self.state = TransactionState.WAITING_FOR_EOF_ACK
            self._start_timer(self._ack_timer)
        elif self._closure_requested:
            self.state = TransactionState.WAITING_FOR_FINISHED
            self._start_timer(self._inactivity)
        else:
            # Class 1 without closure: the sender's part ends with the EOF; it never learns the outcome.
            unknown = TransactionResult(
                ConditionCode.NO_ERROR, DeliveryCode.DATA_INCOMPLETE, FileStatus.UNREPORTED
            )
            self._end(TransactionState.COMPLETED, unknown)

    def _on_nak(self, nak: Nak) -> None:
        size = len(self._file)
        self._naks_received += 1
        if nak.start_of_scope > nak.end_of_scope or nak.end_of_scope > size:
            self.rejections.reject(Rejection.NAK_SCOPE_BEYOND_FILE_SIZE)
        for start, end in nak.segment_requests:
            if (start, end) == METADATA_REQUEST:
                self._metadata_pending = True
            elif start > end:
                self.rejections.reject(Rejection.NAK_INVERTED_RANGE)
            elif end > size:
                self.rejections.reject(Rejection.NAK_BEYOND_FILE_SIZE)
            elif start >= self._next_offset and start < end:
                self.rejections.reject(Rejection.NAK_FOR_UNSENT_DATA)
            else:
                self._retransmit.add(start, min(end, self._next_offset))

    def _ack_of_finished(self, finished: Finished) -> bytes:
        ack = Ack(DirectiveCode.FINISHED, finished.condition_code, TransactionStatus.TERMINATED)
        return encode_pdu(Pdu(self.header, ack))

    def _on_finished(self, finished: Finished) -> None:
        if self.mode == TransmissionMode.ACKNOWLEDGED:
            self._outbox.append(self._ack_of_finished(finished))
        result = TransactionResult(finished.condition_code, finished.delivery_code, finished.file_status)
        state = (
            TransactionState.COMPLETED
            if finished.condition_code == ConditionCode.NO_ERROR
            else TransactionState.CANCELLED
        )
        self._end(state, result)


class SendingEntity:
    """Numbers and runs this entity's outgoing transactions and routes replies to them by transaction ID."""

    def __init__(
        self, config: EntityConfig, *, send: Send, now: Clock, first_sequence_number: int = 0
    ) -> None:
        self.config = config
        self._send = send
        self._now = now
        self._next_sequence = first_sequence_number
        self.transactions: dict[tuple[int, int], FileSender] = {}
        self.rejections = RejectionCounter()

    def put(
        self,
        destination_entity_id: int,
        file_data: bytes,
        *,
        source_file_name: bytes = b"",
        destination_file_name: bytes = b"",
        mode: TransmissionMode = TransmissionMode.ACKNOWLEDGED,
        closure_requested: bool = False,
    ) -> FileSender:
        """Start a transaction (the CFDP Put.request); its PDUs go out as :meth:`poll` allows."""
        modulus = 1 << (8 * self.config.sequence_number_length)
        sequence, self._next_sequence = self._next_sequence, (self._next_sequence + 1) % modulus
        sender = FileSender(
            self.config,
            destination_entity_id,
            sequence,
            file_data,
            send=self._send,
            now=self._now,
            mode=mode,
            source_file_name=source_file_name,
            destination_file_name=destination_file_name,
            closure_requested=closure_requested,
        )
        self.transactions[sender.transaction_id] = sender
        return sender

    def handle(self, raw: bytes | bytearray | memoryview) -> FileSender | None:
        try:
            pdu = decode_pdu(raw)
        except DecodeError:
            self.rejections.reject(Rejection.UNDECODABLE)
            return None
        sender = self.transactions.get(pdu.header.transaction_id)
        if sender is None:
            self.rejections.reject(Rejection.WRONG_TRANSACTION)
            return None
        sender.handle_pdu(pdu)
        return sender

    def poll(self, max_pdus: int | None = None) -> int:
        """Serve transactions oldest first within a shared PDU budget; returns PDUs sent."""
        sent = 0
        for sender in list(self.transactions.values()):
            budget = None if max_pdus is None else max_pdus - sent
            if budget is not None and budget <= 0:
                break
            sent += sender.poll(budget)
        return sent

    def suspend(self) -> None:
        for sender in self.transactions.values():
            sender.suspend()

    def resume(self) -> None:
        for sender in self.transactions.values():
            sender.resume()

    def forget_ended(self) -> list[FileSender]:
        """Drop ended, idle transactions (returns them, for a final report)."""
        done = [s for s in self.transactions.values() if s.ended and s.idle]
        for sender in done:
            del self.transactions[sender.transaction_id]
        return done
