"""Why a secured frame was refused: one typed reason per SDLS check (CCSDS 355.0-B-2 §4.3).

:class:`SdlsRejected` is a :class:`~protocols.errors.DecodeError` (layer ``"sdls"``), so every
decoder rule of the project holds: untrusted bytes give a result or this one exception. Its
``reason`` is what receivers count and report in housekeeping and events.
"""

from __future__ import annotations

from enum import IntEnum

from protocols.errors import DecodeError

LAYER = "sdls"


class Reason(IntEnum):
    """Rejection reasons; the values are the codes sent in the SDLS_FRAME_REJECTED event."""

    BAD_SPI = 1  # no SA with this SPI on this virtual channel
    BAD_MAC = 2  # the MAC does not verify (forged, corrupted, or wrong key)
    REPLAYED = 3  # ARSN not above the last one accepted
    OUT_OF_WINDOW = 4  # ARSN beyond the last accepted plus the anti-replay window
    WRONG_LENGTH = 5  # too short for the SA's header and trailer, or too long for the link
    SA_NOT_OPERATIONAL = 6  # the SA exists but is stopped or unkeyed
    UNAUTHENTICATED = 7  # a bare packet or an unsecured frame where the SAs require SDLS
    BAD_FRAME = 8  # did not decode as a frame (CLTU, FECF, address) before SDLS could look at it

    @property
    def label(self) -> str:
        return self.name.lower().replace("_", "-")


class SdlsRejected(DecodeError):
    """A frame refused by the security layer; ``reason`` says which check failed."""

    def __init__(self, reason: Reason, offset: int, detail: str) -> None:
        super().__init__(LAYER, offset, f"{reason.label}: {detail}")
        self.code = reason

    @property
    def why(self) -> Reason:
        return self.code
