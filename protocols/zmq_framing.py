"""How paleblue units travel over ZeroMQ: one multipart message per unit.

Every message on the downlink (probe XPUB → ground SUB) and uplink has three
frames::

    frame 0  topic      b"tm" downlink, b"tc" uplink (SUB sockets filter on it)
    frame 1  envelope   16 octets, big-endian, see ENVELOPE
    frame 2  payload    the unit's bytes exactly as they would be on the link

The envelope's ``sequence`` counts messages per publisher session (from 0);
a receiver that sees it jump knows how many messages ZeroMQ lost, so no loss
in transport is ever silent. ``session`` is random per publisher start, so a
restarted probe or a replay starts a new count instead of looking like a gap.
``layer`` says what the payload holds:

    1  PACKETS   one or more whole CCSDS space packets, concatenated
    2  FRAMES    one or more whole transfer frames (TM or AOS) of the channel's length
    3  CADUS     a chunk of the CADU byte stream (ASM + coded frame); any chunking
    4  CONTROL   msgpack map for the station's own control messages (not link data)
    5  CLTUS     one whole CLTU (uplink: TC transfer frame in BCH code blocks)
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

from construct import Const, Int8ub, Int16ub, Int32ub, Int64ub, Struct

from protocols.errors import DecodeError

LAYER = "zmq-envelope"

TOPIC_DOWNLINK = b"tm"
TOPIC_UPLINK = b"tc"

ENVELOPE_VERSION = 1


class Layer(IntEnum):
    PACKETS = 1
    FRAMES = 2
    CADUS = 3
    CONTROL = 4
    CLTUS = 5


ENVELOPE = Struct(
    "version" / Const(ENVELOPE_VERSION, Int8ub),
    "layer" / Int8ub,
    "reserved" / Int16ub,
    "session" / Int32ub,
    "sequence" / Int64ub,
)
ENVELOPE_LENGTH = 16
_ENVELOPE_STRUCT = struct.Struct(">BBHIQ")


@dataclass(frozen=True, slots=True)
class Envelope:
    layer: Layer
    session: int
    sequence: int

    def pack(self) -> bytes:
        return _ENVELOPE_STRUCT.pack(ENVELOPE_VERSION, int(self.layer), 0, self.session, self.sequence)

    @classmethod
    def unpack(cls, data: bytes | memoryview) -> Envelope:
        if len(data) != ENVELOPE_LENGTH:
            raise DecodeError(LAYER, 0, f"envelope is {len(data)} octets, not {ENVELOPE_LENGTH}")
        version, layer, _, session, sequence = _ENVELOPE_STRUCT.unpack(data)
        if version != ENVELOPE_VERSION:
            raise DecodeError(LAYER, 0, f"envelope version {version} is not {ENVELOPE_VERSION}")
        try:
            layer_value = Layer(layer)
        except ValueError:
            raise DecodeError(LAYER, 1, f"unknown layer {layer}") from None
        return cls(layer_value, session, sequence)


MAX_PLAUSIBLE_GAP = 1 << 24


class MessageGapCounter:
    """Counts messages lost in transport from envelope sequence numbers.

    A jump forward counts the messages skipped as lost; a message that does not continue the
    session at all starts a new one (a new or restarted publisher, or a late join, whose missed
    start is counted as lost). If the very next message continues the count from before either
    event, the odd message was a damaged envelope: what it counted is undone and it is counted
    as a discontinuity instead, so a bad envelope never claims a pass's worth of losses. A jump
    of more than ``MAX_PLAUSIBLE_GAP`` messages is never believed as loss.
    """

    def __init__(self) -> None:
        self.received = 0
        self.lost = 0
        self.sessions = 0
        self.discontinuities = 0
        self._session: int | None = None
        self._next = 0
        # what the last out-of-order message changed: (session, next, lost, sessions, discontinuity)
        self._undo: tuple[int | None, int, int, int, bool] | None = None

    def observe(self, envelope: Envelope) -> int:
        """Record one message; returns how many were lost just before it."""
        self.received += 1
        session, sequence = envelope.session, envelope.sequence
        undo, self._undo = self._undo, None
        if session == self._session and sequence == self._next:
            gap = 0  # in order
        elif undo is not None and session == undo[0] and undo[1] <= sequence <= undo[1] + MAX_PLAUSIBLE_GAP:
            # the message before was a damaged envelope: back to where it interrupted the count
            _, previous_next, counted, sessions_added, discontinuity_counted = undo
            self.lost -= counted
            self.sessions -= sessions_added
            self.discontinuities += not discontinuity_counted
            self._session = session
            gap = sequence - previous_next
        elif session == self._session and self._next < sequence <= self._next + MAX_PLAUSIBLE_GAP:
            gap = sequence - self._next  # messages lost, unless the next message says otherwise
            self._undo = (session, self._next, gap, 0, False)
        elif session == self._session and sequence == self._next - 1:
            return 0  # the last message again
        else:
            # a new publisher, a restarted one counting from 0, a late join, or a damaged envelope
            implausible = sequence > MAX_PLAUSIBLE_GAP
            gap = 0 if implausible else sequence  # a late joiner missed the session's start
            self.discontinuities += implausible
            self._undo = (self._session, self._next, gap, 1, implausible)
            self._session = session
            self.sessions += 1
        self._next = sequence + 1
        self.lost += gap
        return gap
