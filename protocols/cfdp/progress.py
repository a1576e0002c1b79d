"""A transaction's progress as a value the lead can print live."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TransactionProgress:
    source_entity_id: int
    sequence_number: int
    role: str  # "sender" or "receiver"
    state: str
    file_size: int | None
    bytes_done: int  # sender: octets sent at least once; receiver: distinct octets held
    nak_rounds: int
    retransmitted_bytes: int  # sender: resent on NAK; receiver: octets that arrived after a NAK
    started_at: float
    ended_at: float | None
    condition_code: int | None

    @property
    def percent(self) -> float:
        if not self.file_size:
            return 100.0 if self.file_size == 0 and self.ended_at is not None else 0.0
        return 100.0 * self.bytes_done / self.file_size

    def line(self) -> str:
        size = "?" if self.file_size is None else str(self.file_size)
        return (
            f"{self.role} {self.source_entity_id}/{self.sequence_number} {self.state}: "
            f"{self.bytes_done}/{size} B ({self.percent:.1f} %), NAK rounds {self.nak_rounds}, "
            f"resent {self.retransmitted_bytes} B"
        )
