"""Why an entity refused a PDU: named reasons, counted per transaction and per entity."""

from __future__ import annotations

from collections import Counter
from enum import StrEnum


class Rejection(StrEnum):
    UNDECODABLE = "undecodable"
    NOT_FOR_THIS_ENTITY = "not_for_this_entity"
    WRONG_TRANSACTION = "wrong_transaction"
    UNEXPECTED_PDU = "unexpected_pdu"
    TOO_MANY_TRANSACTIONS = "too_many_transactions"
    OFFSET_PAST_FILE_SIZE = "offset_past_file_size"
    SEGMENT_OVERRUNS_FILE_SIZE = "segment_overruns_file_size"
    EARLY_DATA_OVER_LIMIT = "early_data_over_limit"
    FILE_SIZE_OVER_LIMIT = "file_size_over_limit"
    METADATA_CONFLICT = "metadata_conflict"
    EOF_SMALLER_THAN_DATA_RECEIVED = "eof_smaller_than_data_received"
    EOF_SIZE_DIFFERS_FROM_METADATA = "eof_size_differs_from_metadata"
    NAK_INVERTED_RANGE = "nak_inverted_range"
    NAK_BEYOND_FILE_SIZE = "nak_beyond_file_size"
    NAK_FOR_UNSENT_DATA = "nak_for_unsent_data"
    NAK_SCOPE_BEYOND_FILE_SIZE = "nak_scope_beyond_file_size"
    KEEP_ALIVE_BEYOND_FILE_SIZE = "keep_alive_beyond_file_size"
    AFTER_TRANSACTION_END = "after_transaction_end"


class RejectionCounter(Counter):
    """Counts of :class:`Rejection` reasons (a ``Counter`` keyed by the reason's string)."""

    def reject(self, reason: Rejection, count: int = 1) -> None:
        self[str(reason)] += count
