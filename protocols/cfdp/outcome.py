"""How a transaction ended, as both entities report it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from protocols.cfdp.constants import ConditionCode, DeliveryCode, FileStatus

Send = Callable[[bytes], None]
Clock = Callable[[], float]


class TransactionState(StrEnum):
    SENDING = "sending"
    WAITING_FOR_EOF_ACK = "waiting_for_eof_ack"
    WAITING_FOR_FINISHED = "waiting_for_finished"
    RECEIVING = "receiving"
    WAITING_FOR_MISSING_DATA = "waiting_for_missing_data"
    WAITING_FOR_FINISHED_ACK = "waiting_for_finished_ack"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class TransactionResult:
    condition_code: ConditionCode
    delivery_code: DeliveryCode
    file_status: FileStatus

    @property
    def complete(self) -> bool:
        """True only for a file delivered whole and checksum-verified."""
        no_error = self.condition_code == ConditionCode.NO_ERROR
        return no_error and self.delivery_code == DeliveryCode.DATA_COMPLETE
