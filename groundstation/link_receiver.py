"""Ground station link receiver: CADU byte stream in, space packets out, with counters.

Frame synchronization works on an arbitrarily chunked stream:

* SEARCH: every offset whose four octets are within ``asm_tolerance`` bits of the ASM is a
  candidate. A candidate is accepted when the CADU behind it decodes (RS + header + FECF), or
  when another marker follows exactly one CADU later (a real but damaged CADU). Rejected
  candidates cost one octet each: nothing that follows bad bytes is lost. Markers beginning at
  any bit are looked for the same way (as CCSDS 131.0-B receivers do) before the first
  octet-aligned candidate; accepting one re-cuts the stream from that bit on (``bit_slips``).
* LOCK: CADUs are taken in batches at the expected spacing and decoded with numpy; a CADU whose
  frame decodes is accepted even if its marker has bit errors. A CADU that does not decode is
  dealt with inside its batch: the batch is abandoned only on a re-alignment, and the next batch
  is then small again (it doubles with every batch taken whole), so re-alignments cost work linear
  in the input.
* FLYWHEEL: a CADU at the expected place that neither decodes nor shows a marker is a miss.
  Before giving up on a damaged CADU the receiver looks a few octets back for an early CADU that
  decodes (octets lost in the previous one's check symbols), then for a marker inside it (a
  truncated CADU followed by a good one), then, if its marker is missing, for a CADU that decodes
  at any bit near it (bits lost or inserted); after ``flywheel`` consecutive misses it drops to
  SEARCH. Every re-alignment moves the stream on, so no input makes it go back and forth.

Every candidate place (octet and bit) is RS-decoded once: verdicts are kept for the places a later
look back can reach. So whatever the error pattern, decoding is linear in the input.

Frames are demultiplexed by VCID; each VC reassembles packets across frames and resynchronizes
on the first header pointer after a frame-count gap. Memory holds at most the unprocessed
tail of the last chunk plus about two CADUs, and one maximum-size packet per VC.
"""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass, field
from enum import StrEnum

import numpy as np

from protocols import aos_frame, tm_frame, uslp_frame
from protocols.cadu import CaduCodec, asm_distances, marker_errors
from protocols.channel_config import ASM, ASM_LENGTH, FrameType, PhysicalChannelConfig
from protocols.crc import crc16_wide
from protocols.frame_packets import PacketCounters, PacketExtractor


class SyncState(StrEnum):
    SEARCH = "search"
    LOCK = "lock"
    FLYWHEEL = "flywheel"


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
    from 6 frames back, but it is neither missing nor the same frame).
    """

    def __init__(self, modulo: int, window: int = 64) -> None:
        self.modulo = modulo
        self.window = max(1, min(window, modulo // 4))
        self.last: int | None = None
        self._recent: dict[int, int] = {}  # count -> digest of the frame, newest last
        self._missing: dict[int, None] = {}  # counts found missing within the window, oldest first
        # the next count is never within the window behind the newest (true for modulo >= 4)
        self._in_order_fast = modulo - 1 > self.window

    def classify(self, count: int, digest: int) -> tuple[str, int]:
        """("next", missing before it) | ("late", 0) | ("duplicate", 0); updates the state."""
        last = self.last
        if (
            last is not None
            and self._in_order_fast
            and count == (last + 1) % self.modulo
            and not self._missing
        ):
            # the common case, the frame after the newest (the general path below gives the same)
            self.last = count
            self._remember(count, digest)
            return "next", 0
        if last is not None:
            back = (last - count) % self.modulo
            if back == 0 or (back <= self.window and self._recent.get(count) == digest):
                return "duplicate", 0
            if back <= self.window and count in self._missing:
                del self._missing[count]
                self._remember(count, digest)
                return "late", 0
        step = 1 if last is None else (count - last) % self.modulo
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


class _FrameDemultiplexer:
    """Frames (already error-checked) -> packets per virtual channel, with counters."""

    def __init__(self, config: PhysicalChannelConfig, counters: PhysicalChannelCounters) -> None:
        self.config = config
        self.counters = counters
        self.frames = {FrameType.TM: tm_frame, FrameType.AOS: aos_frame, FrameType.USLP: uslp_frame}[
            config.frame_type
        ]
        self.vc_counters: dict[int, VirtualChannelCounters] = {}
        self._extractors: dict[int, PacketExtractor] = {}
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

    def handle(self, frame: bytes, corrected: int, out: list[LinkOutput]) -> None:
        """One frame whose FECF and Reed-Solomon check passed: count it and cut its packets."""
        c = self.counters
        version, scid, vcid, mc, count, fhp = self._routing(frame)
        if version != self._version or scid != self._spacecraft_id or not self._flags_ok(frame):
            c.header_errors += 1
            return
        c.frames_good += 1
        if corrected:
            c.frames_corrected += 1
            c.symbols_corrected += corrected
        digest = hash(frame if type(frame) is bytes else bytes(frame))  # who the frame is
        if mc is not None:
            kind, missing = self._mc_counts.classify(mc, digest)
            if kind == "late":
                c.mc_frames_reordered += 1
                c.mc_frames_missing -= c.mc_frames_missing > 0
            elif kind == "duplicate":
                c.mc_frames_duplicated += 1
            elif missing:
                c.mc_frames_missing += missing
        if vcid == self._idle_vcid:
            c.idle_frames += 1
            return
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
        zone = frame[self._zone_start : self._zone_end]
        if kind == "late":
            # it was counted missing: take that back, and keep the packets wholly inside it (the
            # VC's reassembly has moved on, so those that span into its neighbours are lost)
            vc.frames_reordered += 1
            vc.frames_missing -= vc.frames_missing > 0
            alone = PacketExtractor(vc)
            for packet in alone.push(zone, fhp, gap=True):
                out.append(LinkOutput(packet, vcid, count))
            alone.close()
            return
        if missing:
            vc.frame_gaps += 1
            vc.frames_missing += missing
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


_FOUND, _NEED_MORE, _NONE = "found", "need-more", "none"
ASM_VALUE = int.from_bytes(ASM, "big")
MIN_SLIP_OCTETS = 8


def slip_window(config: PhysicalChannelConfig) -> int:
    """How early a CADU may start after its predecessor lost octets and still be found: as many
    as the predecessor's check symbols (octets lost there can still be corrected), at least 8."""
    return max(MIN_SLIP_OCTETS, 2 * config.rs_e * config.rs_interleave)


def shift_left(raw: np.ndarray, bit: int) -> np.ndarray:
    """The octets of ``raw``'s bit stream read from bit ``bit`` (1..7) on: len(raw) - 1 of them."""
    return (raw[:-1] << bit) | (raw[1:] >> (8 - bit))


class LinkReceiver:
    """CADU stream -> packets: frame sync, de-randomizing, RS decoding, FECF, VC demultiplexing."""

    batch_cadus = 512  # most CADUs decoded per numpy batch while locked
    first_batch = 1  # batch after a re-alignment; doubles with every batch taken whole

    def __new__(cls, config: PhysicalChannelConfig):
        """Variable-length USLP frames have no fixed CADU length: they get their own receiver."""
        if config.variable_length:
            from groundstation.variable_link import VariableLinkReceiver

            return VariableLinkReceiver(config)
        return super().__new__(cls)

    def __init__(self, config: PhysicalChannelConfig) -> None:
        self.config = config
        self.counters = PhysicalChannelCounters()
        self.state = SyncState.SEARCH
        self._codec = CaduCodec(config)
        self._cadu_length = config.cadu_length
        self._demux = _FrameDemultiplexer(config, self.counters)
        self._buffer = bytearray()  # the stream, read from the bit where the last slip put it
        self._pos = 0
        self._misses = 0
        self._wait_until = 0  # buffer length needed before another look is worthwhile
        self._slip = slip_window(config)
        self._batch = self.first_batch
        self._realignments = 0  # re-alignments so far: a batch is abandoned when one happens
        # input not yet in the buffer: octets and (value, bits) runs, read after the carry bits
        self._queue: deque[memoryview | tuple[int, int]] = deque()
        self._carry = 0  # the last bits (fewer than 8) of the stream that make no whole octet yet
        self._carry_bits = 0
        self._refill_octets = self.batch_cadus * config.cadu_length
        # whether the CADU at stream bit (origin + offset) * 8 + bit decodes: each is decoded once
        self._origin = 0  # stream offset of buffer[0]
        self._verdicts: dict[int, bool] = {}
        self._verdicts_kept = 4 * (self._slip + config.cadu_length)

    @property
    def vc_counters(self) -> dict[int, VirtualChannelCounters]:
        return self._demux.vc_counters

    def counters_dict(self) -> dict[str, object]:
        """Physical and per-VC counters in one plain dict (for logs and ZeroMQ status)."""
        return {
            "state": str(self.state),
            "physical": self.counters.as_dict(),
            "virtual": {vcid: vc.as_dict() for vcid, vc in sorted(self.vc_counters.items())},
        }

    def feed(self, chunk: bytes | bytearray | memoryview) -> list[LinkOutput]:
        """Packets completed by this chunk; never raises on bad bytes (they are counted)."""
        out: list[LinkOutput] = []
        if self._queue or self._carry_bits:  # after a bit slip: octets are re-cut on the way in
            self._queue.append(memoryview(bytes(chunk)))
        else:
            self._buffer += chunk
        self._run(out, final=False)
        return out

    def close(self) -> CloseReport:
        """End of stream: decode what still can be, then report and drop the rest."""
        out: list[LinkOutput] = []
        self._run(out, final=True)
        leftover = len(self._buffer) - self._pos + (self._carry_bits > 0)
        self.counters.leftover_octets += leftover
        self._buffer.clear()
        self._pos = 0
        self._carry = self._carry_bits = 0
        self._verdicts.clear()
        return CloseReport(out, leftover, self._demux.close())

    # ------------------------------------------------------------------ internals
    def _run(self, out: list[LinkOutput], final: bool) -> None:
        """Process the buffer, taking queued input a bounded slice at a time (so that a bit slip
        re-cuts at most a slice, whatever the size of the chunk)."""
        while True:
            self._refill()
            last = not self._queue
            if len(self._buffer) >= self._wait_until or (final and last):
                self._process(out, final=final and last)
            if last and not self._queue:
                return

    def _refill(self) -> None:
        budget = self._refill_octets
        queue = self._queue
        while queue and budget > 0:
            item = queue.popleft()
            if isinstance(item, tuple):
                value, bits = item
                self._carry = self._carry << bits | value
                self._carry_bits += bits
                if self._carry_bits >= 8:
                    self._carry_bits -= 8
                    self._buffer.append(self._carry >> self._carry_bits)
                    self._carry &= (1 << self._carry_bits) - 1
                    budget -= 1
                continue
            if len(item) > budget:
                queue.appendleft(item[budget:])
                item = item[:budget]
            budget -= len(item)
            if not item:
                continue
            k = self._carry_bits
            if not k:
                self._buffer += item
                continue
            raw = np.empty(len(item) + 1, dtype=np.uint8)
            raw[0] = self._carry
            raw[1:] = np.frombuffer(item, dtype=np.uint8)
            self._buffer += shift_left(raw, 8 - k).tobytes()
            self._carry = int(raw[-1]) & ((1 << k) - 1)

    def _realign_on_bits(self, at: int, bit: int) -> None:
        """The stream goes on from bit ``bit`` (1..7) of octet ``at``: re-cut what follows."""
        tail = bytes(self._buffer[at:])
        del self._buffer[at:]
        if self._carry_bits:
            self._queue.appendleft((self._carry, self._carry_bits))
        if len(tail) > 1:
            self._queue.appendleft(memoryview(tail)[1:])
        self._carry_bits = 8 - bit
        self._carry = tail[0] & ((1 << self._carry_bits) - 1)
        self._verdicts.clear()  # offsets from ``at`` on now hold other octets
        self._wait_until = 0
        self._refill()
        self.counters.bit_slips += 1

    def _compact(self) -> None:
        """Forget processed octets but the last few (a slipped CADU may start among them);
        positions (and the wait mark) shift with them."""
        drop = self._pos - min(self._pos, self._slip)
        if drop:
            del self._buffer[:drop]
            self._wait_until = max(0, self._wait_until - drop)
            self._pos -= drop
            self._origin += drop

    def _rows(self, start: int, count: int) -> np.ndarray:
        length = self.config.cadu_length
        view = np.frombuffer(self._buffer, dtype=np.uint8, count=count * length, offset=start)
        rows = view.reshape(count, length).copy()
        del view
        return rows

    def _shifted(self, start: int, count: int, bit: int) -> np.ndarray:
        """``count`` octets of the stream from bit ``bit`` of octet ``start`` (needs one more)."""
        view = np.frombuffer(self._buffer, dtype=np.uint8, count=count + (bit > 0), offset=start)
        octets = shift_left(view, bit) if bit else view.copy()
        del view
        return octets

    def _decode_rows(self, rows: np.ndarray) -> tuple[list[bytes], list[int], list[str | None]]:
        """Frames, symbols corrected and fault (None = good) for each CADU row."""
        decoded = self._codec.decode_bodies(rows[:, ASM_LENGTH:])
        count, length = decoded.frames.shape
        joined = decoded.frames.tobytes()
        frames = [joined[k : k + length] for k in range(0, count * length, length)]
        fault = self._demux.frame_fault
        if not decoded.corrected.any():  # no codeword needed correcting (or the code is off)
            return frames, [0] * count, [fault(frame) for frame in frames]
        corrected = decoded.corrected.sum(axis=1).tolist()
        ok = decoded.ok.tolist()
        faults = [(fault(frame) if good else "uncorrectable") for frame, good in zip(frames, ok, strict=True)]
        return frames, corrected, faults

    def _process(self, out: list[LinkOutput], final: bool) -> None:
        length = self.config.cadu_length
        self._wait_until = 0
        while True:
            if self.state is SyncState.SEARCH:
                if not self._search(final):
                    break
                continue
            available = (len(self._buffer) - self._pos) // length
            if available == 0:
                if final and self._realign_on_early_marker():
                    continue
                self._wait_until = self._pos + length
                break
            count = min(available, self._batch)
            rows = self._rows(self._pos, count)
            distances = marker_errors(rows)
            frames, corrected, faults = self._decode_rows(rows)
            realignments = self._realignments
            waiting = False
            for k in range(count):
                if faults[k] is None:
                    self._accept(frames[k], corrected[k], distances[k], out)
                    continue
                if not self._handle_bad_cadu(distances[k], faults[k], final):
                    waiting = True
                    break
                if self._realignments != realignments or self.state is SyncState.SEARCH:
                    break  # the rest of the batch was cut at the old places, or lock is lost
            if waiting:
                break
            if self._realignments != realignments:
                self._batch = self.first_batch  # so that re-alignments cost work linear in input
            elif count == self._batch:
                self._batch = min(2 * self._batch, self.batch_cadus)
            self._compact()
        self._compact()

    def _search(self, final: bool) -> bool:
        """SEARCH: find where a CADU begins, octet-aligned first, then at any bit. False = wait."""
        length = self.config.cadu_length
        result, where = self._find_candidate(self._pos, len(self._buffer), final)
        # a marker at a bit offset before the first octet-aligned candidate comes first: octets
        # before that candidate would be skipped, and a slipped CADU with them
        limit = len(self._buffer) if result == _NONE else where
        bit_result, bit_where, bit = self._find_bit_candidate(self._pos, limit, final)
        if bit_result != _NONE:
            result, where = bit_result, bit_where
        if result == _NONE:
            keep = 0 if final else ASM_LENGTH  # a marker may begin in the last octets, at any bit
            end = max(self._pos, len(self._buffer) - keep)
            self.counters.bytes_skipped += end - self._pos
            self._pos = end
            return False
        self.counters.bytes_skipped += where - self._pos
        self._pos = where
        if result == _NEED_MORE:
            self._wait_until = self._pos + length + ASM_LENGTH + 1
            return False
        if bit:
            self._realign_on_bits(where, bit)
        self._realignments += 1
        self._batch = self.first_batch
        self.state = SyncState.LOCK
        self._misses = 0
        return True

    def _realign_on_early_marker(self) -> bool:
        """End of stream, less than a CADU left: a last CADU that slipped early is still taken."""
        result, where = self._find_candidate(
            max(0, self._pos - self._slip), self._pos, True, require_decode=True
        )
        if result != _FOUND:  # found means decoded: the whole CADU is in the buffer
            return False
        self.counters.sync_losses += 1
        self._realignments += 1
        self._pos = where
        return True

    def _accept(self, frame: bytes, corrected: int, asm_errors: int, out: list[LinkOutput]) -> None:
        counters = self.counters
        counters.cadus += 1
        counters.asm_bit_errors += asm_errors
        self._pos += self._cadu_length
        self.state = SyncState.LOCK
        self._misses = 0
        self._demux.handle(frame, corrected, out)

    def _handle_bad_cadu(self, asm_errors: int, fault: str, final: bool) -> bool:
        """A CADU at the expected place does not decode. Returns False to wait for more data."""
        length = self.config.cadu_length
        pos = self._pos
        incomplete = len(self._buffer) < pos + length + ASM_LENGTH - 1
        if not final and incomplete and self._marker_may_be_arriving():
            # a marker that comes early may still be arriving: judge once it could be seen whole
            self._wait_until = pos + length + ASM_LENGTH - 1
            return False
        # The next CADU may start a few octets early (octets lost in the previous CADU's check
        # symbols, which RS corrected) or anywhere inside this one (octets lost before it).
        # Looking back, only a CADU that decodes is taken: then the stream moves on past it. A
        # marker one CADU later is not enough there, since the CADU found so may be bad too, and
        # its own search could lead forward to this one again, for ever (found by CI's examples).
        bit = 0
        result, where = self._find_candidate(max(0, pos - self._slip), pos, final, require_decode=True)
        if result == _NONE:
            result, where = self._find_candidate(pos + 1, pos + length, final)
        if result == _NONE and asm_errors > self.config.asm_tolerance:
            # no marker where one was due: bits may have been lost or inserted (a bit slip), so
            # the next CADU may begin at any bit near here; only one that decodes is taken
            result, where, bit = self._find_bit_candidate(
                max(0, pos - self._slip), pos + length, final, require_decode=True
            )
        if result == _NEED_MORE:
            # judge once every candidate of the window is whole: each is decoded once (verdicts
            # are kept), and the window is looked at twice at most
            self._wait_until = pos + 2 * length + ASM_LENGTH + 1
            return False
        if result == _FOUND:  # a shortened or slipped CADU followed by a good one: re-align on it
            self.counters.bytes_skipped += max(0, where - pos)
            self.counters.sync_losses += 1
            self._realignments += 1
            self._pos = where
            if bit:
                self._realign_on_bits(where, bit)
            self.state = SyncState.LOCK
            self._misses = 0
            return True
        self.counters.cadus += 1
        if asm_errors <= self.config.asm_tolerance:
            setattr(self.counters, fault, getattr(self.counters, fault) + 1)
            self._misses = 0
            self.state = SyncState.LOCK
        else:
            self.counters.asm_misses += 1
            self.counters.bytes_skipped += length
            self._misses += 1
            self.state = SyncState.FLYWHEEL
            if self._misses > self.config.flywheel:
                self.state = SyncState.SEARCH
                self.counters.sync_losses += 1
        self._pos += length
        return True

    def _marker_may_be_arriving(self) -> bool:
        """The buffer ends with what could be the first octets of a marker (within tolerance)."""
        for k in range(1, min(ASM_LENGTH, len(self._buffer) + 1)):
            tail = int.from_bytes(self._buffer[-k:], "big")
            errors = (tail ^ (ASM_VALUE >> (8 * (ASM_LENGTH - k)))).bit_count()
            if errors <= self.config.asm_tolerance * k // ASM_LENGTH:  # the tolerance, pro rata
                return True
        return False

    def _find_candidate(
        self, start: int, limit: int, final: bool, require_decode: bool = False
    ) -> tuple[str, int]:
        """First offset in [start, limit) where a CADU begins, judged as the module doc says
        (with ``require_decode`` only by its own decoding, not by a marker one CADU later)."""
        length = self.config.cadu_length
        buffer = self._buffer
        end = min(limit, len(buffer) - ASM_LENGTH + 1)
        if end <= start:
            return _NONE, start
        window = np.frombuffer(buffer, dtype=np.uint8, count=end - start + ASM_LENGTH - 1, offset=start)
        hits = np.flatnonzero(asm_distances(window) <= self.config.asm_tolerance)
        del window
        for hit in hits.tolist():
            candidate = start + hit
            if candidate + length > len(buffer):
                if final:
                    continue
                return _NEED_MORE, candidate
            if self._plausible(candidate) and self._decodes(candidate):
                return _FOUND, candidate
            if require_decode:
                continue
            follower = candidate + length
            if follower + ASM_LENGTH > len(buffer):
                if final:
                    continue
                return _NEED_MORE, candidate
            follower_asm = int.from_bytes(buffer[follower : follower + ASM_LENGTH], "big") ^ ASM_VALUE
            if follower_asm.bit_count() <= self.config.asm_tolerance:
                return _FOUND, candidate
        return _NONE, start

    def _find_bit_candidate(
        self, start: int, limit: int, final: bool, require_decode: bool = False
    ) -> tuple[str, int, int]:
        """Like :meth:`_find_candidate` for markers that begin inside an octet: the first
        (offset, bit) in stream order with offset in [start, limit) and bit in 1..7."""
        length = self.config.cadu_length
        buffer = self._buffer
        end = min(limit, len(buffer) - ASM_LENGTH)  # a marker at (i, bit) spans octets i..i+4
        if end <= start:
            return _NONE, start, 0
        raw = np.frombuffer(buffer, dtype=np.uint8, count=end - start + ASM_LENGTH, offset=start)
        hits = []
        for bit in range(1, 8):
            distances = asm_distances(shift_left(raw, bit))
            hits += [
                (start + h, bit) for h in np.flatnonzero(distances <= self.config.asm_tolerance).tolist()
            ]
        del raw
        for candidate, bit in sorted(hits):
            if candidate + length + 1 > len(buffer):
                if final:
                    continue
                return _NEED_MORE, candidate, bit
            if self._plausible(candidate, bit) and self._decodes(candidate, bit):
                return _FOUND, candidate, bit
            if require_decode:
                continue
            follower = candidate + length
            if follower + ASM_LENGTH + 1 > len(buffer):
                if final:
                    continue
                return _NEED_MORE, candidate, bit
            follower_asm = int.from_bytes(self._shifted(follower, ASM_LENGTH, bit).tobytes(), "big")
            if (follower_asm ^ ASM_VALUE).bit_count() <= self.config.asm_tolerance:
                return _FOUND, candidate, bit
        return _NONE, start, 0

    def _plausible(self, candidate: int, bit: int = 0) -> bool:
        """De-randomized first two frame octets carry our version and spacecraft id."""
        head = self._shifted(candidate + ASM_LENGTH, 2, bit).tobytes()
        randomizer = self._codec.randomizer
        if randomizer is not None:
            head = bytes(a ^ b for a, b in zip(head, randomizer.sequence[:2], strict=True))
        return self._demux.header_plausible(head)

    def _decodes(self, candidate: int, bit: int = 0) -> bool:
        """Whether the CADU at (candidate, bit) decodes; each place is decoded once."""
        key = (self._origin + candidate) * 8 + bit
        verdict = self._verdicts.get(key)
        if verdict is None:
            rows = self._shifted(candidate, self.config.cadu_length, bit)[None, :]
            verdict = self._decode_rows(rows)[2][0] is None
            self._verdicts[key] = verdict
            if len(self._verdicts) > self._verdicts_kept:
                del self._verdicts[next(iter(self._verdicts))]
        return verdict
