"""FOP-1, the ground half of COP-1 (CCSDS 232.1-B-2 §5): Type-AD frames sent in a sliding window and
retransmitted, go-back-N, as the CLCW and the timer T1 ask. A state machine without I/O: the caller
gives it data, CLCWs and the time, and sends what :meth:`Fop1.poll` returns.

States (232.1-B-2 §5.1.2): ACTIVE (S1), RETRANSMIT_WITHOUT_WAIT (S2), RETRANSMIT_WITH_WAIT (S3),
INITIALIZING_WITHOUT_BC (S4), INITIALIZING_WITH_BC (S5), INITIAL (S6). V(S) is the N(S) of the next
new frame, NN(R) the N(R) of the last CLCW taken. A CLCW is judged as the standard's table does, in
this order: the Lockout flag, N(R), the Retransmit flag, the Wait flag:

- Lockout: alert LOCKOUT -> INITIAL.
- N(R) = V(S) (all acknowledged): with R=0 and W=0 the acknowledged frames leave the sent queue,
  the timer stops, and an initialization completes -> ACTIVE; with R or W set: alert CLCW -> INITIAL.
- NN(R) <= N(R) < V(S): acknowledged frames leave the sent queue (new acknowledgement: the
  transmission count starts again). R=0, W=0: nothing else (frames in flight). R=0, W=1: alert CLCW.
  R=1, W=1: RETRANSMIT_WITH_WAIT (nothing sent until W clears). R=1, W=0: go-back-N retransmission
  of the whole sent queue -> RETRANSMIT_WITHOUT_WAIT (once per new acknowledgement or timer expiry,
  so a stream of CLCWs with R=1 does not resend for each), up to Transmission_Limit (alert LIMIT).
- N(R) anywhere else: alert NN(R) -> INITIAL.

Timer T1 (started at each transmission while frames are outstanding): on expiry the sent queue is
sent again, up to Transmission_Limit; then, with Timeout_Type 0, alert T1 -> INITIAL (the sent
queue given up); with Timeout_Type 1, Suspend: the state is saved in SS and the FOP goes to
INITIAL keeping its queues, sending nothing and ignoring CLCWs (a planned outage, the spacecraft
out of view) until the Resume directive (:meth:`Fop1.resume`) restores the saved state and restarts
the timer (232.1-B-2's "Resume AD Service" directive). Initiate and Terminate clear SS.

New frames are sent in ACTIVE and RETRANSMIT_WITHOUT_WAIT while fewer than K (the FOP sliding
window) are outstanding; K must not exceed the FARM's positive window, or a lost frame locks the
FARM out.

Checked against 232.1-B-2 as its text and independent implementations describe it (the FOP-1 state
and alert lists of the CCSDS COP-1 implementations found with the search tool, the ocaml-cop1 and
LeoDOS documentation, and OSDLP's FOP for Suspend/Resume). Not implemented: the single-slot
Wait_Queue handshake with a higher layer (a queue is used instead), BD frames through the FOP.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass
from enum import Enum, IntEnum

from protocols.link.clcw import Clcw
from protocols.link.farm import UNLOCK, set_vr_command


class FopState(IntEnum):
    ACTIVE = 1
    RETRANSMIT_WITHOUT_WAIT = 2
    RETRANSMIT_WITH_WAIT = 3
    INITIALIZING_WITHOUT_BC = 4
    INITIALIZING_WITH_BC = 5
    INITIAL = 6


class Alert(Enum):
    LIMIT = "limit"  # Transmission_Limit reached on a CLCW asking for retransmission
    T1 = "t1"  # Transmission_Limit reached on timer expiry
    LOCKOUT = "lockout"  # the FARM is locked out
    NNR = "nn(r)"  # N(R) outside NN(R)..V(S)
    CLCW = "clcw"  # flags that contradict N(R)
    TERM = "term"  # terminated by a directive


@dataclass(frozen=True, slots=True)
class Transmission:
    """A frame to send now: Type-AD (``control`` False) with N(S), or Type-BC with its command."""

    sequence_number: int
    data: bytes
    control: bool = False
    retransmission: bool = False


class Fop1:
    def __init__(
        self, vcid: int = 0, window: int = 5, t1_s: float = 2.0, transmission_limit: int = 5,
        timeout_type: int = 0,
    ) -> None:  # fmt: skip
        if not 1 <= window <= 255:
            raise ValueError(f"FOP-1 sliding window {window} must be 1..255")
        if timeout_type not in (0, 1):
            raise ValueError(f"FOP-1 timeout type {timeout_type} must be 0 (alert) or 1 (suspend)")
        self.timeout_type = timeout_type
        self.suspended_state = 0  # SS: the state (1..4) a suspension saved, 0 when not suspended
        if transmission_limit < 1 or t1_s <= 0:
            raise ValueError("FOP-1 needs a transmission limit >= 1 and a T1 > 0")
        self.vcid = vcid
        self.window = window
        self.t1_s = t1_s
        self.transmission_limit = transmission_limit
        self.state = FopState.INITIAL
        self.v_s = 0
        self.nn_r = 0
        self.sent: deque[tuple[int, bytes]] = deque()  # (N(S), data) awaiting acknowledgement
        self.waiting: deque[bytes] = deque()  # data not yet sent
        self.transmission_count = 0
        self.deadline: float | None = None
        self.alerts: list[Alert] = []
        self.counts: Counter[str] = Counter()
        self._resend = False
        self._control: bytes | None = None  # the BC frame of an initialization, until confirmed

    # ------------------------------------------------------------------ directives
    def initiate(self, set_vr: int | None = None, unlock: bool = False, clcw_check: bool = False) -> None:
        """Initiate AD service: at once (no argument), with a CLCW check (S4, done by the next CLCW
        with N(R) = V(S) and no flag), with an Unlock, or with Set V(R) (S5, a BC frame sent until a
        CLCW confirms it)."""
        self._purge()
        if set_vr is not None:
            self.v_s = self.nn_r = set_vr & 0xFF
            self._control = set_vr_command(self.v_s)
        elif unlock:
            self._control = UNLOCK
        if self._control is not None:
            self.state = FopState.INITIALIZING_WITH_BC
            self.transmission_count = 0
            self._resend = True
        elif clcw_check:
            self.state = FopState.INITIALIZING_WITHOUT_BC
        else:
            self.state = FopState.ACTIVE

    def terminate(self) -> None:
        self._alert(Alert.TERM)

    @property
    def suspended(self) -> bool:
        return self.suspended_state != 0

    def resume(self, now: float) -> None:
        """The Resume AD Service directive: back to the state the suspension saved, timer T1 started
        from ``now``; ValueError (the directive rejected) when the FOP is not suspended."""
        if not self.suspended:
            raise ValueError(f"FOP-1 is not suspended (state {self.state.name}): nothing to resume")
        self.state = FopState(self.suspended_state)
        self.suspended_state = 0
        self.deadline = now + self.t1_s
        self.counts["resumes"] += 1

    def submit(self, data: bytes) -> None:
        """Data for one Type-AD frame, sent in order once the window allows."""
        self.waiting.append(bytes(data))

    @property
    def idle(self) -> bool:
        """Nothing waiting and nothing unacknowledged."""
        return not self.waiting and not self.sent and self._control is None

    # ------------------------------------------------------------------ time and sending
    def poll(self, now: float) -> list[Transmission]:
        """What to send now: a retransmission (go-back-N) when one is due, then new frames."""
        out: list[Transmission] = []
        if self.deadline is not None and now >= self.deadline:
            self._timer_expired()
        if self.state is FopState.INITIAL:
            return out
        if self._resend:
            self._resend = False
            self.transmission_count += 1
            if self._control is not None:
                out.append(Transmission(self.v_s, self._control, control=True,
                                        retransmission=self.transmission_count > 1))  # fmt: skip
                self.counts["bc_frames_sent"] += 1
            elif self.state is not FopState.RETRANSMIT_WITH_WAIT:
                out += [Transmission(ns, data, retransmission=True) for ns, data in self.sent]
                self.counts["ad_frames_retransmitted"] += len(self.sent)
        if self.state in (FopState.ACTIVE, FopState.RETRANSMIT_WITHOUT_WAIT):
            while self.waiting and len(self.sent) < self.window:
                data = self.waiting.popleft()
                self.sent.append((self.v_s, data))
                out.append(Transmission(self.v_s, data))
                self.v_s = (self.v_s + 1) % 256
                self.counts["ad_frames_sent"] += 1
                if self.transmission_count == 0:
                    self.transmission_count = 1
        if out or (self.deadline is None and self.sent):  # a held retransmission (W=1) keeps the timer
            self.deadline = now + self.t1_s
        return out

    def _timer_expired(self) -> None:
        self.deadline = None
        if not self.sent and self._control is None:
            if self.state is FopState.INITIALIZING_WITHOUT_BC:
                self._alert(Alert.T1)
            return
        self.counts["timer_expiries"] += 1
        if self.transmission_count >= self.transmission_limit:
            if self.timeout_type == 1 and self.state in (
                FopState.ACTIVE, FopState.RETRANSMIT_WITHOUT_WAIT, FopState.RETRANSMIT_WITH_WAIT,
                FopState.INITIALIZING_WITHOUT_BC,
            ):  # fmt: skip
                self.suspended_state = int(self.state)  # Suspend: the queues stay, nothing is sent
                self.state = FopState.INITIAL
                self.counts["suspends"] += 1
                return
            self._alert(Alert.T1)
            return
        self._resend = True
        if self.state is FopState.ACTIVE:
            self.state = FopState.RETRANSMIT_WITHOUT_WAIT

    # ------------------------------------------------------------------ CLCW
    def on_clcw(self, clcw: Clcw) -> None:
        """A CLCW of this virtual channel (COP-1 in effect) arrived."""
        if clcw.vcid != self.vcid or self.state is FopState.INITIAL:
            return
        self.counts["clcws"] += 1
        if clcw.lockout:
            self._alert(Alert.LOCKOUT)
            return
        nr = clcw.report_value
        outstanding = (self.v_s - self.nn_r) % 256
        acked = (nr - self.nn_r) % 256
        if acked > outstanding:
            self._alert(Alert.NNR)
            return
        new_ack = acked > 0
        for _ in range(acked):
            self.sent.popleft()
            self.counts["ad_frames_acknowledged"] += 1
        self.nn_r = nr
        if new_ack:
            self.transmission_count = 1 if self.sent else 0
            self.deadline = self.deadline if self.sent else None
        if nr == self.v_s:  # every frame sent is acknowledged
            if clcw.retransmit or clcw.wait:
                self._alert(Alert.CLCW)
                return
            if self.state is FopState.INITIALIZING_WITH_BC and self._control is not None:
                self._control = None  # the BC frame took effect
            self.deadline = None
            self.transmission_count = 0
            self._resend = False
            self.state = FopState.ACTIVE
            return
        if self.state in (FopState.INITIALIZING_WITHOUT_BC, FopState.INITIALIZING_WITH_BC):
            return  # not yet confirmed
        if not clcw.retransmit:
            if clcw.wait:
                self._alert(Alert.CLCW)
            elif new_ack and self.state is FopState.RETRANSMIT_WITHOUT_WAIT and not self._resend:
                self.state = FopState.ACTIVE
            return
        if clcw.wait:
            self.state = FopState.RETRANSMIT_WITH_WAIT
            return
        if self.state is FopState.RETRANSMIT_WITHOUT_WAIT and not new_ack:
            return  # this retransmission is under way; the timer covers its loss
        if self.transmission_count >= self.transmission_limit:
            self._alert(Alert.LIMIT)
            return
        self._resend = True
        self.state = FopState.RETRANSMIT_WITHOUT_WAIT

    # ------------------------------------------------------------------ helpers
    def _alert(self, alert: Alert) -> None:
        self.alerts.append(alert)
        self.counts[f"alert_{alert.value}"] += 1
        self._purge()
        self.state = FopState.INITIAL

    def _purge(self) -> None:
        """The sent queue is given up (its frames are reported lost); what waits stays for later."""
        self.counts["ad_frames_abandoned"] += len(self.sent)
        self.sent.clear()
        self.deadline = None
        self._resend = False
        self._control = None
        self.nn_r = self.v_s
        self.suspended_state = 0

    def summary(self) -> dict[str, object]:
        counts = dict(sorted(self.counts.items()))
        suspended = {"suspended_state": FopState(self.suspended_state).name} if self.suspended else {}
        return {"state": self.state.name, "v_s": self.v_s, "nn_r": self.nn_r, **suspended, **counts}
