"""Code points of CFDP (CCSDS 727.0-B-5), named once.

Values checked against spacepackets.cfdp.defs, LibreCube ``cfdp.constants`` and
the Yamcs/OpenC3 implementations (checksum identifiers are SANA's registry).
"""

from __future__ import annotations

from enum import IntEnum

CFDP_VERSION = 0b001  # version 2 of the protocol (727.0-B-4 onwards) is coded 001


class PduType(IntEnum):
    FILE_DIRECTIVE = 0
    FILE_DATA = 1


class Direction(IntEnum):
    TOWARD_RECEIVER = 0
    TOWARD_SENDER = 1


class TransmissionMode(IntEnum):
    ACKNOWLEDGED = 0  # class 2
    UNACKNOWLEDGED = 1  # class 1


class DirectiveCode(IntEnum):
    EOF = 0x04
    FINISHED = 0x05
    ACK = 0x06
    METADATA = 0x07
    NAK = 0x08
    PROMPT = 0x09
    KEEP_ALIVE = 0x0C


class ConditionCode(IntEnum):
    NO_ERROR = 0
    POSITIVE_ACK_LIMIT_REACHED = 1
    KEEP_ALIVE_LIMIT_REACHED = 2
    INVALID_TRANSMISSION_MODE = 3
    FILESTORE_REJECTION = 4
    FILE_CHECKSUM_FAILURE = 5
    FILE_SIZE_ERROR = 6
    NAK_LIMIT_REACHED = 7
    INACTIVITY_DETECTED = 8
    INVALID_FILE_STRUCTURE = 9
    CHECK_LIMIT_REACHED = 10
    UNSUPPORTED_CHECKSUM_TYPE = 11
    SUSPEND_REQUEST_RECEIVED = 14
    CANCEL_REQUEST_RECEIVED = 15


class ChecksumType(IntEnum):
    """SANA checksum identifiers."""

    MODULAR = 0
    PROXIMITY1_CRC32 = 1
    CRC32C = 2
    CRC32 = 3  # IEEE 802.3
    NULL = 15


class DeliveryCode(IntEnum):
    DATA_COMPLETE = 0
    DATA_INCOMPLETE = 1


class FileStatus(IntEnum):
    DISCARDED_DELIBERATELY = 0
    DISCARDED_FILESTORE_REJECTION = 1
    RETAINED = 2
    UNREPORTED = 3


class TransactionStatus(IntEnum):
    UNDEFINED = 0
    ACTIVE = 1
    TERMINATED = 2
    UNRECOGNIZED = 3


class PromptResponse(IntEnum):
    NAK = 0
    KEEP_ALIVE = 1


class AckSubtype(IntEnum):
    """Directive subtype code of an ACK: 1 only when it acknowledges a Finished PDU."""

    OTHER = 0
    FINISHED = 1


class TlvType(IntEnum):
    FILESTORE_REQUEST = 0x00
    FILESTORE_RESPONSE = 0x01
    MESSAGE_TO_USER = 0x02
    FAULT_HANDLER_OVERRIDE = 0x04
    FLOW_LABEL = 0x05
    ENTITY_ID = 0x06
