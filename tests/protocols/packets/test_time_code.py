"""CUC and CDS time codes (CCSDS 301.0-B-4)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.errors import DecodeError
from protocols.packets.time_code import (
    CUC_PFIELD_4_2,
    CdsTime,
    CucTime,
    tai_minus_utc,
    tai_seconds_to_utc,
    utc_to_tai_seconds,
)


def test_pfield_for_four_coarse_two_fine_octets_is_0x1e() -> None:
    assert CucTime(0, 0).pfield() == bytes([CUC_PFIELD_4_2]) == b"\x1e"


@given(st.integers(0, 2**32 - 1), st.integers(0, 2**16 - 1))
def test_cuc_round_trip(coarse: int, fine: int) -> None:
    value = CucTime(coarse, fine)
    raw = value.pack()
    assert len(raw) == 7
    assert CucTime.unpack(raw) == (value, 7)


@given(st.integers(1, 7), st.integers(0, 10), st.data())
def test_cuc_extended_pfield_round_trip(coarse_octets: int, fine_octets: int, data: st.DataObject) -> None:
    coarse = data.draw(st.integers(0, 2 ** (8 * coarse_octets) - 1))
    fine = data.draw(st.integers(0, 2 ** (8 * fine_octets) - 1))
    value = CucTime(coarse, fine, coarse_octets, fine_octets)
    decoded, used = CucTime.unpack(value.pack())
    assert decoded == value
    assert used == len(value.pack())


@given(st.binary(max_size=12))
def test_cuc_garbage_raises_only_decode_error(raw: bytes) -> None:
    try:
        CucTime.unpack(raw)
    except DecodeError as exc:
        assert exc.layer == "cuc-time"


@given(st.binary(max_size=12))
def test_cds_garbage_raises_only_decode_error(raw: bytes) -> None:
    try:
        CdsTime.unpack(raw)
    except DecodeError as exc:
        assert exc.layer == "cds-time"


@given(st.integers(0, 65535), st.integers(0, 86_399_999), st.one_of(st.none(), st.integers(0, 999)))
def test_cds_round_trip(days: int, ms: int, us: int | None) -> None:
    value = CdsTime(days, ms, us)
    decoded, used = CdsTime.unpack(value.pack())
    assert decoded == value
    assert used == len(value.pack())


def test_leap_seconds_known_values() -> None:
    assert tai_minus_utc(datetime(2020, 7, 27, tzinfo=UTC)) == 37
    assert tai_minus_utc(datetime(1977, 9, 18, tzinfo=UTC)) == 16
    assert tai_minus_utc(datetime(2016, 12, 31, 23, 59, 59, tzinfo=UTC)) == 36


@given(st.datetimes(min_value=datetime(1972, 1, 2), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)))
def test_utc_tai_round_trip(when: datetime) -> None:
    back = tai_seconds_to_utc(utc_to_tai_seconds(when))
    assert abs(back - when) < timedelta(microseconds=2)


def test_cuc_from_utc_matches_an_independent_count() -> None:
    # 2020-07-27T00:00:00Z: 22,853 days after 1958-01-01, plus TAI-UTC = 37 s
    value = CucTime.from_utc(datetime(2020, 7, 27, tzinfo=UTC))
    assert value.coarse == 22_853 * 86_400 + 37
    assert value.to_utc() == datetime(2020, 7, 27, tzinfo=UTC)


def test_naive_datetime_rejected() -> None:
    with pytest.raises(ValueError):
        utc_to_tai_seconds(datetime(2020, 1, 1))
