"""CCSDS File Delivery Protocol (727.0-B-5) for image files, as pure libraries.

``pdu`` declares every PDU with construct (``encode_pdu`` / ``decode_pdu``), ``checksum`` holds
the SANA file checksums and the PDU CRC, ``sender`` / ``receiver`` are class 1 and class 2
state machines driven by an injected clock and send callback, ``naks`` splits NAK sequences,
``ranges``, ``timers``, ``faults``, ``progress`` and ``config`` hold what they are named for.
"""

from protocols.cfdp.config import EntityConfig, TimerPolicy
from protocols.cfdp.constants import ChecksumType, ConditionCode, TransmissionMode
from protocols.cfdp.outcome import TransactionResult, TransactionState
from protocols.cfdp.pdu import Pdu, decode_pdu, encode_pdu
from protocols.cfdp.progress import TransactionProgress
from protocols.cfdp.receiver import FileReceiver, ReceivingEntity
from protocols.cfdp.sender import FileSender, SendingEntity

__all__ = [
    "ChecksumType",
    "ConditionCode",
    "EntityConfig",
    "FileReceiver",
    "FileSender",
    "Pdu",
    "ReceivingEntity",
    "SendingEntity",
    "TimerPolicy",
    "TransactionProgress",
    "TransactionResult",
    "TransactionState",
    "TransmissionMode",
    "decode_pdu",
    "encode_pdu",
]
