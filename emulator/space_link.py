"""The probe's side of the space link: packets → virtual channels → CADUs at the link rate.

While there is data, frames leave at the configured bit rate, a message of
``CADUS_PER_MESSAGE`` at a time; a message that runs out of data is completed
with idle frames, as a real transmitter fills every frame time.

An idle link is cheap. A real transmitter keeps idle frames flowing at the
symbol rate (20 Mbit/s is about 2,000 CADUs a second, 9 GB an hour), and making,
coding, sending, decoding and recording them would keep a core busy on each
side for nothing. So while no virtual channel has data, the frame clock runs on
without frames: the frame times that go by are counted
(``TransmitterCounters.idle_frames_skipped``; on-board time and housekeeping
follow the frame clock as before), and only one idle CADU goes out every
``IDLE_FRAME_PERIOD_S`` (well inside the ground's 1 s of silence that means an
outage), and none outside a pass of a simulated link. The frames skipped use no
master channel frame count, so the ground sees no gap. The first message after
an idle stretch holds only the data waiting (housekeeping, a reply), without
idle fill; once a backlog builds, messages are full again.

A bit error rate can be injected into the CADU stream, seeded, so tests can
show the ground's Reed-Solomon decoder at work.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

import numpy as np

from emulator.downlink import Downlink
from emulator.link_simulator import LinkSimulator
from emulator.station_links import StationLinks
from emulator.transmitter import Transmitter
from protocols.capture.zmq_framing import Layer
from protocols.coding.cadu import CaduCodec
from protocols.link import tm_frame
from protocols.link.channel_config import FrameType, PhysicalChannelConfig
from protocols.sdls.downlink import DownlinkSecurity

VC_REALTIME = 0  # housekeeping, events, verification: served first
VC_PAYLOAD = 1  # images and files

DEFAULT_RATE_BPS = 20_000_000
CADUS_PER_MESSAGE = 8
IDLE_FRAME_PERIOD_S = 0.25  # an idle link sends one idle CADU this often (link time)
IDLE_POLL_S = 0.02  # an idle link looks for data (and the probe for telecommands) this often


def inject_bit_errors(data: bytes, ber: float, rng: np.random.Generator) -> tuple[bytes, int]:
    """Flip each bit of ``data`` with probability ``ber``; returns the bytes and the flips made."""
    if ber <= 0:
        return data, 0
    bits = len(data) * 8
    flips = int(rng.binomial(bits, ber))
    if flips == 0:
        return data, 0
    positions = np.unique(rng.integers(0, bits, size=flips))
    damaged = np.frombuffer(data, dtype=np.uint8).copy()
    np.bitwise_xor.at(damaged, positions >> 3, (1 << (7 - (positions & 7))).astype(np.uint8))
    return damaged.tobytes(), len(positions)


class CaduDownlink:
    """Multiplexes packets into CADUs and sends them, paced to ``rate_bps``."""

    def __init__(
        self,
        downlink: Downlink,
        config: PhysicalChannelConfig,
        rate_bps: float = DEFAULT_RATE_BPS,
        bit_error_rate: float = 0.0,
        seed: int | None = None,
        simulator: LinkSimulator | None = None,
        clock: Callable[[], float] = time.monotonic,
        security: DownlinkSecurity | None = None,
        stations: StationFanout | None = None,
    ) -> None:
        self.downlink = downlink
        self.simulator = simulator
        self.stations = stations
        self.clock = clock
        self.started = clock()
        self.config = config
        self.rate_bps = rate_bps
        self.bit_error_rate = bit_error_rate
        self.transmitter = Transmitter(config, {VC_REALTIME: 1, VC_PAYLOAD: 0}, security=security)
        self.bits_flipped = 0
        self._rng = np.random.default_rng(seed)
        self._next_send = self.started
        self._frame_s = config.cadu_length * 8 / rate_bps
        self._idle = False  # the last batch found nothing to send
        self._next_idle_frame = self.started

    def submit(self, vcid: int, packet: bytes) -> None:
        self.transmitter.submit(vcid, packet)

    def has_pending(self) -> bool:
        return self.transmitter.has_pending()

    def pending_octets(self) -> int:
        return sum(self.transmitter.pending_octets(v) for v in (VC_REALTIME, VC_PAYLOAD))

    def pending_packets(self) -> int:
        return sum(self.transmitter.pending_packets(v) for v in (VC_REALTIME, VC_PAYLOAD))

    def payload_octets(self) -> int:
        """Octets waiting on the payload channel (the probe tops it up from its captures)."""
        return self.transmitter.pending_octets(VC_PAYLOAD)

    def send_batch(self, stop: threading.Event) -> bool:
        """Send one message of CADUs at the link rate: data first, completed with idle frames; after
        an idle stretch only the data waiting; with no data at all, see :meth:`_idle_step`."""
        transmitter = self.transmitter
        if not transmitter.has_pending():
            return self._idle_step(stop)
        if self._idle:  # the link was idle: what waits goes out without idle fill
            self._idle = False
            parts = []
            while len(parts) < CADUS_PER_MESSAGE and transmitter.has_pending():
                parts.append(transmitter.next_cadu())
            cadus = b"".join(parts)
        else:
            cadus = b"".join(transmitter.next_cadu() for _ in range(CADUS_PER_MESSAGE))
        return self._send(cadus, stop)

    def _send(self, cadus: bytes, stop: threading.Event) -> bool:
        """CADUs on the link at its rate (through the simulator if there is one)."""
        if self.bit_error_rate > 0:
            cadus, flips = inject_bit_errors(cadus, self.bit_error_rate, self._rng)
            self.bits_flipped += flips
        delay = self._next_send - self.clock()
        if delay > 0 and stop.wait(delay):
            return False
        self._next_send = max(self._next_send, self.clock() - 1.0) + len(cadus) * 8 / self.rate_bps
        if self.stations is not None:
            return self.stations.send(cadus, self.link_time(), stop)
        if self.simulator is None:
            return self.downlink.send(Layer.CADUS, cadus, stop)
        length = self.config.cadu_length
        now = self.link_time()
        for start in range(0, len(cadus), length):
            self.simulator.send(cadus[start : start + length], now)
        return self._deliver(now, stop)

    def _deliver(self, now: float, stop: threading.Event) -> bool:
        """What the simulated link delivers by ``now``, to the ground."""
        assert self.simulator is not None
        arrived = self.simulator.due(now)
        if not arrived:
            return True
        return self.downlink.send(Layer.CADUS, b"".join(d.unit for d in arrived), stop)

    def _idle_step(self, stop: threading.Event) -> bool:
        """Nothing to send: wait ``IDLE_POLL_S``, count the frame times that went by as idle, and
        send one idle CADU every ``IDLE_FRAME_PERIOD_S`` (in view only); frames still on their way
        through a simulated link are delivered meanwhile."""
        self._idle = True
        if stop.wait(IDLE_POLL_S):
            return False
        now = self.clock()
        passed = math.floor((now - self._next_send) / self._frame_s)
        if passed > 0:
            self._next_send += passed * self._frame_s
        heartbeat = now >= self._next_idle_frame and passed > 0 and self.in_view()
        if passed > 0:
            self.transmitter.pass_idle(passed - int(heartbeat))  # the idle CADU sent takes one
        if heartbeat:
            self._next_idle_frame = now + IDLE_FRAME_PERIOD_S
            self._next_send -= self._frame_s  # the frame time was counted: _send adds it again
            return self._send(self.transmitter.next_cadu(), stop)
        if self.simulator is not None:
            return self._deliver(self.link_time(), stop)
        return True

    def link_time(self) -> float:
        """Seconds since the link came up: the clock of the simulator's pass schedule."""
        return self.clock() - self.started

    def in_view(self) -> bool:
        return self.simulator is None or self.simulator.config.in_view(self.link_time())


class StationFanout:
    """The CADUs to several ground stations, each over its own simulated link and downlink socket
    (:class:`~emulator.station_links.StationLinks`); the CADUs a station lost are logged with the
    virtual channel and frame count of the frame inside (read back from the undamaged CADU)."""

    def __init__(self, downlinks: list[Downlink], links: StationLinks, config: PhysicalChannelConfig) -> None:
        if len(downlinks) != links.stations:
            raise ValueError(f"{len(downlinks)} downlinks for {links.stations} station links")
        self.downlinks = downlinks
        self.links = links
        self.config = config
        self._codec = CaduCodec(config)
        self.frames: dict[int, tuple[int, int]] = {}  # sequence -> (vcid, count) of units some station lost

    def send(self, cadus: bytes, now: float, stop: threading.Event) -> bool:
        length = self.config.cadu_length
        for start in range(0, len(cadus), length):
            unit = cadus[start : start + length]
            before = [len(d) for d in self.links.drops]
            self.links.send(unit, now)
            if [len(d) for d in self.links.drops] != before:
                self.frames[self.links.links[0].counters.units_sent - 1] = self._routing(unit)
        for downlink, arrived in zip(self.downlinks, self.links.due(now), strict=True):
            if arrived and not downlink.send(Layer.CADUS, b"".join(d.unit for d in arrived), stop):
                return False
        return True

    def drain(self) -> None:
        """Deliver what is still on the links (the end of the pass): nothing sent stays in flight."""
        for downlink, arrived in zip(self.downlinks, self.links.due(float("inf")), strict=True):
            if arrived:
                downlink.send(Layer.CADUS, b"".join(d.unit for d in arrived), threading.Event())

    def _routing(self, cadu: bytes) -> tuple[int, int]:
        if self.config.frame_type is not FrameType.TM:
            return -1, -1  # other frame types: the sequence alone
        _, _, vcid, _, count, _ = tm_frame.unpack_routing_fast(self._codec.decode(cadu)[0])
        return vcid, count

    def drop_log(self) -> dict:
        """Per station: the units it lost (sequence, VC id, VC frame count); and those all lost."""

        def entries(sequences) -> list[list[int]]:
            return [[n, *self.frames.get(n, (-1, -1))] for n in sorted(sequences)]

        return {
            "units_sent": self.links.links[0].counters.units_sent,
            "stations": [entries(d) for d in self.links.drops],
            "lost_by_all": entries(self.links.lost_by_all()),
            "counters": self.links.counters(),
        }

    def close(self) -> None:
        for downlink in self.downlinks:
            downlink.close()


class PacketDownlink:
    """Bare space packets, one per message, real-time channel first: the link without frames."""

    def __init__(self, downlink: Downlink) -> None:
        self.downlink = downlink
        self._queues: dict[int, deque[bytes]] = {VC_REALTIME: deque(), VC_PAYLOAD: deque()}
        self.packets_sent = 0
        self._payload_octets = 0

    def submit(self, vcid: int, packet: bytes) -> None:
        self._queues[vcid].append(packet)
        if vcid == VC_PAYLOAD:
            self._payload_octets += len(packet)

    def payload_octets(self) -> int:
        """Octets waiting on the payload channel (the probe tops it up from its captures)."""
        return self._payload_octets

    def has_pending(self) -> bool:
        return any(self._queues.values())

    def pending_octets(self) -> int:
        return sum(len(p) for q in self._queues.values() for p in q)

    def pending_packets(self) -> int:
        return sum(len(q) for q in self._queues.values())

    def send_batch(self, stop: threading.Event) -> bool:
        """Send up to a batch of waiting packets; when none wait, idle briefly (no frame clock here)."""
        for _ in range(CADUS_PER_MESSAGE * 8):
            queue = self._queues[VC_REALTIME] or self._queues[VC_PAYLOAD]
            if not queue:
                return not stop.wait(0.01)
            packet = queue.popleft()
            if queue is self._queues[VC_PAYLOAD]:
                self._payload_octets -= len(packet)
            if not self.downlink.send(Layer.PACKETS, packet, stop):
                return False
            self.packets_sent += 1
        return True
