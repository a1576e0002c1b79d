"""Link simulator: reproducible, delays add up, and impairments match their configured rates."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from emulator.link_simulator import (
    EARTH_MOON_KM,
    SPEED_OF_LIGHT_KM_S,
    GilbertElliott,
    LinkConfig,
    LinkSimulator,
    Pass,
    profile,
)

UNIT = bytes(range(256)) * 4  # 1024-octet frames


def _within(measured: int, n: int, p: float, sigmas: float = 5.0) -> bool:
    expected = n * p
    return abs(measured - expected) <= sigmas * math.sqrt(n * p * (1 - p)) + 1


def _run(config: LinkConfig, n: int, seed: int = 1, spacing: float = 0.01) -> tuple[LinkSimulator, list]:
    link = LinkSimulator(config, seed)
    deliveries = []
    for k in range(n):
        deliveries += link.send(UNIT, k * spacing)
    return link, deliveries


def test_a_seed_reproduces_a_run_exactly_and_another_seed_does_not() -> None:
    config = profile("lossy").downlink
    _, first = _run(config, 3000, seed=42)
    _, again = _run(config, 3000, seed=42)
    _, other = _run(config, 3000, seed=43)
    assert first == again
    assert first != other


def test_delay_is_light_time_plus_serialisation_and_queueing() -> None:
    config = LinkConfig(range_km=EARTH_MOON_KM, data_rate_bps=1_000_000.0)
    link = LinkSimulator(config, 0)
    light = EARTH_MOON_KM / SPEED_OF_LIGHT_KM_S
    serialise = 1024 * 8 / 1e6
    [first] = link.send(UNIT, 10.0)
    [second] = link.send(UNIT, 10.0)  # queued behind the first
    [third] = link.send(UNIT, 20.0)  # transmitter idle again
    assert first.time == pytest.approx(10.0 + serialise + light)
    assert second.time == pytest.approx(first.time + serialise)
    assert third.time == pytest.approx(20.0 + serialise + light)
    assert light == pytest.approx(1.2822, abs=1e-4)


@given(st.floats(1e-4, 1.0))
def test_time_scale_shrinks_every_delay_alike(scale: float) -> None:
    slow = LinkSimulator(LinkConfig(data_rate_bps=64_000.0), 0).send(UNIT, 0.0)[0].time
    fast = LinkSimulator(LinkConfig(data_rate_bps=64_000.0, time_scale=scale), 0).send(UNIT, 0.0)[0].time
    assert fast == pytest.approx(slow * scale)


def test_nominal_profile_delivers_everything_intact_and_in_order() -> None:
    link, deliveries = _run(profile("nominal").downlink, 2000)
    assert [d.unit for d in deliveries] == [UNIT] * 2000
    times = [d.time for d in deliveries]
    assert times == sorted(times)
    assert link.counters.delivered == 2000 and link.counters.lost_random == 0


def test_measured_loss_duplication_and_reordering_match_the_configuration() -> None:
    config = LinkConfig(
        loss_probability=0.1, duplicate_probability=0.03, reorder_probability=0.05, reorder_max_delay_s=0.1
    )
    n = 20_000
    link, deliveries = _run(config, n)
    c = link.counters
    assert _within(c.lost_random, n, 0.1)
    kept = n - c.lost_random
    assert _within(c.duplicated, kept, 0.03)
    assert _within(c.reordered, kept, 0.05)
    assert sum(d.duplicate for d in deliveries) == c.duplicated
    assert c.delivered == len(deliveries) == kept + c.duplicated
    arrival_order = [d.sequence for d in sorted(deliveries, key=lambda d: d.time) if not d.duplicate]
    assert arrival_order != sorted(arrival_order)  # reordering really happened


def test_measured_bit_error_rate_matches_and_damage_is_exactly_the_flipped_bits() -> None:
    config = LinkConfig(bit_error_rate=1e-4)
    n = 3000
    link, deliveries = _run(config, n)
    bits = n * len(UNIT) * 8
    assert _within(link.counters.flipped_bits, bits, 1e-4)
    for d in deliveries[:500]:
        diff = np.unpackbits(np.frombuffer(d.unit, np.uint8) ^ np.frombuffer(UNIT, np.uint8)).sum()
        assert diff == d.flipped_bits


def test_lossy_profile_has_the_advertised_impairments() -> None:
    downlink = profile("lossy").downlink
    assert downlink.loss_probability == 0.10 and downlink.bit_error_rate == 1e-5
    assert downlink.reorder_probability > 0
    link, _ = _run(downlink, 10_000)
    assert _within(link.counters.lost_random, 10_000, 0.10)
    assert link.counters.reordered > 0 and link.counters.flipped_bits > 0


def test_gilbert_elliott_bursts_cluster_errors() -> None:
    burst = GilbertElliott(p_good_to_bad=0.01, p_bad_to_good=0.2, bad_bit_error_rate=1e-3)
    n = 30_000
    link, deliveries = _run(LinkConfig(burst=burst), n)
    assert _within(link.counters.units_in_burst, n, burst.bad_fraction, sigmas=8)
    damaged = np.array([d.flipped_bits > 0 for d in deliveries])
    runs = np.diff(np.flatnonzero(np.diff(np.r_[0, damaged.astype(int), 0])))[::2]
    assert runs.mean() > 2.5  # independent errors at this rate would give runs of ~1.1
    assert damaged.mean() == pytest.approx(burst.bad_fraction * (1 - math.exp(-8.192)), rel=0.3)


def test_burst_loss_applies_only_in_the_bad_state() -> None:
    burst = GilbertElliott(0.05, 0.25, 0.0, bad_loss_probability=0.5)
    link, _ = _run(LinkConfig(burst=burst), 20_000)
    assert _within(link.counters.lost_in_burst, link.counters.units_in_burst, 0.5)


def test_units_sent_outside_a_pass_are_lost_and_counted() -> None:
    config = LinkConfig(passes=(Pass(0.0, 10.0), Pass(30.0, 40.0)), data_rate_bps=1e9)
    link = LinkSimulator(config, 0)
    delivered = {t: bool(link.send(UNIT, t)) for t in (1.0, 9.0, 15.0, 29.0, 31.0, 45.0)}
    assert delivered == {1.0: True, 9.0: True, 15.0: False, 29.0: False, 31.0: True, 45.0: False}
    assert link.counters.lost_outside_pass == 3


def test_outage_profile_ends_a_pass_and_resumes_later() -> None:
    downlink = profile("outage").downlink
    assert downlink.in_view(10.0) and not downlink.in_view(100.0) and downlink.in_view(200.0)


def test_due_hands_back_arrivals_in_time_order() -> None:
    link = LinkSimulator(LinkConfig(reorder_probability=0.5, reorder_max_delay_s=1.0), 3)
    for k in range(200):
        link.send(UNIT, k * 0.001)
    got = link.due(1e9)
    assert [d.time for d in got] == sorted(d.time for d in got)
    assert link.in_flight == 0 and link.due(1e9) == []


def test_uplink_and_downlink_are_configured_separately() -> None:
    pair = profile("nominal", time_scale=0.01, range_km=1.5e6)
    assert pair.uplink.data_rate_bps < pair.downlink.data_rate_bps
    assert pair.downlink.time_scale == 0.01 and pair.uplink.range_km == 1.5e6
    with pytest.raises(ValueError):
        profile("no-such-profile")
