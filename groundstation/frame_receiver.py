"""Transfer frames in, space packets out: the counters, the per-VC demultiplexer, and the receiver
of bare frames.

What every link receiver shares (:class:`groundstation.link_receiver.LinkReceiver` for CADUs,
:class:`groundstation.variable_link.VariableLinkReceiver` for variable-length USLP frames): the
sync states, the physical and virtual channel counters, the frame-count tracker and the
demultiplexer that reassembles packets per virtual channel; and :class:`FrameReceiver`, which
finds frames with a FECF in a stream of bare (uncoded, unsynchronized) frames.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

import numpy as np

from protocols.coding.crc import crc16_wide
from protocols.link import aos_frame, tm_frame, uslp_frame
from protocols.link.channel_config import FrameType, PhysicalChannelConfig
from protocols.link.frame_packets import FHP_IDLE_DATA, FHP_NO_PACKET_START, PacketCounters, PacketExtractor
from protocols.sdls.reasons import SdlsRejected

if TYPE_CHECKING:
    from protocols.sdls.downlink import DownlinkSecurity


class SyncState(StrEnum):
    SEARCH = "search"
    LOCK = "lock"
    FLYWHEEL = "flywheel"


HEADS_KEPT = 8  # heads of frames after a gap kept per VC for a late frame (see handle)


@dataclass(frozen=True, slots=True)
class LinkOutput:
    """One extracted packet and where it came from."""

    packet: bytes
    vcid: int
    vc_frame_count: int  # count of the frame in which the packet ended


@dataclass(slots=True)
class PhysicalChannelCounters:
    cadus: int = 0  # CADUs taken from the stream (good or not)
    frames_good: int = 0
    frames_corrected: int = 0  # good frames that needed Reed-Solomon corrections
    symbols_corrected: int = 0
    uncorrectable: int = 0  # CADUs with at least one uncorrectable codeword
    crc_failures: int = 0
    header_errors: int = 0  # wrong version, spacecraft id, flags or first header pointer
    mc_frames_missing: int = 0  # TM master channel frames lost according to the frame count
    mc_frames_reordered: int = 0  # frames that came after a later one (not counted missing)
    mc_frames_duplicated: int = 0  # a master channel frame count seen again
    sync_losses: int = 0
    asm_misses: int = 0  # expected markers not found while locked (flywheel)
    asm_bit_errors: int = 0  # bits wrong in accepted markers
    bytes_skipped: int = 0  # octets passed over while searching
    bit_slips: int = 0  # re-alignments on a marker that begins inside an octet (bits lost or added)
    idle_frames: int = 0
    leftover_octets: int = 0  # unusable octets at the end of the stream (close)

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(slots=True)
class VirtualChannelCounters(PacketCounters):
    frames: int = 0
    frame_gaps: int = 0  # discontinuities in the VC frame count
    frames_missing: int = 0  # frames lost according to the VC frame count (late ones not)
    frames_reordered: int = 0  # frames that came after a later one: their own packets are kept
    frames_duplicated: int = 0  # frames whose VC count was seen already, dropped

    @property
    def duplicate_frames(self) -> int:  # the name before frames were told from reordered ones
        return self.frames_duplicated


@dataclass(slots=True)
class CloseReport:
    outputs: list[LinkOutput] = field(default_factory=list)
    leftover_octets: int = 0
    partial_packets_dropped: int = 0


class FrameCountTracker:
    """Tells, from a frame count modulo ``modulo``, how a frame stands to those seen before.

    Classic gap arithmetic takes a late frame (one that comes after a later one) as a jump forward
    over almost the whole modulus: one reordered frame of an 8-bit count became ~255 "missing".
    Here a count up to ``window`` behind the newest is *late* when it was counted missing (the
    count is then taken back) and a *duplicate* when the same frame (same digest) was seen with
    it; anything else is a step forward, however long (a frame after 250 lost ones looks like one
    from 6 frames back, but it is neither missing nor the same frame). A count behind the first
    one ever seen (still within the window) is late too: a frame overtaken before the stream was
    picked up, which was never counted missing (without this, a link that reordered its first frames
    made the ground count 255 - n frames missing).
    """

    def __init__(self, modulo: int, window: int = 64) -> None:
        self.modulo = modulo
        self.window = max(1, min(window, modulo // 4))
        self.last: int | None = None
        self._recent: dict[int, int] = {}  # count -> digest of the frame, newest last
        self._missing: dict[int, None] = {}  # counts found missing within the window, oldest first
        self._span = 0  # how far the newest count is past the first one seen (at most the window)
        # the next count is never within the window behind the newest (true for modulo >= 4)
        self._in_order_fast = modulo - 1 > self.window

    def classify(self, count: int, digest: int) -> tuple[str, int]:
        """("next", missing before it) | ("late", missing taken back: 1, or 0 for a frame from
        before the first one seen) | ("duplicate", 0); updates the state."""
        last = self.last
        if (
            last is not None
            and self._in_order_fast
            and count == (last + 1) % self.modulo
            and not self._missing
        ):
            # the common case, the frame after the newest (the general path below gives the same)
            self.last = count
            self._span = min(self._span + 1, self.window)
            self._remember(count, digest)
            return "next", 0
        if last is not None:
            back = (last - count) % self.modulo
            if back == 0 or (back <= self.window and self._recent.get(count) == digest):
                return "duplicate", 0
            if back <= self.window and count in self._missing:
                del self._missing[count]
                self._remember(count, digest)
                return "late", 1
            if back <= self.window and back > self._span:  # from before the first frame seen
                self._remember(count, digest)
                return "late", 0
        step = 1 if last is None else (count - last) % self.modulo
        self._span = 0 if last is None else min(self._span + step, self.window)
        self.last = count
        if step > 1:
            for lost in range(max(1, step - self.window), step):
                self._missing[(count - step + lost) % self.modulo] = None
        while self._missing:
            oldest = next(iter(self._missing))
            if (count - oldest) % self.modulo <= self.window:
                break
            del self._missing[oldest]
        self._remember(count, digest)
        return "next", step - 1

    def _remember(self, count: int, digest: int) -> None:
        recent = self._recent
        recent.pop(count, None)
        recent[count] = digest
        while len(recent) > self.window:
            del recent[next(iter(recent))]


# (frame, RS symbols corrected, spacecraft id, vcid, VC frame count) of each sound non-idle frame
FrameTap = Callable[[bytes, int, int, int, int], None]


def tap_frames(receiver: object, tap: FrameTap | None) -> None:
    """Have ``receiver`` (a LinkReceiver, VariableLinkReceiver or FrameReceiver: each holds its
    demultiplexer as ``_demux``) call ``tap`` with every frame that passed its checks and is not
    idle, before its packets are cut (a station publishing its frames to the bus hooks in here)."""
    receiver._demux.frame_tap = tap  # type: ignore[attr-defined]


class _FrameDemultiplexer:
    """Frames (already error-checked) -> packets per virtual channel, with counters."""

    def __init__(self, config: PhysicalChannelConfig, counters: PhysicalChannelCounters) -> None:
        self.config = config
        self.counters = counters
        self.frame_tap: FrameTap | None = None
        self.frames = {FrameType.TM: tm_frame, FrameType.AOS: aos_frame, FrameType.USLP: uslp_frame}[
            config.frame_type
        ]
        self.vc_counters: dict[int, VirtualChannelCounters] = {}
        self._extractors: dict[int, PacketExtractor] = {}
        # per VC, the heads (octets before the first header) of the last frames that followed a gap,
        # by frame count: a late frame's last packet may end there (HEADS_KEPT a VC at most)
        self._heads: dict[int, dict[int, bytes]] = {}
        self._vc_counts: dict[int, FrameCountTracker] = {}
        self._mc_counts = FrameCountTracker(256)
        self._routing = (
            tm_frame.unpack_routing_fast
            if config.frame_type is FrameType.TM
            else self.frames.routing_for(config)
        )
        self._version = self.frames.VERSION
        self._zone_start = config.header_length
        self._zone_end = -config.trailer_length or None  # variable-length USLP frames end anywhere
        self._tm_flags = (
            int(config.ocf),
            int(config.secondary_header_length > 0),
            max(config.secondary_header_length - 1, 0),
        )
        self._spacecraft_id = config.spacecraft_id
        self._idle_vcid = config.idle_vcid
        self._fecf = config.fecf
        self._is_tm = config.frame_type is FrameType.TM
        self.security: DownlinkSecurity | None = None  # SDLS on the downlink (set_security)
        self.on_ocf: Callable[[bytes], None] | None = None  # sees each good frame's OCF (a CLCW)
        self._ocf_end = -(2 if config.fecf else 0) or None
        self._ocf_start = -(4 + (2 if config.fecf else 0))
        self.on_rejected: Callable[[int, SdlsRejected], None] | None = None

    def set_security(
        self,
        security: DownlinkSecurity | None,
        on_rejected: Callable[[int, SdlsRejected], None] | None = None,
    ) -> None:
        """Verify (and decrypt) the frames of the channels ``security`` protects before their packets
        are cut; a refused frame is counted by reason in its context, handed to ``on_rejected`` and
        goes no further (its frame count is not taken, so it cannot hide a real frame)."""
        self.security = security if security is not None and security.vcids else None
        self.on_rejected = on_rejected

    def header_plausible(self, frame: bytes | np.ndarray) -> bool:
        """Version and spacecraft id as configured: the cheap test before trusting a candidate."""
        word0 = int(frame[0]) << 8 | int(frame[1])
        if self._is_tm:
            return word0 >> 14 == 0 and (word0 >> 4) & 0x3FF == self.config.spacecraft_id
        if self.config.frame_type is FrameType.USLP:  # version and the first 12 spacecraft id bits
            return word0 >> 12 == uslp_frame.VERSION and word0 & 0xFFF == self.config.spacecraft_id >> 4
        return word0 >> 14 == 1 and (word0 >> 6) & 0xFF == self.config.spacecraft_id

    def frame_fault(self, frame: bytes) -> str | None:
        """None when the frame is sound, else which counter it belongs to."""
        if self._fecf and crc16_wide(frame):  # the CRC over a frame and its FECF is 0
            return "crc_failures"
        if not self.header_plausible(frame):
            return "header_errors"
        return None

    def vcid_of(self, frame: bytes) -> int:
        """The VCID field of a frame (not checked)."""
        return self._routing(frame)[2]

    def master_channel_count(self, frame: bytes) -> int | None:
        """The master channel frame count of a frame (TM; None for AOS and USLP, which have none)."""
        return self._routing(frame)[3]

    def is_idle(self, frame: bytes) -> bool:
        """A sound frame of this channel on the idle VC, as :meth:`handle` would count it (nothing
        is counted here): what a recorder may leave out."""
        if self.frame_fault(frame) is not None:
            return False
        version, scid, vcid, *_ = self._routing(frame)
        return (
            vcid == self._idle_vcid
            and version == self._version
            and scid == self._spacecraft_id
            and self._flags_ok(frame)
        )

    def follow_unrecorded(self, mc_counts: bytes) -> None:
        """Master channel frame counts of idle frames a recording left out (its idle note,
        :mod:`groundstation.idle_frames`): followed as if the frames had come, so those after them
        are not counted missing; the frames themselves are counted by whoever read the note."""
        c = self.counters
        for mc in mc_counts:
            kind, missing = self._mc_counts.classify(mc, hash(("idle frame not recorded", mc)))
            if kind == "late":
                c.mc_frames_reordered += 1
                c.mc_frames_missing -= c.mc_frames_missing > 0
            elif kind == "duplicate":
                c.mc_frames_duplicated += 1
            elif missing:
                c.mc_frames_missing += missing

    def handle(self, frame: bytes, corrected: int, out: list[LinkOutput]) -> None:
        """One frame whose FECF and Reed-Solomon check passed: count it and cut its packets."""
        c = self.counters
        version, scid, vcid, mc, count, fhp = self._routing(frame)
        if version != self._version or scid != self._spacecraft_id:
            c.header_errors += 1
            return
        zone_end = self._zone_end
        security = self.security
        if security is not None and security.protected(vcid):
            try:
                frame = security.verify(vcid, frame)
            except SdlsRejected as exc:
                if self.on_rejected is not None:
                    self.on_rejected(vcid, exc)
                return
            # AOS: the M_PDU header, USLP: the TFDF header in clear (and its flags checked below)
            version, scid, vcid, mc, count, fhp = self._routing(frame)
            zone_end = self._zone_start + security.zone_length(vcid)
        if not self._flags_ok(frame):
            c.header_errors += 1
            return
        c.frames_good += 1
        if self.on_ocf is not None and self.config.ocf:
            self.on_ocf(frame[self._ocf_start : self._ocf_end])
        if corrected:
            c.frames_corrected += 1
            c.symbols_corrected += corrected
        digest = hash(frame if type(frame) is bytes else bytes(frame))  # who the frame is
        if mc is not None:
            kind, missing = self._mc_counts.classify(mc, digest)
            if kind == "late":
                c.mc_frames_reordered += 1
                c.mc_frames_missing -= min(missing, c.mc_frames_missing)
            elif kind == "duplicate":
                c.mc_frames_duplicated += 1
            elif missing:
                c.mc_frames_missing += missing
        if vcid == self._idle_vcid:
            c.idle_frames += 1
            return
        if self.frame_tap is not None:
            self.frame_tap(frame if type(frame) is bytes else bytes(frame), corrected, scid, vcid, count)
        vc = self.vc_counters.get(vcid)
        if vc is None:
            vc = self.vc_counters[vcid] = VirtualChannelCounters()
            self._extractors[vcid] = PacketExtractor(vc)
            self._vc_counts[vcid] = FrameCountTracker(self.config.vc_count_modulo)
        kind, missing = self._vc_counts[vcid].classify(count, digest)
        if kind == "duplicate":  # the same frame again (a replayed or duplicated CADU): nothing new
            vc.frames_duplicated += 1
            return
        vc.frames += 1
        zone = frame[self._zone_start : zone_end]
        if kind == "late":
            # it was counted missing: take that back, and keep the packets wholly inside it (the
            # VC's reassembly has moved on, so those that span into its neighbours are lost)
            vc.frames_reordered += 1
            vc.frames_missing -= min(missing, vc.frames_missing)
            alone = PacketExtractor(vc)
            packets = alone.push(zone, fhp, gap=True)
            head = self._heads.get(vcid, {}).pop((count + 1) % self.config.vc_count_modulo, None)
            if head is not None and alone.octets_to_finish == len(head):
                # the frame after it came early, right after a gap, and its head was passed over:
                # it holds exactly the rest of this frame's last packet
                packets += alone.push(head, FHP_NO_PACKET_START)
            for packet in packets:
                out.append(LinkOutput(packet, vcid, count))
            alone.close()
            return
        if missing:
            vc.frame_gaps += 1
            vc.frames_missing += missing
            if fhp not in (FHP_NO_PACKET_START, FHP_IDLE_DATA) and 0 < fhp <= len(zone):
                heads = self._heads.setdefault(vcid, {})
                heads[count] = bytes(zone[:fhp])
                if len(heads) > HEADS_KEPT:
                    del heads[next(iter(heads))]
        for packet in self._extractors[vcid].push(zone, fhp, gap=missing > 0):
            out.append(LinkOutput(packet, vcid, count))

    def _flags_ok(self, frame: bytes) -> bool:
        """TM: OCF and secondary header flags and the secondary header id as configured; USLP: flags,
        length field and data field header."""
        if not self._is_tm:
            return self.config.frame_type is not FrameType.USLP or uslp_frame.flags_ok(self.config, frame)
        ocf, secondary, secondary_id = self._tm_flags
        if frame[1] & 1 != ocf or frame[4] >> 7 != secondary:
            return False
        return not secondary or frame[tm_frame.HEADER_LENGTH] == secondary_id

    def close(self) -> int:
        return sum(e.close() > 0 for e in self._extractors.values())


class FrameReceiver:
    """Bare transfer frames back to back (no ASM, no coding), any chunking.

    Frames are taken at the expected spacing. With a FECF, a frame that fails its checks makes
    the receiver look for the next offset where a whole frame passes them (CRC, version and
    spacecraft id), so that frames after an inserted or deleted octet are still decoded; the
    octets passed over beyond the bad frame are counted in ``bytes_skipped``. Without a FECF
    nothing tells where a frame begins, so the spacing is kept."""

    def __init__(self, config: PhysicalChannelConfig) -> None:
        self.config = config
        self.counters = PhysicalChannelCounters()
        self._demux = _FrameDemultiplexer(config, self.counters)
        self._buffer = bytearray()
        self._searching = False
        self._skip_from = 0  # while searching: octets from here on are counted as skipped

    @property
    def vc_counters(self) -> dict[int, VirtualChannelCounters]:
        return self._demux.vc_counters

    def set_security(self, security, on_rejected=None) -> None:
        """SDLS on the downlink: see :meth:`_FrameDemultiplexer.set_security`."""
        self._demux.set_security(security, on_rejected)

    def feed(self, chunk: bytes | bytearray | memoryview) -> list[LinkOutput]:
        self._buffer += chunk
        out: list[LinkOutput] = []
        if self.config.variable_length:
            self._feed_variable(out)
            return out
        length = self.config.frame_length
        buffer = self._buffer
        pos = 0
        while len(buffer) - pos >= length:
            if self._searching:
                found = self._find_frame(pos)
                until = found if found is not None else len(buffer) - length + 1
                self.counters.bytes_skipped += max(0, until - max(pos, self._skip_from))
                self._skip_from = max(self._skip_from, until)
                pos = until
                if found is None:
                    break
                self._searching = False
            frame = bytes(buffer[pos : pos + length])
            fault = self._demux.frame_fault(frame)
            if fault and self.config.fecf:
                self.counters.cadus += 1
                setattr(self.counters, fault, getattr(self.counters, fault) + 1)
                self._searching = True
                self._skip_from = pos + length
                pos += 1
                continue
            self.counters.cadus += 1
            if fault:
                setattr(self.counters, fault, getattr(self.counters, fault) + 1)
            else:
                self._demux.handle(frame, 0, out)
            pos += length
        del buffer[:pos]
        self._skip_from = max(0, self._skip_from - pos)
        return out

    def _find_frame(self, start: int) -> int | None:
        """First offset from ``start`` where a whole frame passes the FECF and header checks."""
        length = self.config.frame_length
        buffer = self._buffer
        count = len(buffer) - length + 1 - start
        if count <= 0:
            return None
        octets = np.frombuffer(buffer, dtype=np.uint8, count=count + 1, offset=start)
        word0 = octets[:-1].astype(np.uint16) << 8 | octets[1:]
        del octets
        if self.config.frame_type is FrameType.TM:
            plausible = (word0 >> 14 == 0) & ((word0 >> 4) & 0x3FF == self.config.spacecraft_id)
        elif self.config.frame_type is FrameType.AOS:
            plausible = (word0 >> 14 == 1) & ((word0 >> 6) & 0xFF == self.config.spacecraft_id)
        else:  # USLP: version 12 in the first four bits; the frame check below tests the rest
            plausible = word0 >> 12 == 0xC
        for hit in np.flatnonzero(plausible).tolist():
            at = start + hit
            if self._demux.frame_fault(bytes(buffer[at : at + length])) is None:
                return at
        return None

    def _feed_variable(self, out: list[LinkOutput]) -> None:
        """Variable-length USLP frames back to back: each one's length is in its header. A header
        that is not ours, or a length out of range, costs one octet (counted) until one is found."""
        buffer = self._buffer
        shortest, longest = uslp_frame.min_frame_length(self.config), self.config.frame_length
        pos = 0
        while len(buffer) - pos >= 6:
            length = (buffer[pos + 4] << 8 | buffer[pos + 5]) + 1
            if not self._demux.header_plausible(buffer[pos : pos + 2]) or not shortest <= length <= longest:
                self.counters.bytes_skipped += 1
                pos += 1
                continue
            if len(buffer) - pos < length:
                break
            self.push_frame(bytes(buffer[pos : pos + length]), out)
            pos += length
        del buffer[:pos]

    def follow_unrecorded(self, mc_counts: bytes) -> None:
        """See :meth:`_FrameDemultiplexer.follow_unrecorded`."""
        self._demux.follow_unrecorded(mc_counts)

    def push_frame(self, frame: bytes, out: list[LinkOutput], corrected: int = 0) -> None:
        self.counters.cadus += 1
        fault = self._demux.frame_fault(frame)
        if fault:
            setattr(self.counters, fault, getattr(self.counters, fault) + 1)
            return
        self._demux.handle(frame, corrected, out)

    def close(self) -> CloseReport:
        leftover = len(self._buffer)
        if self._searching:  # octets of the last bad frame are counted with it
            leftover = max(0, leftover - self._skip_from)
        self._buffer.clear()
        self._searching = False
        self._skip_from = 0
        self.counters.leftover_octets += leftover
        return CloseReport([], leftover, self._demux.close())
