"""Ephemeris: bundled DE421 only (no network), sane distances, and the light-time correction."""

from __future__ import annotations

import socket
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from emulator import ephemeris


def test_kernel_comes_from_the_skyfield_data_package_and_nothing_downloads(monkeypatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")

    import skyfield.iokit
    import skyfield_data

    monkeypatch.setattr(skyfield.iokit, "download", refuse)
    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(ephemeris, "_cache", {})  # force a fresh load under the guard

    package_dir = Path(skyfield_data.__file__).resolve().parent
    assert ephemeris.loader_directory().resolve().is_relative_to(package_dir)
    jd = ephemeris.jd_tdb(datetime(2020, 7, 27, 12, tzinfo=UTC))
    assert np.all(np.isfinite(ephemeris.position_ssb("moon", jd)))


def test_kernel_is_loaded_once_per_process() -> None:
    assert ephemeris.kernel() is ephemeris.kernel()


@pytest.mark.parametrize(
    ("when", "low_au", "high_au"),
    [
        (datetime(2021, 1, 2, tzinfo=UTC), 0.9832, 0.9834),  # perihelion 2021-01-02: 0.98326 au
        (datetime(2021, 7, 5, tzinfo=UTC), 1.0166, 1.0168),  # aphelion 2021-07-05: 1.01672 au
    ],
)
def test_earth_sun_distance_has_the_right_seasonal_value(
    when: datetime, low_au: float, high_au: float
) -> None:
    distance_au = ephemeris.earth_sun_distance_km(ephemeris.jd_tdb(when)) / ephemeris.AU_KM
    assert low_au < distance_au < high_au


def test_moon_distance_stays_between_perigee_and_apogee_extremes() -> None:
    start = ephemeris.jd_tdb(datetime(2020, 1, 1, tzinfo=UTC))
    distances = [ephemeris.moon_distance_km(start + day) for day in np.arange(0.0, 60.0, 0.5)]
    assert 356_000 < min(distances) < 370_000
    assert 400_000 < max(distances) < 407_000


def test_perigee_of_2016_11_14_supermoon() -> None:
    # Closest perigee of the century to that date: 356,509 km (centre to centre) near 11:23 UTC.
    jd = ephemeris.jd_tdb(datetime(2016, 11, 14, 11, 23, tzinfo=UTC))
    assert ephemeris.moon_distance_km(jd) == pytest.approx(356_509, abs=30)


def test_light_time_places_the_body_where_it_was_when_light_left() -> None:
    jd = ephemeris.jd_tdb(datetime(2020, 7, 27, 12, tzinfo=UTC))
    earth = ephemeris.position_ssb("earth", jd)
    observer = earth + np.array([1.2e6, 0.0, 0.0])
    apparent, light_time = ephemeris.apparent_vector(observer, "earth", jd)
    geometric = earth - observer
    assert light_time == pytest.approx(np.linalg.norm(apparent) / ephemeris.C_KM_S)
    assert light_time == pytest.approx(4.0, abs=0.01)
    shift = apparent - geometric
    velocity = ephemeris.velocity_ssb("earth", jd)
    # Over ~4 s the Earth moves ~120 km: the shift is -v * tau, to metres.
    assert shift == pytest.approx(-velocity * light_time, abs=1e-3)
    angle_rad = np.linalg.norm(np.cross(apparent, geometric)) / (
        np.linalg.norm(apparent) * np.linalg.norm(geometric)
    )
    perpendicular_speed = np.linalg.norm(np.cross(velocity, geometric / np.linalg.norm(geometric)))
    assert angle_rad == pytest.approx(perpendicular_speed * light_time / np.linalg.norm(geometric), rel=1e-3)


def test_coverage_matches_de421_and_rejects_other_dates() -> None:
    start, end = ephemeris.coverage_utc()
    assert start.year == 1899 and end.year == 2053
    assert ephemeris.in_coverage(datetime(1977, 9, 18, tzinfo=UTC))
    assert not ephemeris.in_coverage(datetime(2100, 1, 1, tzinfo=UTC))
    with pytest.raises(ephemeris.EphemerisRangeError):
        ephemeris.position_ssb("earth", ephemeris.DE421_END_JD + 10)


def test_unknown_body_is_refused() -> None:
    with pytest.raises(KeyError, match="pluto"):
        ephemeris.position_ssb("pluto", 2451545.0)
