"""Ground station link receiver: CADU byte stream in, space packets out, with counters.

Frame synchronization works on octet boundaries of an arbitrarily chunked stream:

* SEARCH: every offset whose four octets are within ``asm_tolerance`` bits of the ASM is a
  candidate. A candidate is accepted when the CADU behind it decodes (RS + header + FECF), or
  when another marker follows exactly one CADU later (a real but damaged CADU). Rejected
  candidates cost one octet each: nothing that follows bad bytes is lost.
* LOCK: CADUs are taken in batches at the expected spacing and decoded with numpy; a CADU whose
  frame decodes is accepted even if its marker has bit errors.
* FLYWHEEL: a CADU at the expected place that neither decodes nor shows a marker is a miss.
  Before giving up on a damaged CADU the receiver looks a few octets back for an early CADU that
  decodes (octets lost in the previous one's check symbols), then for a marker inside it (a
  truncated CADU followed by a good one); after ``flywheel`` consecutive misses it drops to SEARCH.
  Every re-alignment moves the stream on, so no input makes it go back and forth.

Frames are demultiplexed by VCID; each VC reassembles packets across frames and resynchronizes
on the first header pointer after a frame-count gap. Memory holds at most the unprocessed
tail of the last chunk plus about two CADUs, and one maximum-size packet per VC.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum

import numpy as np

from protocols import aos_frame, tm_frame, uslp_frame
from protocols.cadu import CaduCodec, asm_distances
from protocols.channel_config import ASM, ASM_LENGTH, FrameType, PhysicalChannelConfig
from protocols.crc import crc16_ok
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
    mc_frames_missing: int = 0  # TM master channel frame count gaps
    sync_losses: int = 0
    asm_misses: int = 0  # expected markers not found while locked (flywheel)
    asm_bit_errors: int = 0  # bits wrong in accepted markers
    bytes_skipped: int = 0  # octets passed over while searching
    idle_frames: int = 0
    leftover_octets: int = 0  # unusable octets at the end of the stream (close)

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(slots=True)
class VirtualChannelCounters(PacketCounters):
    frames: int = 0
    frame_gaps: int = 0  # discontinuities in the VC frame count
    frames_missing: int = 0  # frames lost according to the VC frame count
    duplicate_frames: int = 0  # frames repeating the previous VC frame count, dropped


@dataclass(slots=True)
class CloseReport:
    outputs: list[LinkOutput] = field(default_factory=list)
    leftover_octets: int = 0
    partial_packets_dropped: int = 0


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
        self._last_vc_count: dict[int, int] = {}
        self._last_mc_count: int | None = None
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

    def header_plausible(self, frame: bytes | np.ndarray) -> bool:
        """Version and spacecraft id as configured: the cheap test before trusting a candidate."""
        word0 = int(frame[0]) << 8 | int(frame[1])
        if self.config.frame_type is FrameType.TM:
            return word0 >> 14 == 0 and (word0 >> 4) & 0x3FF == self.config.spacecraft_id
        if self.config.frame_type is FrameType.USLP:  # version and the first 12 spacecraft id bits
            return word0 >> 12 == uslp_frame.VERSION and word0 & 0xFFF == self.config.spacecraft_id >> 4
        return word0 >> 14 == 1 and (word0 >> 6) & 0xFF == self.config.spacecraft_id

    def frame_fault(self, frame: bytes) -> str | None:
        """None when the frame is sound, else which counter it belongs to."""
        if self.config.fecf and not crc16_ok(frame):
            return "crc_failures"
        if not self.header_plausible(frame):
            return "header_errors"
        return None

    def handle(self, frame: bytes, corrected: int, out: list[LinkOutput]) -> None:
        """One frame whose FECF and Reed-Solomon check passed: count it and cut its packets."""
        c = self.counters
        config = self.config
        version, scid, vcid, mc, count, fhp = self._routing(frame)
        if version != self._version or scid != config.spacecraft_id or not self._flags_ok(frame):
            c.header_errors += 1
            return
        c.frames_good += 1
        if corrected:
            c.frames_corrected += 1
            c.symbols_corrected += corrected
        if mc is not None:
            if self._last_mc_count is not None:
                c.mc_frames_missing += (mc - self._last_mc_count - 1) % 256
            self._last_mc_count = mc
        if vcid == config.idle_vcid:
            c.idle_frames += 1
            return
        vc = self.vc_counters.get(vcid)
        if vc is None:
            vc = self.vc_counters[vcid] = VirtualChannelCounters()
            self._extractors[vcid] = PacketExtractor(vc)
        last = self._last_vc_count.get(vcid)
        if count == last:  # the same frame again (a replayed or duplicated CADU): nothing new in it
            vc.duplicate_frames += 1
            return
        vc.frames += 1
        missing = 0 if last is None else (count - last - 1) % config.vc_count_modulo
        self._last_vc_count[vcid] = count
        if missing:
            vc.frame_gaps += 1
            vc.frames_missing += missing
        zone = frame[self._zone_start : self._zone_end]
        for packet in self._extractors[vcid].push(zone, fhp, gap=missing > 0):
            out.append(LinkOutput(packet, vcid, count))

    def _flags_ok(self, frame: bytes) -> bool:
        """TM: OCF and secondary header flags and the secondary header id as configured; USLP: flags,
        length field and data field header."""
        if self.config.frame_type is FrameType.USLP:
            return uslp_frame.flags_ok(self.config, frame)
        if self.config.frame_type is not FrameType.TM:
            return True
        expected = self._tm_flags
        if (frame[1] & 1, frame[4] >> 7) != expected[:2]:
            return False
        return not self.config.secondary_header_length or frame[tm_frame.HEADER_LENGTH] == expected[2]

    def close(self) -> int:
        return sum(e.close() > 0 for e in self._extractors.values())


class FrameReceiver:
    """Bare transfer frames back to back (no ASM, no coding), any chunking."""

    def __init__(self, config: PhysicalChannelConfig) -> None:
        self.config = config
        self.counters = PhysicalChannelCounters()
        self._demux = _FrameDemultiplexer(config, self.counters)
        self._buffer = bytearray()

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
        usable = len(self._buffer) - len(self._buffer) % length
        for start in range(0, usable, length):
            self.push_frame(bytes(self._buffer[start : start + length]), out)
        del self._buffer[:usable]
        return out

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
        self._buffer.clear()
        self.counters.leftover_octets += leftover
        return CloseReport([], leftover, self._demux.close())


_FOUND, _NEED_MORE, _NONE = "found", "need-more", "none"
ASM_VALUE = int.from_bytes(ASM, "big")
MIN_SLIP_OCTETS = 8


def slip_window(config: PhysicalChannelConfig) -> int:
    """How early a CADU may start after its predecessor lost octets and still be found: as many
    as the predecessor's check symbols (octets lost there can still be corrected), at least 8."""
    return max(MIN_SLIP_OCTETS, 2 * config.rs_e * config.rs_interleave)


class LinkReceiver:
    """CADU stream -> packets: frame sync, de-randomizing, RS decoding, FECF, VC demultiplexing."""

    batch_cadus = 512  # CADUs decoded per numpy batch while locked

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
        self._demux = _FrameDemultiplexer(config, self.counters)
        self._buffer = bytearray()
        self._pos = 0
        self._misses = 0
        self._wait_until = 0  # buffer length needed before another look is worthwhile
        self._slip = slip_window(config)

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
        self._buffer += chunk
        out: list[LinkOutput] = []
        if len(self._buffer) >= self._wait_until:  # else the last verdict still needs more octets
            self._process(out, final=False)
        return out

    def close(self) -> CloseReport:
        """End of stream: decode what still can be, then report and drop the rest."""
        out: list[LinkOutput] = []
        self._process(out, final=True)
        leftover = len(self._buffer) - self._pos
        self.counters.leftover_octets += leftover
        self._buffer.clear()
        self._pos = 0
        return CloseReport(out, leftover, self._demux.close())

    # ------------------------------------------------------------------ internals
    def _compact(self) -> None:
        """Forget processed octets but the last few (a slipped CADU may start among them);
        positions (and the wait mark) shift with them."""
        drop = self._pos - min(self._pos, self._slip)
        if drop:
            del self._buffer[:drop]
            self._wait_until = max(0, self._wait_until - drop)
            self._pos -= drop

    def _rows(self, start: int, count: int) -> np.ndarray:
        length = self.config.cadu_length
        view = np.frombuffer(self._buffer, dtype=np.uint8, count=count * length, offset=start)
        rows = view.reshape(count, length).copy()
        del view
        return rows

    def _decode_rows(self, rows: np.ndarray) -> tuple[list[bytes], list[int], list[str | None]]:
        """Frames, symbols corrected and fault (None = good) for each CADU row."""
        decoded = self._codec.decode_bodies(rows[:, ASM_LENGTH:])
        frames = [row.tobytes() for row in decoded.frames]
        coded = decoded.corrected.shape[1] > 0
        corrected = decoded.corrected.sum(axis=1).tolist() if coded else [0] * len(frames)
        ok = decoded.ok.tolist()
        faults = [
            (self._demux.frame_fault(frame) if good else "uncorrectable")
            for frame, good in zip(frames, ok, strict=True)
        ]
        return frames, corrected, faults

    def _process(self, out: list[LinkOutput], final: bool) -> None:
        length = self.config.cadu_length
        self._wait_until = 0
        while True:
            if self.state is SyncState.SEARCH:
                result, where = self._find_candidate(self._pos, len(self._buffer), final)
                if result == _NONE:
                    keep = 0 if final else ASM_LENGTH - 1
                    end = max(self._pos, len(self._buffer) - keep)
                    self.counters.bytes_skipped += end - self._pos
                    self._pos = end
                    break
                self.counters.bytes_skipped += where - self._pos
                self._pos = where
                if result == _NEED_MORE:
                    self._wait_until = self._pos + length + ASM_LENGTH
                    break
                self.state = SyncState.LOCK
                self._misses = 0
                continue
            available = (len(self._buffer) - self._pos) // length
            if available == 0:
                if final and self._realign_on_early_marker():
                    continue
                self._wait_until = self._pos + length
                break
            count = min(available, self.batch_cadus)
            rows = self._rows(self._pos, count)
            distances = asm_distances(rows[:, :ASM_LENGTH].reshape(-1))[::ASM_LENGTH].tolist()
            frames, corrected, faults = self._decode_rows(rows)
            waiting = False
            for k in range(count):
                if faults[k] is None:
                    self._accept(frames[k], corrected[k], distances[k], out)
                    continue
                # frames after a bad one are decoded again once the bad one is dealt with
                waiting = not self._handle_bad_cadu(distances[k], faults[k], final)
                break
            if waiting:
                break
            self._compact()
        self._compact()

    def _marker_may_be_arriving(self) -> bool:
        """The buffer ends with what could be the first octets of a marker (within tolerance)."""
        for k in range(1, min(ASM_LENGTH, len(self._buffer) + 1)):
            tail = int.from_bytes(self._buffer[-k:], "big")
            errors = (tail ^ (ASM_VALUE >> (8 * (ASM_LENGTH - k)))).bit_count()
            if errors <= self.config.asm_tolerance * k // ASM_LENGTH:  # the tolerance, pro rata
                return True
        return False

    def _realign_on_early_marker(self) -> bool:
        """End of stream, less than a CADU left: a last CADU that slipped early is still taken."""
        result, where = self._find_candidate(
            max(0, self._pos - self._slip), self._pos, True, require_decode=True
        )
        if result != _FOUND:  # found means decoded: the whole CADU is in the buffer
            return False
        self.counters.sync_losses += 1
        self._pos = where
        return True

    def _accept(self, frame: bytes, corrected: int, asm_errors: int, out: list[LinkOutput]) -> None:
        self.counters.cadus += 1
        self.counters.asm_bit_errors += asm_errors
        self._pos += self.config.cadu_length
        self.state = SyncState.LOCK
        self._misses = 0
        self._demux.handle(frame, corrected, out)

    def _handle_bad_cadu(self, asm_errors: int, fault: str, final: bool) -> bool:
        """A CADU at the expected place does not decode. Returns False to wait for more data."""
        length = self.config.cadu_length
        incomplete = len(self._buffer) < self._pos + length + ASM_LENGTH - 1
        if not final and incomplete and self._marker_may_be_arriving():
            # a marker that comes early may still be arriving: judge once it could be seen whole
            self._wait_until = self._pos + length + ASM_LENGTH - 1
            return False
        # The next CADU may start a few octets early (octets lost in the previous CADU's check
        # symbols, which RS corrected) or anywhere inside this one (octets lost before it).
        # Looking back, only a CADU that decodes is taken: then the stream moves on past it. A
        # marker one CADU later is not enough there, since the CADU found so may be bad too, and
        # its own search could lead forward to this one again, for ever (found by CI's examples).
        result, where = self._find_candidate(
            max(0, self._pos - self._slip), self._pos, final, require_decode=True
        )
        if result == _NONE:
            result, where = self._find_candidate(self._pos + 1, self._pos + length, final)
        if result == _NEED_MORE:
            self._wait_until = where + length + ASM_LENGTH
            return False
        if result == _FOUND:  # a shortened CADU followed by a good one: re-align on it
            self.counters.bytes_skipped += max(0, where - self._pos)
            self.counters.sync_losses += 1
            self._pos = where
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
            follower_asm = int.from_bytes(buffer[follower : follower + ASM_LENGTH], "big") ^ 0x1ACFFC1D
            if follower_asm.bit_count() <= self.config.asm_tolerance:
                return _FOUND, candidate
        return _NONE, start

    def _plausible(self, candidate: int) -> bool:
        """De-randomized first two frame octets carry our version and spacecraft id."""
        head = bytes(self._buffer[candidate + ASM_LENGTH : candidate + ASM_LENGTH + 2])
        randomizer = self._codec.randomizer
        if randomizer is not None:
            head = bytes(a ^ b for a, b in zip(head, randomizer.sequence[:2], strict=True))
        return self._demux.header_plausible(head)

    def _decodes(self, candidate: int) -> bool:
        rows = self._rows(candidate, 1)
        _, _, faults = self._decode_rows(rows)
        return faults[0] is None
