"""Idle frames in a downlink message: told cheaply, so that a recording need not keep them.

An idle link sends idle frames (TM and AOS: the idle virtual channel, 7 and 63; USLP: Only Idle
Data frames on VCID 63). They carry nothing, so by default the ground station's recorder does not
keep a message made only of them: it writes an *idle note* in its place, a unit record of layer
CONTROL with the message's own session and sequence number and the msgpack map
``{"idle_frames_not_recorded": N, "layer": 3, "mc_frame_counts": <N octets>}`` (:class:`IdleNote`;
the master channel frame counts for TM only). The sequence numbers stay unbroken (a decode of the
recording counts no transport loss), the record is some 60 octets instead of a CADU, and whoever
reads the recording back (``paleblue decode``, ``paleblue replay`` into a station) counts the idle
frames it did not keep and follows the master channel frame count across them (no frame counted
missing).

A message counts as idle only when every unit in it is whole and sound: CADUs of the channel's
length behind an exact marker that decode (Reed-Solomon, FECF, header) to frames on the idle VC,
or bare frames that pass the same checks. Anything else (data, a damaged CADU, a message that
does not cut into whole units, variable-length USLP frames) is recorded as received. A cheap look
at the de-randomized header comes first, so data messages cost a few microseconds, and only
messages that look idle are decoded.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgpack
import numpy as np

from groundstation.frame_receiver import PhysicalChannelCounters, _FrameDemultiplexer
from protocols.capture.zmq_framing import Layer
from protocols.coding.cadu import CaduCodec
from protocols.link.channel_config import ASM, ASM_LENGTH, PhysicalChannelConfig

IDLE_NOTE_KEY = "idle_frames_not_recorded"
MAX_NOTE_OCTETS = 512
_ASM_ARRAY = np.frombuffer(ASM, dtype=np.uint8)


@dataclass(frozen=True, slots=True)
class IdleNote:
    """A message of ``frames`` idle frames of layer ``layer`` (CADUS or FRAMES) that a recording
    left out, and their master channel frame counts (TM; empty for AOS and USLP, which have none),
    so that a reader follows the count across them instead of counting them missing."""

    frames: int
    layer: Layer = Layer.CADUS
    mc_frame_counts: bytes = b""

    def pack(self) -> bytes:
        """The CONTROL payload that stands for the message in a recording."""
        note: dict[str, object] = {IDLE_NOTE_KEY: self.frames, "layer": int(self.layer)}
        if self.mc_frame_counts:
            note["mc_frame_counts"] = self.mc_frame_counts
        return msgpack.packb(note)


def read_idle_note(payload: bytes) -> IdleNote | None:
    """The note ``payload`` holds, or None when it is not an idle note."""
    if len(payload) > MAX_NOTE_OCTETS:
        return None
    try:
        note = msgpack.unpackb(payload)
    except (ValueError, msgpack.UnpackException):
        return None
    if not isinstance(note, dict) or not {IDLE_NOTE_KEY, "layer"} <= set(note) <= _NOTE_KEYS:
        return None
    frames, layer, counts = note[IDLE_NOTE_KEY], note["layer"], note.get("mc_frame_counts", b"")
    if type(frames) is not int or not 0 < frames < 1 << 32 or layer not in _NOTE_LAYERS:
        return None
    if type(counts) is not bytes or len(counts) not in (0, frames):
        return None
    return IdleNote(frames, Layer(layer), counts)


_NOTE_KEYS = {IDLE_NOTE_KEY, "layer", "mc_frame_counts"}
_NOTE_LAYERS = (int(Layer.CADUS), int(Layer.FRAMES))


class IdleFrames:
    """Tells a downlink message made only of idle frames of one channel."""

    def __init__(self, config: PhysicalChannelConfig) -> None:
        self.config = config
        self._demux = _FrameDemultiplexer(config, PhysicalChannelCounters())
        self._codec = CaduCodec(config)
        randomizer = self._codec.randomizer
        self._sequence = randomizer.sequence_array[: config.frame_length] if randomizer is not None else None

    def note(self, layer: Layer, payload: bytes) -> IdleNote | None:
        """The note for ``payload`` when it holds idle frames only; None otherwise."""
        config = self.config
        if config.variable_length or not payload:
            return None
        if layer == Layer.CADUS:
            frames = self._cadus(payload)
        elif layer == Layer.FRAMES:
            frames = self._frames(payload)
        else:
            return None
        if frames is None:
            return None
        counts = [self._demux.master_channel_count(frame) for frame in frames]
        mc = bytes(counts) if None not in counts else b""
        return IdleNote(len(frames), layer, mc)

    def count(self, layer: Layer, payload: bytes) -> int:
        """How many idle frames ``payload`` holds when it holds nothing else; 0 otherwise."""
        note = self.note(layer, payload)
        return 0 if note is None else note.frames

    def _cadus(self, payload: bytes) -> list[bytes] | None:
        config = self.config
        count, rest = divmod(len(payload), config.cadu_length)
        if rest or not count:
            return None
        rows = np.frombuffer(payload, dtype=np.uint8).reshape(count, config.cadu_length)
        if not (rows[:, :ASM_LENGTH] == _ASM_ARRAY).all():
            return None
        # the look: RS is systematic, so the frame is the codeblock's head, only randomized
        heads = rows[:, ASM_LENGTH : ASM_LENGTH + config.frame_length]
        if self._sequence is not None:
            heads = heads ^ self._sequence
        idle = self.config.idle_vcid
        if any(self._demux.vcid_of(row.tobytes()) != idle for row in heads):
            return None
        decoded = self._codec.decode_bodies(rows[:, ASM_LENGTH:])
        frames = [frame.tobytes() for frame in decoded.frames]
        if not decoded.ok.all() or not all(self._demux.is_idle(frame) for frame in frames):
            return None
        return frames

    def _frames(self, payload: bytes) -> list[bytes] | None:
        length = self.config.frame_length
        count, rest = divmod(len(payload), length)
        if rest or not count:
            return None
        frames = [payload[k : k + length] for k in range(0, len(payload), length)]
        return frames if all(self._demux.is_idle(frame) for frame in frames) else None
