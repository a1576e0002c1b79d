"""Link receiver for variable-length USLP frames: ASM + (randomized) frame, no Reed-Solomon.

A fixed CADU length cannot be assumed, so each frame's length is read from its (de-randomized)
primary header. Frame synchronization works on octet boundaries of an arbitrarily chunked stream:
at every marker (within ``asm_tolerance`` bits) whose header is plausible (version 1100, our
spacecraft id, a length in range) the frame is taken and checked (FECF, header flags); anything
else costs one octet, counted in ``bytes_skipped``, so nothing that follows bad bytes is lost.
Memory holds at most one longest frame plus the unprocessed tail of the last chunk.

Same counters (:mod:`groundstation.frame_receiver`) and interface as
:class:`groundstation.link_receiver.LinkReceiver`.
"""

from __future__ import annotations

import numpy as np

from groundstation.frame_receiver import (
    CloseReport,
    LinkOutput,
    PhysicalChannelCounters,
    SyncState,
    VirtualChannelCounters,
    _FrameDemultiplexer,
)
from protocols.coding.cadu import asm_distances, derandomize_prefix
from protocols.link import uslp_frame
from protocols.link.channel_config import ASM, PhysicalChannelConfig

ASM_VALUE = int.from_bytes(ASM, "big")


class VariableLinkReceiver:
    """ASM-delimited variable-length USLP frames -> packets, with the link receiver's counters."""

    def __init__(self, config: PhysicalChannelConfig) -> None:
        if not config.variable_length:
            raise ValueError("VariableLinkReceiver needs a variable-length USLP channel")
        self.config = config
        self.counters = PhysicalChannelCounters()
        self.state = SyncState.SEARCH
        self._demux = _FrameDemultiplexer(config, self.counters)
        self._asm = config.asm  # the channel's marker (1ACFFC1D unless the channel file says otherwise)
        self._asm_length = len(config.asm)
        self._asm_value = int.from_bytes(config.asm, "big")
        self._buffer = bytearray()
        self._shortest = uslp_frame.min_frame_length(config)
        self._longest = config.frame_length
        self._next = 0

    @property
    def vc_counters(self) -> dict[int, VirtualChannelCounters]:
        return self._demux.vc_counters

    def counters_dict(self) -> dict[str, object]:
        return {
            "state": str(self.state),
            "physical": self.counters.as_dict(),
            "virtual": {vcid: vc.as_dict() for vcid, vc in sorted(self.vc_counters.items())},
        }

    def feed(self, chunk: bytes | bytearray | memoryview) -> list[LinkOutput]:
        self._buffer += chunk
        out: list[LinkOutput] = []
        self._process(out, final=False)
        return out

    def follow_unrecorded(self, mc_counts: bytes) -> None:
        """Master channel frame counts of idle frames a recording left out: see
        :meth:`groundstation.frame_receiver._FrameDemultiplexer.follow_unrecorded`."""
        self._demux.follow_unrecorded(mc_counts)

    def close(self) -> CloseReport:
        out: list[LinkOutput] = []
        self._process(out, final=True)
        leftover = len(self._buffer)
        self.counters.leftover_octets += leftover
        self._buffer.clear()
        return CloseReport(out, leftover, self._demux.close())

    def _process(self, out: list[LinkOutput], final: bool) -> None:
        buffer = self._buffer
        pos = 0
        while len(buffer) - pos >= self._asm_length:
            here = (int.from_bytes(buffer[pos : pos + self._asm_length], "big") ^ self._asm_value).bit_count()
            if here <= self.config.asm_tolerance:  # in lock the next marker is right here: no scan
                if not self._take(pos, here, out):
                    break
                pos = self._next
                continue
            # look no further than one longest frame ahead: the scan stays linear in the input
            count = min(len(buffer) - pos, self._longest + 2 * self._asm_length)
            window = np.frombuffer(buffer, dtype=np.uint8, count=count, offset=pos)
            distances = asm_distances(window, self._asm)
            del window
            hits = np.flatnonzero(distances <= self.config.asm_tolerance)
            if not len(hits):
                whole = count == len(buffer) - pos
                skip = count - (0 if final and whole else self._asm_length - 1)
                self._skip(skip)
                pos += skip
                if whole:
                    break
                continue
            bit_errors = int(distances[hits[0]])
            at = pos + int(hits[0])
            self._skip(at - pos)
            pos = at
            if not self._take(pos, bit_errors, out):
                break
            pos = self._next
        del buffer[:pos]

    def _take(self, pos: int, bit_errors: int, out: list[LinkOutput]) -> bool:
        """The frame behind the marker at ``pos``: False if more octets are needed first; else
        ``_next`` is where to go on (one octet on if the header is not ours)."""
        buffer = self._buffer
        start = pos + self._asm_length
        if len(buffer) - start < 6:
            return False
        header = derandomize_prefix(self.config, bytes(buffer[start : start + 6]))
        length = (header[4] << 8 | header[5]) + 1
        if not self._demux.header_plausible(header) or not self._shortest <= length <= self._longest:
            self._miss()
            self._next = pos + 1
            return True
        if len(buffer) - start < length:
            return False
        frame = derandomize_prefix(self.config, bytes(buffer[start : start + length]))
        self.counters.cadus += 1
        self.counters.asm_bit_errors += bit_errors
        fault = self._demux.frame_fault(frame)
        if fault:
            setattr(self.counters, fault, getattr(self.counters, fault) + 1)
        else:
            self.state = SyncState.LOCK
            self._demux.handle(frame, 0, out)
        self._next = start + length
        return True

    def _skip(self, octets: int) -> None:
        if octets > 0:
            self.counters.bytes_skipped += octets
            if self.state is SyncState.LOCK:
                self.state = SyncState.SEARCH
                self.counters.sync_losses += 1

    def _miss(self) -> None:
        """A marker whose header is not ours: one octet skipped."""
        self._skip(1)
