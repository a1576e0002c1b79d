"""SDLS on a fixed-length downlink (TM 132.0-B-3, AOS 732.0-B-4, USLP 732.1-B-2): where the security
header sits in a frame of a given physical channel, and a whole frame protected by its sender or
verified by its receiver.

The frame as sent (355.0-B-2 §4.1, 132.0-B-3 §4.1.2, 732.0-B-4 §4.1.3)::

    TM   primary header 6 | secondary header | security header | data field | MAC | OCF | FECF
    AOS  primary header 6 | insert zone | security header | M_PDU header 2 + zone | MAC | OCF | FECF
    USLP primary header 7 + VC count | insert zone | security header | TFDF header 3 + zone | MAC | OCF | FECF

The data field (for AOS the M_PDU header, for USLP the TFDF header, with the first header pointer)
is what the SA protects; the OCF (CLCW) is not authenticated, the FECF covers the secured frame.
Every SA of one virtual channel must have the same overhead, so the packet zone of a protected channel is
``overhead`` octets shorter and of one length.

:class:`DownlinkSecurity` works on whole frames so that the frame builders and the receiver's
demultiplexer stay as they are: :meth:`~DownlinkSecurity.protect` takes a frame built with its
packet zone ``overhead`` octets short (the last ``overhead`` octets of the zone are filler) and
returns it secured; :meth:`~DownlinkSecurity.verify` returns the frame in that same layout, data in
clear, filler zero, so the packet zone is ``frame[zone_start : zone_start + zone_length(vcid)]``.
USLP: fixed-length frames only (732.1-B-2 with the SDLS option: the security header follows the
insert zone, the TFDF is the protected data). Variable-length USLP frames are refused with a
ValueError: each would need its own length and its own security header, which this frame layout
does not do.
"""

from __future__ import annotations

from collections.abc import Callable

from protocols.link.channel_config import FrameType, PhysicalChannelConfig
from protocols.sdls.context import SecurityContext
from protocols.sdls.reasons import Reason, SdlsRejected

LINKS = {FrameType.TM: "tm", FrameType.AOS: "aos", FrameType.USLP: "uslp"}
PRIMARY_HEADER_LENGTH = 6  # TM and AOS (no frame header error control)
USLP_PRIMARY_HEADER_LENGTH = 7  # then the VC frame count (1..7 octets)
OCF_LENGTH, FECF_LENGTH = 4, 2


def link_of(config: PhysicalChannelConfig) -> str:
    """The SA link name of a physical channel: "tm", "aos" or "uslp"; ValueError for variable-length
    USLP frames."""
    if config.variable_length:
        raise ValueError(
            "SDLS on the downlink needs fixed-length frames; variable-length USLP frames are not "
            "secured (use a fixed-length channel such as uslp-rs-i5)"
        )
    link = LINKS.get(config.frame_type)
    if link is None:
        raise ValueError(f"SDLS on the downlink covers TM, AOS and USLP frames, not {config.frame_type}")
    return link


def security_offset(config: PhysicalChannelConfig) -> int:
    """Where the security header begins: after the primary header and the TM secondary header or the
    AOS / USLP insert zone (USLP: the VC frame count is part of the primary header)."""
    if config.frame_type is FrameType.TM:
        return PRIMARY_HEADER_LENGTH + config.secondary_header_length
    if config.frame_type is FrameType.USLP:
        return USLP_PRIMARY_HEADER_LENGTH + config.vc_count_length + config.insert_zone_length
    return PRIMARY_HEADER_LENGTH + config.insert_zone_length


class DownlinkSecurity:
    """The downlink SAs of ``context`` on the physical channel ``config``: protect and verify frames.

    ``on_save`` (a sender's) is called every ``save_every`` frames protected, so that the ARSNs it
    persists are never more than ``save_every`` behind (see :func:`protocols.sdls.keystore.lease`).
    """

    def __init__(
        self,
        context: SecurityContext,
        config: PhysicalChannelConfig,
        on_save: Callable[[SecurityContext], None] | None = None,
        save_every: int = 0,
    ) -> None:
        self.context = context
        self.config = config
        self.link = link_of(config)
        self.offset = security_offset(config)
        self._trailer = (OCF_LENGTH if config.ocf else 0) + (FECF_LENGTH if config.fecf else 0)
        self._ocf = OCF_LENGTH if config.ocf else 0
        self._fecf = config.fecf
        self._overheads: dict[int, int] = {}
        for sa in context.sas.values():
            if sa.link != self.link:
                continue
            if not 0 <= sa.vcid <= config.max_vcid or sa.vcid == config.idle_vcid:
                raise ValueError(f"SA {sa.spi}: VC {sa.vcid} is not a data channel of this {self.link} link")
            known = self._overheads.setdefault(sa.vcid, sa.overhead)
            if known != sa.overhead:
                raise ValueError(
                    f"SAs of {self.link} VC {sa.vcid} differ in overhead ({known} and {sa.overhead} octets)"
                )
            if sa.overhead + 8 > config.packet_zone_length:
                raise ValueError(f"SA {sa.spi}: {sa.overhead} octets of SDLS leave no room in the frame")
        self._on_save = on_save
        self._save_every = save_every
        self._since_save = 0
        self.frames_protected = 0
        self.frames_verified = 0

    @property
    def vcids(self) -> list[int]:
        """The protected virtual channels."""
        return sorted(self._overheads) if self.context.required else []

    def protected(self, vcid: int) -> bool:
        return self.context.required and vcid in self._overheads

    def overhead(self, vcid: int) -> int:
        """Security header + MAC octets on ``vcid`` (0 when unprotected)."""
        return self._overheads.get(vcid, 0) if self.context.required else 0

    def zone_length(self, vcid: int) -> int:
        """Packet zone octets of a frame of ``vcid``."""
        return self.config.packet_zone_length - self.overhead(vcid)

    def ready(self, vcid: int) -> bool:
        """Whether frames of ``vcid`` can be sent now: unprotected, or an SA of it is operational."""
        return not self.protected(vcid) or self.context.sending_sa(self.link, vcid) is not None

    def protect(self, vcid: int, frame: bytes) -> bytes:
        """``frame`` (packet zone's last ``overhead`` octets filler, FECF as built) secured under the
        channel's operational SA: the same length, OCF kept, FECF recomputed."""
        overhead = self.overhead(vcid)
        end = len(frame) - self._trailer
        data = frame[self.offset : end - overhead]
        ocf = frame[end : end + self._ocf]
        secured = self.context.protect_fixed(self.link, vcid, frame[: self.offset], data, ocf, self._fecf)
        self.frames_protected += 1
        if self._on_save is not None:
            self._since_save += 1
            if self._since_save >= self._save_every:
                self._since_save = 0
                self._on_save(self.context)
        return secured

    def verify(self, vcid: int, frame: bytes) -> bytes:
        """A received frame of a protected channel whose FECF the receiver checked: the frame with its
        data field in clear (then ``overhead`` zero octets, OCF, the FECF as received); SdlsRejected
        (counted by reason in the context) otherwise."""
        end = len(frame) - self._trailer
        verified = self.context.verify_fixed(self.link, vcid, frame, self.offset, self._trailer, fecf=False)
        overhead = self.overhead(vcid)
        if len(verified.data) != end - self.offset - overhead:
            raise self.context.reject(
                Reason.WRONG_LENGTH, self.offset,
                f"SA {verified.spi}: {len(verified.data)} data octets where VC {vcid} carries "
                f"{end - self.offset - overhead}",
            )  # fmt: skip
        self.frames_verified += 1
        return frame[: self.offset] + verified.data + bytes(overhead) + frame[end:]

    def summary(self) -> dict[str, object]:
        """The receiver's counts for summary.json: frames verified, rejected by reason, SA ARSNs."""
        rejected = {reason.label: self.context.rejections[reason] for reason in Reason if reason in
                    self.context.rejections}  # fmt: skip
        return {
            "link": self.link,
            "virtual_channels": self.vcids,
            "frames_verified": self.frames_verified,
            "frames_rejected": sum(rejected.values()),
            "rejected_by_reason": rejected,
            "arsn": {str(spi): self.context.arsn[spi] for spi, sa in sorted(self.context.sas.items())
                     if sa.link == self.link},
        }  # fmt: skip


__all__ = ["DownlinkSecurity", "SdlsRejected", "link_of", "security_offset"]
