"""Physical channel configuration: which frames, which coding, how long.

Named presets are channel files, read by :mod:`protocols.link.channel_file`.

One frozen value describes both ends of the link, so the transmitter and the receiver cannot
disagree about lengths. Everything derived (CADU length, packet zone length) is computed here
and nowhere else.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from enum import StrEnum

from protocols.mdb.mission_db import default_spacecraft_id

ASM = bytes.fromhex("1ACFFC1D")  # attached sync marker (CCSDS 131.0-B §9.3): the default
ASM_LENGTH = len(ASM)
# CCSDS 131.0-B's markers run from 32 bits (uncoded, RS, convolutional) to 192 (turbo rate 1/6);
# 64-bit 034776C7272895B0 goes with turbo rate 1/2 and LDPC rates 1/2, 2/3, 4/5
ASM_LENGTHS = range(4, 25)

TM_PRIMARY_HEADER_LENGTH = 6
AOS_PRIMARY_HEADER_LENGTH = 6  # without the optional frame header error control
MPDU_HEADER_LENGTH = 2  # AOS M_PDU header: 5 spare bits + 11-bit first header pointer
OCF_LENGTH = 4
FECF_LENGTH = 2
MAX_FRAME_LENGTH = 2048  # CCSDS 132.0-B §4.1.1 / 732.0-B: at most 2048 octets
USLP_MAX_FRAME_LENGTH = 65536  # CCSDS 732.1-B-2 §4.1.2.7: a 16-bit length field holding length - 1
USLP_PRIMARY_HEADER_LENGTH = 7  # without the VC frame count (0..7 octets follow)
USLP_TFDF_HEADER_LENGTH = 3  # construction rule '000' (packets spanning frames): rules, UPID, FHP
USLP_TFDF_SHORT_HEADER_LENGTH = 1  # rule '111' (one whole packet, variable-length frames)
MIN_PACKET_ZONE = 8  # a zone shorter than this could not even carry an idle packet sensibly

TM_IDLE_VCID = 7  # the TM virtual channel reserved for idle frames in paleblue
AOS_IDLE_VCID = 63  # all ones: AOS idle frames (CCSDS 732.0-B §4.1.2.3)
USLP_IDLE_VCID = 63  # all ones: USLP Only Idle Data frames (CCSDS 732.1-B-2 §4.1.2.4)


class FrameType(StrEnum):
    TM = "tm"
    AOS = "aos"
    USLP = "uslp"


@dataclass(frozen=True, slots=True)
class PhysicalChannelConfig:
    """Everything both ends must agree on for one physical channel.

    ``secondary_header_length`` is the whole TM secondary header (identification octet included;
    0 = none). ``rs_e`` is 0 (uncoded), 8 or 16; ``rs_interleave`` is I. With Reed-Solomon the
    frame length must be a multiple of I and at most I*(255-2E); a shorter frame uses virtual fill.
    ``asm`` is the attached sync marker (4 to 24 octets; the 32-bit 1ACFFC1D by default),
    ``asm_tolerance`` how many of its bits may be wrong; ``flywheel`` how many missed
    markers the receiver tolerates before dropping from LOCK to SEARCH.

    ``insert_zone_length`` (AOS and USLP) is the insert zone between the primary header and the
    data field (0 = none). USLP only: ``vc_count_length`` is the octets of the VC frame count (1..7),
    ``map_id`` the MAP the packets travel on, and ``variable_length`` makes every frame carry one
    whole packet (TFDZ construction rule '111') with ``frame_length`` as the longest frame allowed.
    Problems name the field (as spelled in a channel file) first: ``"rs_e: ..."``.
    """

    frame_type: FrameType = FrameType.TM
    spacecraft_id: int = field(default_factory=default_spacecraft_id)  # the mission database's
    frame_length: int = 1115
    fecf: bool = True
    ocf: bool = True
    secondary_header_length: int = 0
    randomizer: bool = True
    rs_e: int = 16
    rs_interleave: int = 5
    dual_basis: bool = True
    asm_tolerance: int = 4
    flywheel: int = 3
    insert_zone_length: int = 0
    vc_count_length: int = 1
    map_id: int = 0
    variable_length: bool = False
    asm: bytes = ASM

    def __post_init__(self) -> None:
        problems = list(self._problems())
        if problems:
            raise ValueError("invalid physical channel configuration: " + "; ".join(problems))

    def _problems(self) -> Iterator[str]:
        if not isinstance(self.frame_type, FrameType):
            yield f"frame_type: {self.frame_type!r} is not one of 'tm', 'aos', 'uslp'"
            return
        uslp = self.frame_type is FrameType.USLP
        scid_bits = {FrameType.TM: 10, FrameType.AOS: 8, FrameType.USLP: 16}[self.frame_type]
        if not 0 <= self.spacecraft_id < (1 << scid_bits):
            yield f"spacecraft_id: {self.spacecraft_id} does not fit {scid_bits} bits ({self.frame_type})"
        # fixed-length frames keep to 2048 octets, so a first header pointer stays below 0x7FE
        longest = USLP_MAX_FRAME_LENGTH if uslp and self.variable_length else MAX_FRAME_LENGTH
        if not 0 < self.frame_length <= longest:
            yield f"frame_length: {self.frame_length} is outside 1..{longest} ({self.frame_type})"
        if self.secondary_header_length:
            if self.frame_type is not FrameType.TM:
                yield "secondary_header_length: only TM frames have a secondary header (use an insert zone)"
            elif not 2 <= self.secondary_header_length <= 64:
                yield f"secondary_header_length: {self.secondary_header_length} is outside 2..64 (0 = none)"
        if self.insert_zone_length:
            if self.frame_type is FrameType.TM:
                yield "insert_zone_length: TM frames have no insert zone (use a secondary header)"
            elif not 0 < self.insert_zone_length <= 64:
                yield f"insert_zone_length: {self.insert_zone_length} is outside 0..64"
        if uslp:
            if not 1 <= self.vc_count_length <= 7:
                yield f"vc_count_length: {self.vc_count_length} is outside 1..7 octets"
            if not 0 <= self.map_id < 16:
                yield f"map_id: {self.map_id} does not fit 4 bits"
        else:
            if self.variable_length:
                yield f"variable_length: only USLP frames may vary in length, not {self.frame_type}"
            if self.vc_count_length != 1 or self.map_id:
                yield "vc_count_length: only USLP frames have a VC count length and a MAP id"
        if self.variable_length and self.rs_e:
            yield "rs_e: variable-length frames cannot be Reed-Solomon coded (use rs_e = 0)"
        if self.rs_e not in (0, 8, 16):
            yield f"rs_e: Reed-Solomon E must be 0 (none), 8 or 16, not {self.rs_e}"
        elif self.rs_e:
            if self.rs_interleave not in (1, 2, 3, 4, 5, 8):
                yield f"rs_interleave: depth {self.rs_interleave} is not one of 1, 2, 3, 4, 5, 8"
            else:
                k = 255 - 2 * self.rs_e
                if self.frame_length % self.rs_interleave or self.frame_length > k * self.rs_interleave:
                    yield (
                        f"frame_length: with RS E={self.rs_e}, I={self.rs_interleave} the frame length "
                        f"must be a multiple of {self.rs_interleave} and at most {k * self.rs_interleave}, "
                        f"not {self.frame_length}"
                    )
        if not isinstance(self.asm, bytes) or len(self.asm) not in ASM_LENGTHS:
            yield f"asm: {self.asm!r} is not a marker of 4 to 24 octets"
        if not 0 <= self.asm_tolerance <= 8:
            yield f"asm_tolerance: {self.asm_tolerance} is outside 0..8 bits"
        if not 0 <= self.flywheel <= 100:
            yield f"flywheel: {self.flywheel} is outside 0..100"
        if 0 < self.frame_length <= longest and self.packet_zone_length < MIN_PACKET_ZONE:
            yield (
                f"frame_length: {self.frame_length} leaves only {self.packet_zone_length} octets for packets"
            )

    # ---------------------------------------------------------------- derived lengths
    @property
    def header_length(self) -> int:
        """Octets before the packet zone: primary header, secondary header or insert zone, and the
        M_PDU / TFDF header."""
        if self.frame_type is FrameType.TM:
            return TM_PRIMARY_HEADER_LENGTH + self.secondary_header_length
        if self.frame_type is FrameType.AOS:
            return AOS_PRIMARY_HEADER_LENGTH + self.insert_zone_length + MPDU_HEADER_LENGTH
        tfdf = USLP_TFDF_SHORT_HEADER_LENGTH if self.variable_length else USLP_TFDF_HEADER_LENGTH
        return USLP_PRIMARY_HEADER_LENGTH + self.vc_count_length + self.insert_zone_length + tfdf

    @property
    def trailer_length(self) -> int:
        return (OCF_LENGTH if self.ocf else 0) + (FECF_LENGTH if self.fecf else 0)

    @property
    def packet_zone_length(self) -> int:
        """Octets for packets in every frame (variable-length USLP: in the longest frame)."""
        return self.frame_length - self.header_length - self.trailer_length

    @property
    def coded(self) -> bool:
        return self.rs_e != 0

    @property
    def codeblock_length(self) -> int:
        """The frame plus its Reed-Solomon check symbols: what the randomizer covers."""
        return self.frame_length + (2 * self.rs_e * self.rs_interleave if self.rs_e else 0)

    @property
    def asm_length(self) -> int:
        return len(self.asm)

    @property
    def cadu_length(self) -> int:
        return self.asm_length + self.codeblock_length

    @property
    def idle_vcid(self) -> int:
        return TM_IDLE_VCID if self.frame_type is FrameType.TM else AOS_IDLE_VCID

    @property
    def max_vcid(self) -> int:
        return 7 if self.frame_type is FrameType.TM else 63

    @property
    def vc_count_modulo(self) -> int:
        if self.frame_type is FrameType.USLP:
            return 1 << (8 * self.vc_count_length)
        return 256 if self.frame_type is FrameType.TM else 1 << 24

    @property
    def virtual_fill(self) -> int:
        """Octets of virtual fill per Reed-Solomon codeblock (a shortened code), 0 uncoded."""
        if not self.rs_e:
            return 0
        return (255 - 2 * self.rs_e) * self.rs_interleave - self.frame_length

    def with_changes(self, **changes: object) -> PhysicalChannelConfig:
        return replace(self, **changes)
