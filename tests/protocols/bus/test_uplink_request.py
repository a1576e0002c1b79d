"""The uplink request: pack/unpack agree with the declaration; garbage raises only DecodeError."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.bus.uplink_request import UPLINK_REQUEST, UplinkRequest, uplink_subject
from protocols.errors import DecodeError

requests = st.builds(UplinkRequest, st.integers(0, 255), st.binary(min_size=1, max_size=300))


@given(requests)
def test_round_trip_matches_the_declaration(request: UplinkRequest) -> None:
    raw = request.pack()
    assert UplinkRequest.unpack(raw) == request
    parsed = UPLINK_REQUEST.parse(raw)
    assert (parsed.layer, parsed.unit) == (request.layer, request.unit)
    assert UPLINK_REQUEST.build({"version": None, "layer": request.layer, "unit": request.unit}) == raw


@given(st.binary(max_size=40))
def test_garbage_raises_only_decode_error(raw: bytes) -> None:
    try:
        request = UplinkRequest.unpack(raw)
    except DecodeError as exc:
        assert exc.layer == "uplink-request"
    else:
        assert UPLINK_REQUEST.parse(raw).unit == request.unit  # what it takes, the declaration takes


def test_a_subject_names_one_station() -> None:
    assert uplink_subject("gds") == "paleblue.uplink.gds"
    with pytest.raises(ValueError):
        uplink_subject("a.b")
