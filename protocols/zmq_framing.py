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

    Any message that does not continue the count — a jump forward, a new or restarted session
    (a late joiner counts the session's missed start) — is only provisional until the next
    message confirms it by continuing from it. If the next message continues the count from
    before instead, the odd message was a damaged envelope: nothing is counted as lost for it,
    it is a discontinuity. So damaged envelopes, even several in a row, never claim a pass's
    worth of losses; and a jump of more than ``MAX_PLAUSIBLE_GAP`` is never believed.
    """

    def __init__(self) -> None:
        self.received = 0
        self.lost = 0
        self.sessions = 0
        self.discontinuities = 0
        self._session: int | None = None
        self._next = 0
        # an unconfirmed move of the count: (session, sequence, missed, new session, implausible)
        self._pending: tuple[int, int, int, bool, bool] | None = None

    def observe(self, envelope: Envelope) -> int:
        """Record one message; returns how many losses it confirmed (counted at the confirmation)."""
        self.received += 1
        session, sequence = envelope.session, envelope.sequence
        pending, self._pending = self._pending, None
        if pending is not None and session == pending[0] and sequence == pending[1] + 1:
            _, _, gap, _, implausible = pending  # confirmed: the count really moved there
            self.discontinuities += implausible
            self.lost += gap
            self._session, self._next = session, sequence + 1
            return gap
        if pending is not None:  # the message before continued nothing: a damaged envelope
            self.discontinuities += 1
            self.sessions -= pending[3]
        if session == self._session and sequence == self._next:
            self._next = sequence + 1
            return 0
        if session == self._session and sequence == self._next - 1:
            return 0  # the last message again
        if session == self._session and sequence > self._next:
            missed, new_session = sequence - self._next, False  # a jump forward
        else:
            missed, new_session = sequence, True  # a new or restarted session; a late joiner missed its start
        implausible = missed > MAX_PLAUSIBLE_GAP
        self.sessions += new_session  # counted at once (a session may be one message long), undone if damaged
        self._pending = (session, sequence, 0 if implausible else missed, new_session, implausible)
        return 0
