"""SDLS on whole frames: TC frames (CCSDS 232.0-B) and fixed-length TM/AOS frames (132.0-B, 732.0-B).

TC (paleblue sends no segment header)::

    primary header 5 | security header | frame data (packets) | MAC | FECF 2

TM/AOS, the frame length fixed by the physical channel::

    primary header (+ secondary header / insert zone) | security header | data | MAC | OCF | FECF

The FECF is computed over the secured frame, after ApplySecurity; the OCF (CLCW) is not
authenticated (it is link control, refreshed every frame), as in 355.0-B-2 §4.1.2.
"""

from __future__ import annotations

import anycrc

from protocols.coding.crc import crc16
from protocols.errors import DecodeError
from protocols.link.tc_frame import FECF_LENGTH, HEADER_LENGTH, MAX_FRAME_LENGTH, TC_FRAME_HEADER, TcFrame
from protocols.sdls.association import SaKey, SecurityAssociation
from protocols.sdls.reasons import Reason, SdlsRejected
from protocols.sdls.security import Verified, apply_security, process_security

# CRC-16/CCITT-FALSE by crcany's word-wise tables (anycrc): a whole TM frame's FECF several times
# faster than binascii's byte loop; tests prove it equal to protocols.coding.crc.crc16.
_crc16_fast = anycrc.Model("CRC16-IBM-3740").calc


def tc_header(
    spacecraft_id: int, vcid: int, frame_sequence: int, frame_length: int, bypass: bool = True,
    control_command: bool = False,
) -> bytes:  # fmt: skip
    return TC_FRAME_HEADER.build(
        {"version": 0, "bypass": bypass, "control_command": control_command, "spare": 0,
         "spacecraft_id": spacecraft_id, "virtual_channel_id": vcid, "frame_length": frame_length - 1,
         "sequence_number": frame_sequence & 0xFF}
    )  # fmt: skip


def apply_tc(
    sa: SecurityAssociation, key: SaKey | None, arsn: int, spacecraft_id: int, frame_sequence: int,
    data: bytes, bypass: bool = True, control_command: bool = False,
) -> bytes:  # fmt: skip
    """One secured TC frame on the SA's virtual channel, FECF included."""
    length = HEADER_LENGTH + sa.overhead + len(data) + FECF_LENGTH
    if not data or length > MAX_FRAME_LENGTH:
        raise ValueError(
            f"a secured TC frame of {len(data)} data octets would be {length} (max {MAX_FRAME_LENGTH})"
        )
    header = tc_header(spacecraft_id, sa.vcid, frame_sequence, length, bypass, control_command)
    frame = header + apply_security(sa, key, arsn, header, data)
    return frame + crc16(frame).to_bytes(2, "big")


def process_tc(
    sa: SecurityAssociation, key: SaKey | None, last_arsn: int, frame: bytes
) -> tuple[TcFrame, Verified]:
    """Check FECF, then SDLS; the TcFrame returned carries the plaintext data."""
    try:
        tc = TcFrame.unpack(frame)
    except DecodeError as exc:
        raise SdlsRejected(Reason.BAD_FRAME, exc.offset, exc.reason) from None
    verified = process_security(sa, key, last_arsn, frame[:HEADER_LENGTH], tc.data, HEADER_LENGTH)
    plain = TcFrame(tc.spacecraft_id, tc.virtual_channel_id, tc.sequence_number, verified.data, tc.bypass,
                    tc.control_command)  # fmt: skip
    return plain, verified


def apply_fixed(
    sa: SecurityAssociation, key: SaKey | None, arsn: int, header: bytes, data: bytes, tail: bytes = b"",
    fecf: bool = True,
) -> bytes:  # fmt: skip
    """A secured TM/AOS frame: ``header`` is everything before the security header (its first
    ``len(sa.auth_mask)`` octets are authenticated through the mask, the rest in full), ``tail`` the OCF."""
    frame = header + apply_security(sa, key, arsn, header, data) + tail
    return frame + crc16(frame).to_bytes(2, "big") if fecf else frame


def process_fixed(
    sa: SecurityAssociation, key: SaKey | None, last_arsn: int, frame: bytes | memoryview, header_length: int,
    tail_length: int = 0, fecf: bool = True,
) -> Verified:  # fmt: skip
    frame = memoryview(frame)
    end = len(frame) - (FECF_LENGTH if fecf else 0)
    if end - tail_length - header_length < sa.overhead + 1:
        raise SdlsRejected(Reason.WRONG_LENGTH, 0, f"a {len(frame)}-octet frame cannot hold SA {sa.spi}")
    if fecf and _crc16_fast(frame[:end]) != int.from_bytes(frame[end:], "big"):
        raise SdlsRejected(Reason.BAD_FRAME, end, "frame error control field does not match")
    return process_security(
        sa,
        key,
        last_arsn,
        bytes(frame[:header_length]),
        frame[header_length : end - tail_length],
        header_length,
    )


def data_capacity(sa: SecurityAssociation, data_field_length: int) -> int:
    """Plaintext octets a fixed-length frame's data field holds under ``sa``."""
    return data_field_length - sa.overhead
