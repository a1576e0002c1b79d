"""Several stations' links: independent seeded losses, each logged."""

from __future__ import annotations

import pytest

from emulator.link_simulator import LinkConfig
from emulator.station_links import StationLinks


def run(seed: int, units: int = 5000, loss: float = 0.10) -> StationLinks:
    config = LinkConfig(range_km=0.0, data_rate_bps=1e9, loss_probability=loss, bit_error_rate=1e-5)
    links = StationLinks((config,) * 3, seed)
    for k in range(units):
        links.send(k.to_bytes(4, "big") * 100, k * 1e-4)
    return links


def test_each_station_loses_its_own_frames_and_logs_them() -> None:
    links = run(1)
    arrived = links.due(1e9)
    for k in range(3):
        got = {int.from_bytes(d.unit[:4], "big") for d in arrived[k] if d.flipped_bits == 0}
        lost = set(links.drops[k])
        assert len(arrived[k]) + len(lost) == 5000  # every unit delivered or logged as lost
        assert not got & lost
        assert 400 < len(lost) < 600  # about 10 %
    assert links.drops[0] != links.drops[1] != links.drops[2]
    assert len(links.lost_by_all()) < 20  # independent: about 0.1 % lost by all three
    assert links.lost_by_all() == set(links.drops[0]) & set(links.drops[1]) & set(links.drops[2])
    assert sum(c["corrupted_units"] for c in links.counters()) > 0  # BER 1e-5 on 3200-bit units


def test_a_seed_reproduces_every_station_exactly() -> None:
    assert run(7).drops == run(7).drops
    assert run(7).drops != run(8).drops


def test_at_least_one_station() -> None:
    with pytest.raises(ValueError, match="at least one station"):
        StationLinks(())
