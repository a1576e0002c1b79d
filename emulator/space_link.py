"""The probe's side of the space link: packets → virtual channels → CADUs at the link rate.

Frames leave at the configured bit rate whether there is data or not (idle
frames keep the frame clock running, as a real transmitter does). A bit error
rate can be injected into the CADU stream, seeded, so tests can show the
ground's Reed-Solomon decoder at work.
"""

from __future__ import annotations

import threading
import time
from collections import deque

import numpy as np

from emulator.downlink import Downlink
from emulator.link_simulator import LinkSimulator
from emulator.transmitter import Transmitter
from protocols.capture.zmq_framing import Layer
from protocols.link.channel_config import PhysicalChannelConfig

VC_REALTIME = 0  # housekeeping, events, verification: served first
VC_PAYLOAD = 1  # images and files

DEFAULT_RATE_BPS = 20_000_000
CADUS_PER_MESSAGE = 8


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
    ) -> None:
        self.downlink = downlink
        self.simulator = simulator
        self.started = time.monotonic()
        self.config = config
        self.rate_bps = rate_bps
        self.bit_error_rate = bit_error_rate
        self.transmitter = Transmitter(config, {VC_REALTIME: 1, VC_PAYLOAD: 0})
        self.bits_flipped = 0
        self._rng = np.random.default_rng(seed)
        self._next_send = time.monotonic()

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
        """Send one message of CADUs (data first, idle frames when nothing waits), at the link rate."""
        cadus = b"".join(self.transmitter.next_cadu() for _ in range(CADUS_PER_MESSAGE))
        if self.bit_error_rate > 0:
            cadus, flips = inject_bit_errors(cadus, self.bit_error_rate, self._rng)
            self.bits_flipped += flips
        delay = self._next_send - time.monotonic()
        if delay > 0 and stop.wait(delay):
            return False
        self._next_send = max(self._next_send, time.monotonic() - 1.0) + len(cadus) * 8 / self.rate_bps
        if self.simulator is None:
            return self.downlink.send(Layer.CADUS, cadus, stop)
        length = self.config.cadu_length
        now = self.link_time()
        for start in range(0, len(cadus), length):
            self.simulator.send(cadus[start : start + length], now)
        arrived = self.simulator.due(now)
        if not arrived:
            return True
        return self.downlink.send(Layer.CADUS, b"".join(d.unit for d in arrived), stop)

    def link_time(self) -> float:
        """Seconds since the link came up: the clock of the simulator's pass schedule."""
        return time.monotonic() - self.started

    def in_view(self) -> bool:
        return self.simulator is None or self.simulator.config.in_view(self.link_time())


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
