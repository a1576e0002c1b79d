"""A fake clock and a scripted two-way PDU link, so entity tests run instantly and deterministically."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from protocols.cfdp.config import EntityConfig, TimerPolicy
from protocols.cfdp.constants import TransmissionMode
from protocols.cfdp.pdu import decode_pdu
from protocols.cfdp.receiver import ReceivingEntity
from protocols.cfdp.sender import FileSender

SENDER_ID, RECEIVER_ID = 0x21, 0x42


class FakeClock:
    def __init__(self) -> None:
        self.time = 0.0

    def __call__(self) -> float:
        return self.time


# Fates: what the link does to the k-th PDU on one direction.
DELIVER, DROP, DUPLICATE, LATE, CORRUPT = "deliver", "drop", "duplicate", "late", "corrupt"


@dataclass
class Channel:
    clock: FakeClock
    delay: float
    fates: Sequence[str] = ()
    blocked: Callable[[float], bool] = lambda t: False
    late_by: float = 0.35
    sent: list[bytes] = field(default_factory=list)
    _queue: list = field(default_factory=list)

    def send(self, raw: bytes) -> None:
        k = len(self.sent)
        self.sent.append(raw)
        now = self.clock.time
        if self.blocked(now):
            return
        fate = self.fates[k] if k < len(self.fates) else DELIVER
        if fate == DROP:
            return
        if fate == CORRUPT:
            position = (k * 7919) % len(raw)
            raw = raw[:position] + bytes([raw[position] ^ 0x5A]) + raw[position + 1 :]
        arrivals = {DUPLICATE: [0.0, 0.01], LATE: [self.late_by]}.get(fate, [0.0])
        for extra in arrivals:
            heapq.heappush(self._queue, (now + self.delay + extra, k, extra, raw))

    def deliver_due(self, handle: Callable[[bytes], object]) -> None:
        while self._queue and self._queue[0][0] <= self.clock.time:
            handle(heapq.heappop(self._queue)[3])

    @property
    def in_flight(self) -> int:
        return len(self._queue)


def kinds(sent: Sequence[bytes]) -> list[str]:
    """Body type names of the PDUs a channel carried."""
    return [type(decode_pdu(raw).body).__name__ for raw in sent]


def fast_timers(**changes) -> TimerPolicy:
    base = dict(round_trip_light_time=1.0, processing_margin=0.5, keep_alive_round_trips=4.0)
    base.update(changes)
    return TimerPolicy(**base)


@dataclass
class Transfer:
    clock: FakeClock
    sender: FileSender
    ground: ReceivingEntity
    down: Channel
    up: Channel

    @property
    def receiver(self):
        return next(iter(self.ground.transactions.values()), None)

    def run(
        self,
        until: float = 400.0,
        step: float = 0.05,
        pdus_per_step: int = 4,
        on_step: Callable[[Transfer], None] | None = None,
    ) -> None:
        while self.clock.time < until:
            self.sender.poll(pdus_per_step)
            self.ground.poll()
            self.down.deliver_due(self.ground.handle)
            self.up.deliver_due(self.sender.handle)
            if on_step is not None:
                on_step(self)
            receiver = self.receiver
            settled = self.sender.ended and self.sender.idle and receiver is not None and receiver.closed
            if settled and not self.down.in_flight and not self.up.in_flight:
                return
            self.clock.time = round(self.clock.time + step, 9)


def make_transfer(
    data: bytes,
    *,
    mode: TransmissionMode = TransmissionMode.ACKNOWLEDGED,
    down_fates: Sequence[str] = (),
    up_fates: Sequence[str] = (),
    one_way: float = 0.5,
    timers: TimerPolicy | None = None,
    max_pdu_length: int = 128,
    crc: bool = False,
    immediate_nak: bool = False,
    closure_requested: bool = False,
    max_file_size: int = 1 << 20,
    on_segment=None,
    down_blocked=None,
    up_blocked=None,
) -> Transfer:
    clock = FakeClock()
    timers = timers or fast_timers()
    down = Channel(clock, one_way, down_fates)
    up = Channel(clock, one_way, up_fates)
    if down_blocked:
        down.blocked = down_blocked
    if up_blocked:
        up.blocked = up_blocked
    sender_config = EntityConfig(SENDER_ID, max_pdu_length=max_pdu_length, crc=crc, timers=timers)
    ground_config = EntityConfig(
        RECEIVER_ID,
        max_pdu_length=max_pdu_length,
        crc=crc,
        timers=timers,
        immediate_nak=immediate_nak,
        max_file_size=max_file_size,
    )
    sender = FileSender(
        sender_config,
        RECEIVER_ID,
        7,
        data,
        send=down.send,
        now=clock,
        mode=mode,
        source_file_name=b"earth.raw",
        destination_file_name=b"img/earth.raw",
        closure_requested=closure_requested,
    )
    ground = ReceivingEntity(ground_config, send=up.send, now=clock, on_segment=on_segment)
    return Transfer(clock, sender, ground, down, up)
