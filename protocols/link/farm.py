"""FARM-1, the on-board half of COP-1 (CCSDS 232.1-B-2 §6): which TC frames of a virtual channel are
accepted, and the CLCW that reports it to the ground. A state machine without I/O.

States: OPEN (S1), WAIT (S2: no buffer for the next frame), LOCKOUT (S3: a sequence number far from
the expected one; only an Unlock gets out). V(R) is the next expected frame sequence number N(S);
the window W (even, 2..254) splits into a positive window PW = W/2 and a negative one NW = W/2:

    Type-AD frame, d = (N(S) - V(R)) mod 256   OPEN                       WAIT              LOCKOUT
      d == 0        (the expected frame)        accept, V(R)+1, R=0 (*)    discard           discard
      0 < d < PW    (frames were lost)          discard, R=1               discard           discard
      256-NW <= d   (already accepted)          discard                    discard           discard
      elsewhere     (lockout area)              discard, L=1 -> LOCKOUT    L=1 -> LOCKOUT    discard
    Type-BD frame                               accept, FARM-B counter + 1, in every state
    Unlock (BC)     B+1, R=0 in OPEN; B+1, R=0, W=0, L=0 -> OPEN in WAIT and LOCKOUT
    Set V(R) (BC)   B+1, R=0, W=0, V(R)=V* -> OPEN in OPEN and WAIT; B+1 only in LOCKOUT
    buffer released W=0 -> OPEN in WAIT (R stays)

    (*) with no buffer for it: discard, R=1, W=1 -> WAIT

Control commands (232.0-B-3 §4.1.3.3): Unlock is one octet 0x00; Set V(R) is 0x82 0x00 V*(R).
Checked against the state tables of 232.1-B-2 as described by independent implementations (the
FSFW data link layer's FARM-1 states; the COP-1 documentation of ocaml-cop1 and LeoDOS).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from enum import Enum, IntEnum

from protocols.link.clcw import Clcw

UNLOCK = b"\x00"
SET_VR_PREFIX = b"\x82\x00"
DEFAULT_WINDOW = 10


class FarmState(IntEnum):
    OPEN = 1
    WAIT = 2
    LOCKOUT = 3


class FarmOutcome(Enum):
    ACCEPTED = "accepted"  # an AD frame in sequence (or a BD frame): its data goes on board
    BYPASSED = "bypassed"  # a Type-BD frame, accepted without sequence check
    RETRANSMIT = "discarded-ahead"  # N(S) in the positive window: frames before it were lost
    DUPLICATE = "discarded-duplicate"  # N(S) in the negative window: accepted before
    LOCKOUT = "discarded-lockout"  # N(S) in the lockout area, or the FARM was locked out already
    WAIT = "discarded-wait"  # no buffer: the FARM waits
    UNLOCK = "unlock"
    SET_VR = "set-vr"
    BAD_CONTROL = "bad-control-command"

    @property
    def accepted(self) -> bool:
        return self in (FarmOutcome.ACCEPTED, FarmOutcome.BYPASSED)


class Farm1:
    """The FARM of one virtual channel. ``buffer_available()`` says whether an accepted frame's data
    can be taken now (the on-board TC buffer); False puts the FARM in WAIT until
    :meth:`buffer_released`."""

    def __init__(
        self, vcid: int = 0, window: int = DEFAULT_WINDOW, buffer_available: Callable[[], bool] | None = None
    ) -> None:
        if window % 2 or not 2 <= window <= 254:
            raise ValueError(f"FARM-1 sliding window width {window} must be even, 2..254")
        self.vcid = vcid
        self.window = window
        self.positive = window // 2
        self.negative = window // 2
        self._buffer_available = buffer_available or (lambda: True)
        self.state = FarmState.OPEN
        self.v_r = 0
        self.lockout = False
        self.wait = False
        self.retransmit = False
        self.farm_b_counter = 0
        self.counts: Counter[FarmOutcome] = Counter()

    # ------------------------------------------------------------------ frames
    def ad_frame(self, sequence_number: int) -> FarmOutcome:
        """A Type-AD frame with N(S) = ``sequence_number``: accepted or why not."""
        outcome = self._ad(sequence_number & 0xFF)
        self.counts[outcome] += 1
        return outcome

    def _ad(self, ns: int) -> FarmOutcome:
        if self.state is FarmState.LOCKOUT:
            return FarmOutcome.LOCKOUT
        d = (ns - self.v_r) % 256
        in_lockout_area = d != 0 and not d < self.positive and not d >= 256 - self.negative
        if in_lockout_area:
            self.lockout = True
            self.state = FarmState.LOCKOUT
            return FarmOutcome.LOCKOUT
        if self.state is FarmState.WAIT:
            return FarmOutcome.WAIT
        if d == 0:
            if not self._buffer_available():
                self.retransmit = self.wait = True
                self.state = FarmState.WAIT
                return FarmOutcome.WAIT
            self.v_r = (self.v_r + 1) % 256
            self.retransmit = False
            return FarmOutcome.ACCEPTED
        if d < self.positive:
            self.retransmit = True
            return FarmOutcome.RETRANSMIT
        return FarmOutcome.DUPLICATE

    def bd_frame(self) -> FarmOutcome:
        self.farm_b_counter = (self.farm_b_counter + 1) % 4
        self.counts[FarmOutcome.BYPASSED] += 1
        return FarmOutcome.BYPASSED

    def bc_frame(self, data: bytes) -> FarmOutcome:
        """A Type-BC frame's data: Unlock or Set V(R); anything else is discarded."""
        if data == UNLOCK:
            outcome = FarmOutcome.UNLOCK
            self.lockout = self.wait = self.retransmit = False
            self.state = FarmState.OPEN
        elif len(data) == 3 and data[:2] == SET_VR_PREFIX:
            outcome = FarmOutcome.SET_VR
            if self.state is not FarmState.LOCKOUT:
                self.wait = self.retransmit = False
                self.v_r = data[2]
                self.state = FarmState.OPEN
        else:
            self.counts[FarmOutcome.BAD_CONTROL] += 1
            return FarmOutcome.BAD_CONTROL
        self.farm_b_counter = (self.farm_b_counter + 1) % 4
        self.counts[outcome] += 1
        return outcome

    def buffer_released(self) -> None:
        """The on-board buffer can take a frame again: WAIT -> OPEN (the retransmit flag stays)."""
        if self.state is FarmState.WAIT:
            self.wait = False
            self.state = FarmState.OPEN

    # ------------------------------------------------------------------ report
    def clcw(self) -> Clcw:
        return Clcw(
            vcid=self.vcid, report_value=self.v_r, lockout=self.lockout, wait=self.wait,
            retransmit=self.retransmit, farm_b_counter=self.farm_b_counter,
        )  # fmt: skip

    def summary(self) -> dict[str, object]:
        return {
            "state": self.state.name, "v_r": self.v_r,
            "frames": {o.value: n for o, n in sorted(self.counts.items(), key=lambda kv: kv[0].value)},
        }  # fmt: skip


def set_vr_command(value: int) -> bytes:
    """The data of a Set V(R) control command."""
    return SET_VR_PREFIX + bytes([value & 0xFF])
