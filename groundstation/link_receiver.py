"""Ground station link receiver: CADU byte stream in, space packets out, with counters.

Frame synchronization works on an arbitrarily chunked stream:

* SEARCH: every offset whose octets are within ``asm_tolerance`` bits of the channel's ASM is a
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

import numpy as np

from groundstation.frame_receiver import (
    CloseReport,
    LinkOutput,
    PhysicalChannelCounters,
    SyncState,
    VirtualChannelCounters,
    _FrameDemultiplexer,
)
from groundstation.variable_link import VariableLinkReceiver
from protocols.coding.cadu import CaduCodec, asm_distances, marker_errors
from protocols.link.channel_config import ASM, PhysicalChannelConfig

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
            return VariableLinkReceiver(config)
        return super().__new__(cls)

    def __init__(self, config: PhysicalChannelConfig) -> None:
        self.config = config
        self.counters = PhysicalChannelCounters()
        self.state = SyncState.SEARCH
        self._codec = CaduCodec(config)
        self._asm = config.asm  # the channel's marker (1ACFFC1D unless the channel file says otherwise)
        self._asm_length = len(config.asm)
        self._asm_value = int.from_bytes(config.asm, "big")
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

    def set_ocf_sink(self, sink) -> None:
        """``sink(ocf)`` sees the OCF (4 octets, a CLCW) of every good frame, idle frames too."""
        self._demux.on_ocf = sink

    def set_security(self, security, on_rejected=None) -> None:
        """SDLS on the downlink: see :meth:`_FrameDemultiplexer.set_security`."""
        self._demux.set_security(security, on_rejected)

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

    def follow_unrecorded(self, mc_counts: bytes) -> None:
        """Master channel frame counts of idle frames a recording left out: see
        :meth:`groundstation.frame_receiver._FrameDemultiplexer.follow_unrecorded`."""
        self._demux.follow_unrecorded(mc_counts)

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
        decoded = self._codec.decode_bodies(rows[:, self._asm_length :])
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
            distances = marker_errors(rows, self._asm)
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
            keep = 0 if final else self._asm_length  # a marker may begin in the last octets, at any bit
            end = max(self._pos, len(self._buffer) - keep)
            self.counters.bytes_skipped += end - self._pos
            self._pos = end
            return False
        self.counters.bytes_skipped += where - self._pos
        self._pos = where
        if result == _NEED_MORE:
            self._wait_until = self._pos + length + self._asm_length + 1
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
        incomplete = len(self._buffer) < pos + length + self._asm_length - 1
        if not final and incomplete and self._marker_may_be_arriving():
            # a marker that comes early may still be arriving: judge once it could be seen whole
            self._wait_until = pos + length + self._asm_length - 1
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
            self._wait_until = pos + 2 * length + self._asm_length + 1
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
        for k in range(1, min(self._asm_length, len(self._buffer) + 1)):
            tail = int.from_bytes(self._buffer[-k:], "big")
            errors = (tail ^ (self._asm_value >> (8 * (self._asm_length - k)))).bit_count()
            if errors <= self.config.asm_tolerance * k // self._asm_length:  # the tolerance, pro rata
                return True
        return False

    def _find_candidate(
        self, start: int, limit: int, final: bool, require_decode: bool = False
    ) -> tuple[str, int]:
        """First offset in [start, limit) where a CADU begins, judged as the module doc says
        (with ``require_decode`` only by its own decoding, not by a marker one CADU later)."""
        length = self.config.cadu_length
        buffer = self._buffer
        end = min(limit, len(buffer) - self._asm_length + 1)
        if end <= start:
            return _NONE, start
        window = np.frombuffer(buffer, dtype=np.uint8, count=end - start + self._asm_length - 1, offset=start)
        hits = np.flatnonzero(asm_distances(window, self._asm) <= self.config.asm_tolerance)
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
            if follower + self._asm_length > len(buffer):
                if final:
                    continue
                return _NEED_MORE, candidate
            follower_asm = int.from_bytes(buffer[follower : follower + self._asm_length], "big")
            if (follower_asm ^ self._asm_value).bit_count() <= self.config.asm_tolerance:
                return _FOUND, candidate
        return _NONE, start

    def _find_bit_candidate(
        self, start: int, limit: int, final: bool, require_decode: bool = False
    ) -> tuple[str, int, int]:
        """Like :meth:`_find_candidate` for markers that begin inside an octet: the first
        (offset, bit) in stream order with offset in [start, limit) and bit in 1..7."""
        length = self.config.cadu_length
        buffer = self._buffer
        end = min(limit, len(buffer) - self._asm_length)  # a marker at (i, bit) spans octets i..i+len(asm)
        if end <= start:
            return _NONE, start, 0
        raw = np.frombuffer(buffer, dtype=np.uint8, count=end - start + self._asm_length, offset=start)
        hits = []
        for bit in range(1, 8):
            distances = asm_distances(shift_left(raw, bit), self._asm)
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
            if follower + self._asm_length + 1 > len(buffer):
                if final:
                    continue
                return _NEED_MORE, candidate, bit
            follower_asm = int.from_bytes(self._shifted(follower, self._asm_length, bit).tobytes(), "big")
            if (follower_asm ^ self._asm_value).bit_count() <= self.config.asm_tolerance:
                return _FOUND, candidate, bit
        return _NONE, start, 0

    def _plausible(self, candidate: int, bit: int = 0) -> bool:
        """De-randomized first two frame octets carry our version and spacecraft id."""
        head = self._shifted(candidate + self._asm_length, 2, bit).tobytes()
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
