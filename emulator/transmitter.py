"""The probe's downlink transmitter: packets in, a continuous stream of CADUs out.

Each virtual channel has a priority (higher is served first; equal priorities take turns).
Every call to :meth:`Transmitter.next_cadu` returns exactly one CADU, an idle frame when no
virtual channel has data. An idle link need not make a frame for every frame time: the caller
may :meth:`~Transmitter.pass_idle` them instead (counted, so the frame clock never stops; no frame
count is used, so the ground sees no gap).

With a :class:`~protocols.sdls.downlink.DownlinkSecurity`, the frames of every virtual channel that
an SA covers are secured (CCSDS 355.0-B-2) once built and before Reed-Solomon coding: their packet
zone is the SA's overhead shorter, and the FECF covers the secured frame. A protected channel whose
SAs are all stopped sends nothing (its packets wait) rather than send in clear. Idle frames and
unprotected channels are as before.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from types import ModuleType

from protocols.coding.cadu import CaduCodec, variable_cadu
from protocols.link import aos_frame, tm_frame, uslp_frame
from protocols.link.channel_config import FrameType, PhysicalChannelConfig
from protocols.link.clcw import Clcw
from protocols.link.frame_packets import PacketPacker, check_packet
from protocols.sdls.downlink import DownlinkSecurity

DEFAULT_MAX_PENDING_OCTETS = 64 * 1024 * 1024


def frame_module(config: PhysicalChannelConfig) -> ModuleType:
    """tm_frame, aos_frame or uslp_frame: all offer pack_frame / idle_frame / unpack_frame with one
    signature."""
    return {FrameType.TM: tm_frame, FrameType.AOS: aos_frame, FrameType.USLP: uslp_frame}[config.frame_type]


class WholePackets:
    """The packer of a variable-length USLP channel: every frame carries one whole packet."""

    def __init__(self, longest: int) -> None:
        self.longest = longest
        self._queue: deque[bytes] = deque()
        self._pending = 0

    def add(self, packet: bytes) -> None:
        if len(packet) > self.longest:
            raise ValueError(
                f"a packet of {len(packet)} octets does not fit a frame ({self.longest} at most)"
            )
        self._queue.append(packet)
        self._pending += len(packet)

    @property
    def pending_octets(self) -> int:
        return self._pending

    @property
    def pending_packets(self) -> int:
        return len(self._queue)

    def has_pending(self) -> bool:
        return bool(self._queue)

    def next_zone(self) -> tuple[int, bytes]:
        packet = self._queue.popleft()
        self._pending -= len(packet)
        return 0, packet


@dataclass(slots=True)
class TransmitterCounters:
    frames: dict[int, int] = field(default_factory=dict)  # per VCID, idle VC included
    idle_frames: int = 0  # idle frames made (and sent)
    idle_frames_skipped: int = 0  # frame times of an idle link not made into frames (pass_idle)
    packets_submitted: int = 0
    octets_submitted: int = 0
    cadus: int = 0

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


class Transmitter:
    """Multiplexes virtual channels onto one physical channel of CADUs."""

    def __init__(
        self,
        config: PhysicalChannelConfig,
        virtual_channels: Mapping[int, int] | None = None,
        max_pending_octets: int = DEFAULT_MAX_PENDING_OCTETS,
        security: DownlinkSecurity | None = None,
    ) -> None:
        virtual_channels = dict(virtual_channels) if virtual_channels is not None else {0: 0}
        for vcid in virtual_channels:
            if not 0 <= vcid <= config.max_vcid:
                raise ValueError(
                    f"VCID {vcid} does not fit a {config.frame_type} frame (0..{config.max_vcid})"
                )
            if vcid == config.idle_vcid:
                raise ValueError(f"VCID {vcid} is reserved for idle frames")
        if not virtual_channels:
            raise ValueError("a transmitter needs at least one virtual channel")
        self.config = config
        self.priorities = virtual_channels
        self.max_pending_octets = max_pending_octets
        self.counters = TransmitterCounters(frames={v: 0 for v in (*virtual_channels, config.idle_vcid)})
        self._frames = frame_module(config)
        self._codec = CaduCodec(config)
        if security is not None and config.variable_length:
            raise ValueError("SDLS on the downlink needs fixed-length frames")
        self.security = security if security is not None and security.vcids else None
        packer = WholePackets if config.variable_length else PacketPacker
        self._packers = {v: packer(self._zone_length(v)) for v in virtual_channels}
        self._vc_counts = {v: 0 for v in (*virtual_channels, config.idle_vcid)}
        self._mc_count = 0
        self._turn = 0  # round-robin tie breaker
        self._last_served = {v: -1 for v in virtual_channels}
        self.ocf = Clcw().pack()

    def _zone_length(self, vcid: int) -> int:
        if self.security is None:
            return self.config.packet_zone_length
        return self.security.zone_length(vcid)

    def set_clcw(self, clcw: Clcw) -> None:
        """The CLCW sent in the OCF of every following frame."""
        self.ocf = clcw.pack()

    def submit(self, vcid: int, packet: bytes) -> None:
        """Queue one whole space packet on a virtual channel (ValueError if not a packet or full)."""
        packer = self._packers.get(vcid)
        if packer is None:
            raise ValueError(f"VCID {vcid} is not configured (have {sorted(self._packers)})")
        packet = bytes(packet)
        check_packet(packet)
        if packer.pending_octets + len(packet) > self.max_pending_octets:
            raise ValueError(f"VC {vcid} already holds {packer.pending_octets} octets; refusing more")
        packer.add(packet)
        self.counters.packets_submitted += 1
        self.counters.octets_submitted += len(packet)

    def has_pending(self) -> bool:
        return any(p.has_pending() for p in self._packers.values())

    def pending_octets(self, vcid: int) -> int:
        return self._packers[vcid].pending_octets

    def pending_packets(self, vcid: int) -> int:
        return self._packers[vcid].pending_packets

    def _choose(self) -> int | None:
        ready = [v for v, p in self._packers.items() if p.has_pending()]
        if self.security is not None:
            ready = [v for v in ready if self.security.ready(v)]
        if not ready:
            return None
        return max(ready, key=lambda v: (self.priorities[v], -self._last_served[v]))

    def next_frame(self) -> bytes:
        """The next transfer frame (not coded): from the best waiting VC, else an idle frame."""
        vcid = self._choose()
        if vcid is None:
            vcid = self.config.idle_vcid
            frame = self._frames.idle_frame(self.config, self._mc_count, self._vc_counts[vcid], self.ocf)
            self.counters.idle_frames += 1
        else:
            fhp, zone = self._packers[vcid].next_zone()
            secure = self.security is not None and self.security.protected(vcid)
            if secure:
                zone += bytes(self.config.packet_zone_length - len(zone))  # where the MAC etc. will go
            frame = self._frames.pack_frame(
                self.config, vcid, self._mc_count, self._vc_counts[vcid], fhp, zone, self.ocf
            )
            if secure:
                frame = self.security.protect(vcid, frame)
            self._turn += 1
            self._last_served[vcid] = self._turn
        self.counters.frames[vcid] += 1
        self._vc_counts[vcid] = (self._vc_counts[vcid] + 1) % self.config.vc_count_modulo
        self._mc_count = (self._mc_count + 1) % 256
        return frame

    def pass_idle(self, count: int) -> None:
        """``count`` frame times went by with nothing to send, and no idle frame is made for them:
        counted (the frame clock runs on), no frame count used (the ground sees no gap)."""
        if count < 0:
            raise ValueError(f"a negative number of frame times ({count})")
        self.counters.idle_frames_skipped += count

    @property
    def frame_times(self) -> int:
        """Frame times since the start: CADUs made plus idle frame times passed without one."""
        return self.counters.cadus + self.counters.idle_frames_skipped

    def _encode_many(self, frames: list[bytes]) -> bytes:
        if self.config.variable_length:
            return b"".join(variable_cadu(self.config, frame) for frame in frames)
        return self._codec.encode_many(frames)

    def next_cadu(self) -> bytes:
        """Exactly one CADU: ASM + randomized, Reed-Solomon coded frame."""
        self.counters.cadus += 1
        return self._encode_many([self.next_frame()])

    def next_cadus(self, count: int) -> bytes:
        """``count`` CADUs back to back, coded as one numpy batch (several times faster per CADU)."""
        frames = [self.next_frame() for _ in range(count)]
        self.counters.cadus += count
        return self._encode_many(frames)

    def drain(self, max_cadus: int | None = None, batch: int = 64) -> bytes:
        """CADUs until nothing is pending (or ``max_cadus``): handy for tests and batch runs."""
        out = []
        sent = 0
        while self.has_pending() and (max_cadus is None or sent < max_cadus):
            frames = []
            while self.has_pending() and len(frames) < batch and (max_cadus is None or sent < max_cadus):
                frames.append(self.next_frame())
                sent += 1
            self.counters.cadus += len(frames)
            out.append(self._encode_many(frames))
        return b"".join(out)
