"""A deep-space link as a pure impairment model: units in with a send time, out with a delivery time.

A *unit* is whatever the link carries (a transfer frame, a CADU) as bytes. For each unit the
simulator applies, in order: the contact schedule (a unit sent outside a pass is lost),
serialisation at the data rate behind any unit still being sent (queueing), the one-way
light time for the configured range, whole-unit loss, random bit errors at a bit error rate
whose value follows a two-state Gilbert–Elliott chain when bursts are configured,
duplication and reordering. Every decision comes from one seeded ``numpy`` Generator, so a
seed reproduces a run exactly, and every impairment is counted.

``time_scale`` multiplies light time and serialisation so tests and demos need not wait
1.3 s per Earth–Moon hop; pass times are in the same (unscaled) clock as send times.
No sockets, no sleeping: the caller owns the clock and asks for what is :meth:`due`.
"""

from __future__ import annotations

import heapq
from array import array
from dataclasses import dataclass, field, replace

import numpy as np

from protocols.link.link_tally import MAX_ARRIVALS, LinkTally

SPEED_OF_LIGHT_KM_S = 299_792.458
EARTH_MOON_KM = 384_400.0


@dataclass(frozen=True, slots=True)
class Pass:
    """A contact window ``[start, end)`` in seconds of the caller's clock."""

    start: float
    end: float


@dataclass(frozen=True, slots=True)
class GilbertElliott:
    """Two-state burst model stepped once per unit: the bad state has its own BER and loss."""

    p_good_to_bad: float
    p_bad_to_good: float
    bad_bit_error_rate: float
    bad_loss_probability: float = 0.0

    @property
    def bad_fraction(self) -> float:
        """Long-run share of units sent in the bad state."""
        return self.p_good_to_bad / (self.p_good_to_bad + self.p_bad_to_good)


@dataclass(frozen=True, slots=True)
class LinkConfig:
    range_km: float = EARTH_MOON_KM
    data_rate_bps: float = 2_000_000.0
    bit_error_rate: float = 0.0
    loss_probability: float = 0.0
    duplicate_probability: float = 0.0
    reorder_probability: float = 0.0
    reorder_max_delay_s: float = 0.05  # a reordered unit is held back by up to this much more
    burst: GilbertElliott | None = None
    passes: tuple[Pass, ...] = ()  # empty: always in view
    time_scale: float = 1.0

    @property
    def one_way_light_time_s(self) -> float:
        return self.range_km / SPEED_OF_LIGHT_KM_S

    def serialisation_s(self, length: int) -> float:
        return length * 8 / self.data_rate_bps

    def in_view(self, t: float) -> bool:
        return not self.passes or any(p.start <= t < p.end for p in self.passes)


@dataclass(frozen=True, slots=True)
class LinkProfile:
    """A named pair of configurations: uplink and downlink differ in rate (and often in quality)."""

    name: str
    downlink: LinkConfig
    uplink: LinkConfig


@dataclass(frozen=True, slots=True)
class Delivery:
    time: float
    unit: bytes
    sequence: int  # index of the unit among those sent
    flipped_bits: int = 0
    duplicate: bool = False


@dataclass
class LinkCounters:
    units_sent: int = 0
    bytes_sent: int = 0
    bits_sent: int = 0
    delivered: int = 0
    lost_random: int = 0
    lost_in_burst: int = 0
    lost_outside_pass: int = 0
    duplicated: int = 0
    reordered: int = 0
    corrupted_units: int = 0
    flipped_bits: int = 0
    units_in_burst: int = 0


@dataclass
class LinkSimulator:
    """One direction of a link. :meth:`send` schedules a unit; :meth:`due` hands back arrivals."""

    config: LinkConfig
    seed: int | None = 0
    counters: LinkCounters = field(default_factory=LinkCounters)

    def __post_init__(self) -> None:
        self._rng = np.random.default_rng(self.seed)
        self._transmitter_free_at = float("-inf")
        self._in_burst = False
        self._pending: list[tuple[float, int, Delivery]] = []
        self._order = 0
        # for the reconciliation with the ground: which unit each delivery was, in arrival order
        # (``-1 - sequence`` for a duplicate), and which units were dropped
        self._arrivals = array("q")
        self._dropped = array("q")
        self._arrivals_complete = True

    def send(self, unit: bytes, send_time: float) -> list[Delivery]:
        """Put one unit on the link at ``send_time``; returns its deliveries (none, one or two)."""
        config, counters, rng = self.config, self.counters, self._rng
        sequence = counters.units_sent
        counters.units_sent += 1
        counters.bytes_sent += len(unit)
        counters.bits_sent += 8 * len(unit)
        # A fixed number of draws per unit keeps runs aligned whatever happens to each unit.
        loss_draw, dup_draw, reorder_draw, reorder_delay_draw, burst_draw = rng.random(5)
        self._step_burst(burst_draw)
        start = max(send_time, self._transmitter_free_at)
        end = start + config.serialisation_s(len(unit)) * config.time_scale
        self._transmitter_free_at = end
        if not (config.in_view(start) and config.in_view(end)):
            counters.lost_outside_pass += 1
            self._remember_drop(sequence)
            return []
        if loss_draw < config.loss_probability:
            counters.lost_random += 1
            self._remember_drop(sequence)
            return []
        if self._in_burst and loss_draw < config.loss_probability + config.burst.bad_loss_probability:
            counters.lost_in_burst += 1
            self._remember_drop(sequence)
            return []
        arrival = end + config.one_way_light_time_s * config.time_scale
        if reorder_draw < config.reorder_probability:
            counters.reordered += 1
            arrival += reorder_delay_draw * config.reorder_max_delay_s * config.time_scale
        damaged, flipped = self._bit_errors(unit)
        deliveries = [Delivery(arrival, damaged, sequence, flipped)]
        if dup_draw < config.duplicate_probability:
            counters.duplicated += 1
            echo = arrival + config.serialisation_s(len(unit)) * config.time_scale
            deliveries.append(Delivery(echo, damaged, sequence, flipped, duplicate=True))
        counters.delivered += len(deliveries)
        for delivery in deliveries:
            heapq.heappush(self._pending, (delivery.time, self._order, delivery))
            self._order += 1
        return deliveries

    def due(self, now: float) -> list[Delivery]:
        """Deliveries whose arrival time is ``<= now``, in arrival order (removed from the link)."""
        ready = []
        while self._pending and self._pending[0][0] <= now:
            ready.append(heapq.heappop(self._pending)[2])
        if len(self._arrivals) + len(ready) <= MAX_ARRIVALS:
            self._arrivals.extend(-1 - d.sequence if d.duplicate else d.sequence for d in ready)
        else:
            self._arrivals_complete = False
        return ready

    def _remember_drop(self, sequence: int) -> None:
        if len(self._dropped) < MAX_ARRIVALS:  # bounded, as the arrival order is
            self._dropped.append(sequence)
        else:
            self._arrivals_complete = False

    def tally(self) -> LinkTally:
        """Every counter and the arrival order so far, for the reconciliation with the ground."""
        c = self.counters
        return LinkTally(
            sent=c.units_sent,
            dropped_random=c.lost_random,
            dropped_in_burst=c.lost_in_burst,
            dropped_outside_pass=c.lost_outside_pass,
            corrupted=c.corrupted_units,
            flipped_bits=c.flipped_bits,
            reordered=c.reordered,
            duplicated=c.duplicated,
            delivered=len(self._arrivals) if self._arrivals_complete else c.delivered - self.in_flight,
            in_flight=self.in_flight,
            arrivals=tuple(self._arrivals),
            dropped=tuple(self._dropped),
            arrivals_complete=self._arrivals_complete,
        )

    @property
    def next_arrival(self) -> float | None:
        return self._pending[0][0] if self._pending else None

    @property
    def in_flight(self) -> int:
        return len(self._pending)

    def _step_burst(self, draw: float) -> None:
        burst = self.config.burst
        if burst is None:
            return
        if self._in_burst:
            self._in_burst = draw >= burst.p_bad_to_good
        else:
            self._in_burst = draw < burst.p_good_to_bad
        if self._in_burst:
            self.counters.units_in_burst += 1

    def _bit_errors(self, unit: bytes) -> tuple[bytes, int]:
        config = self.config
        ber = config.burst.bad_bit_error_rate if self._in_burst and config.burst else config.bit_error_rate
        bits = 8 * len(unit)
        if ber <= 0.0 or bits == 0:
            return unit, 0
        count = int(self._rng.binomial(bits, ber))
        if count == 0:
            return unit, 0
        positions = self._rng.choice(bits, size=min(count, bits), replace=False)
        damaged = np.frombuffer(unit, dtype=np.uint8).copy()
        np.bitwise_xor.at(damaged, positions // 8, (0x80 >> (positions % 8)).astype(np.uint8))
        self.counters.corrupted_units += 1
        self.counters.flipped_bits += len(positions)
        return damaged.tobytes(), len(positions)


def _pair(name: str, **changes) -> LinkProfile:
    downlink = LinkConfig(data_rate_bps=2_000_000.0, **changes)
    uplink = LinkConfig(data_rate_bps=64_000.0, **changes)
    return LinkProfile(name, downlink, uplink)


PROFILES: dict[str, LinkProfile] = {
    "nominal": _pair("nominal"),
    "lossy": _pair(
        "lossy",
        loss_probability=0.10,
        bit_error_rate=1e-5,
        reorder_probability=0.02,
        duplicate_probability=0.005,
    ),
    # The first pass ends 60 s in; the next one starts at 180 s and lasts a day.
    "outage": _pair("outage", passes=(Pass(0.0, 60.0), Pass(180.0, 86_400.0))),
}


def profile(name: str, *, time_scale: float = 1.0, range_km: float | None = None) -> LinkProfile:
    """A named profile, optionally time-scaled or moved to another range."""
    try:
        base = PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown link profile {name!r}; known: {', '.join(PROFILES)}") from None
    changes: dict = {"time_scale": time_scale}
    if range_km is not None:
        changes["range_km"] = range_km
    return LinkProfile(base.name, replace(base.downlink, **changes), replace(base.uplink, **changes))
