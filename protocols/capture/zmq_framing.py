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
from bisect import bisect_left
from collections import OrderedDict
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
        layer_value = Layer._value2member_map_.get(layer)  # Layer(n) costs a microsecond a message
        if layer_value is None:
            raise DecodeError(LAYER, 1, f"unknown layer {layer}")
        return cls(layer_value, session, sequence)  # type: ignore[arg-type]


MAX_PLAUSIBLE_GAP = 1 << 24

# The largest frame any socket of ours accepts (ZMQ_MAXMSGSIZE), in octets. The largest legal unit
# is one space packet of 65,542 octets (6 + 65,536) or a message of CADUs (8 of at most
# 2,048 + 256 parity + 4 ASM = 18,464 octets); 1 MiB leaves sixteen times the margin. A longer
# frame is refused by ZeroMQ before it is buffered (the connection is dropped: the receiver counts
# and reconnects, see transport/connection_guard.py).
MAX_MESSAGE_OCTETS = 1 << 20

# How many counts, sessions and unconfirmed messages a MessageGapCounter remembers at most.
COUNTS_PER_SESSION = 4
SESSIONS_REMEMBERED = 256
UNCONFIRMED_SESSIONS = 64
UNCONFIRMED_MESSAGES = 64


def _longest_rising_run(sequences: list[int], low: int, high: int) -> int:
    """The length of the longest strictly rising subsequence of ``sequences`` within [low, high).

    Real messages of a session arrive in rising order, damaged envelopes anywhere: the longest rising
    run between the count and the confirmed message is the most messages that can have been real, so
    the gap is counted lost only as far as no arrival can explain it. (Taking each message that
    continues the run greedily let one damaged early number, say 3 read as 7, hide the real 4, 5 and
    6 after it and count them lost.) Patience sorting: ``tails[k]`` is the smallest last number of a
    rising run of length k + 1, so the chain's at most ``UNCONFIRMED_MESSAGES`` take O(n log n)."""
    tails: list[int] = []
    for sequence in sequences:
        if low <= sequence < high:
            k = bisect_left(tails, sequence)
            if k == len(tails):
                tails.append(sequence)
            else:
                tails[k] = sequence
    return len(tails)


class _Session:
    """One session's counts: ``cursors`` are the sequence numbers that would continue a confirmed
    count (several when a session's numbers restarted or two publishers share it); ``chain`` the
    numbers of messages that continued none of them yet, in arrival order."""

    __slots__ = ("chain", "cursors", "last", "mark")

    def __init__(self) -> None:
        self.cursors: list[int] = []  # most recently used first
        self.chain: list[int] = []
        self.last: int | None = None  # the session's previous message (a repeat of it is no news)
        self.mark = 0


class MessageGapCounter:
    """Counts messages lost in transport from envelope sequence numbers, exactly, per session.

    Each session (the envelope's random ``session``) keeps its own count, so interleaved
    publishers (a probe and a replay) never make each other look lossy. A message that continues a
    count moves it on. Any other message is unconfirmed until a message continues *it* (the next
    message of the session with the next number): then the count really moved, and everything
    between the count and the confirmed message that did not arrive is lost, exactly (withholding
    10 and 12 of a run is 2 lost). The confirmed move continues the highest count at or below it,
    or, if there is none, it is a new session or a restart of the session (a replay, a restarted
    probe), whose missed start counts as lost (a late joiner). Unconfirmed messages that the
    confirmed move does not explain were damaged envelopes: ``discontinuities``, never losses; a
    jump of more than ``MAX_PLAUSIBLE_GAP`` is never believed either. A loss after a session's last
    confirmed message is counted only when a later pair of messages confirms it.

    Memory is bounded: ``COUNTS_PER_SESSION`` counts per session, ``SESSIONS_REMEMBERED`` sessions
    and ``UNCONFIRMED_SESSIONS`` unconfirmed ones (least recently heard forgotten first), and
    ``UNCONFIRMED_MESSAGES`` unconfirmed messages per session (a full chain is believed: so many
    monotonic messages with no pair are a lossy link, not damage).
    """

    def __init__(self) -> None:
        self.received = 0
        self.lost = 0
        self._sessions_confirmed = 0
        self._discontinuities = 0
        self._settled = 0  # messages that continued or confirmed a count, in any session
        self._known: OrderedDict[int, _Session] = OrderedDict()
        self._unconfirmed: OrderedDict[int, _Session] = OrderedDict()

    @property
    def sessions(self) -> int:
        """Sessions (and restarts of one) whose count was confirmed, and unconfirmed sessions that no
        other session's traffic has contradicted since (a session one message long)."""
        return self._sessions_confirmed + sum(not self._doubted(s) for s in self._unconfirmed.values())

    @property
    def discontinuities(self) -> int:
        """Messages whose sequence continued no count and that no later message confirmed."""
        pending = sum(len(s.chain) for s in self._unconfirmed.values() if self._doubted(s))
        return self._discontinuities + pending

    def _doubted(self, session: _Session) -> bool:
        return session.mark != self._settled  # other sessions went on as if it was not there

    def observe(self, envelope: Envelope) -> int:
        """Record one message; returns how many losses it confirmed (counted at the confirmation)."""
        self.received += 1
        key, q = envelope.session, envelope.sequence
        state = self._known.get(key)
        if state is not None:
            self._known.move_to_end(key)
        else:
            state = self._unconfirmed.get(key)
            if state is None:
                state = self._unconfirmed[key] = _Session()
                if len(self._unconfirmed) > UNCONFIRMED_SESSIONS:
                    _, dropped = self._unconfirmed.popitem(last=False)
                    if self._doubted(dropped):
                        self._discontinuities += len(dropped.chain)
                    else:
                        self._sessions_confirmed += 1
            else:
                self._unconfirmed.move_to_end(key)
        lost = self._observe(state, q)
        if state.cursors and key in self._unconfirmed:
            del self._unconfirmed[key]
            self._known[key] = state
            if len(self._known) > SESSIONS_REMEMBERED:
                self._known.popitem(last=False)
        state.last = q
        state.mark = self._settled
        return lost

    def _observe(self, state: _Session, q: int) -> int:
        chain, cursors = state.chain, state.cursors
        pairs = bool(chain) and q == chain[-1] + 1
        if q in cursors and not (pairs and state.last == chain[-1]):
            # continues a count (when it also pairs with the message just before, that pair wins)
            cursors.remove(q)
            self._use_cursor(state, q + 1)
            self._settled += 1
            return 0
        if pairs:
            self._settled += 1
            return self._confirm(state, chain.pop(), q + 1)
        if q == state.last:
            return 0  # the previous message again
        chain.append(q)
        if len(chain) > UNCONFIRMED_MESSAGES:
            self._settled += 1
            return self._confirm(state, chain.pop(), q + 1)
        return 0

    def _confirm(self, state: _Session, confirmed: int, cursor: int) -> int:
        """``confirmed`` is a real message: explain the unconfirmed ones before it, count the gap."""
        earlier, state.chain = state.chain, []
        below = [c for c in state.cursors if c <= confirmed]
        if below:
            base = max(below)
            state.cursors.remove(base)
        else:  # a new session, or the session counting again from the start
            base = 0
            self._sessions_confirmed += 1
        kept = _longest_rising_run(earlier, base, confirmed)  # real messages on the way to the confirmed one
        self._discontinuities += len(earlier) - kept
        self._use_cursor(state, cursor)
        gap = confirmed - base - kept
        if gap > MAX_PLAUSIBLE_GAP:
            self._discontinuities += 1
            return 0
        self.lost += gap
        return gap

    @staticmethod
    def _use_cursor(state: _Session, cursor: int) -> None:
        cursors = state.cursors
        if cursor in cursors:
            cursors.remove(cursor)
        cursors.insert(0, cursor)
        del cursors[COUNTS_PER_SESSION:]
