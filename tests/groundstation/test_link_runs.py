"""Packets cut from frames go in bulk in runs of one length, with the effects of one at a time.

The station groups the link receiver's packets of one message (``groundstation.link_runs``) and
places runs of image segments in bulk; these tests feed the same CADU streams, from damaged packet
streams and with bit errors on the link, with bulk on and off and require identical summaries and
fault records.
"""

from __future__ import annotations

import contextlib
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emulator.transmitter import Transmitter
from groundstation.frame_receiver import LinkOutput
from groundstation.link_runs import MIN_LINK_RUN, link_runs
from groundstation.station import GroundStation
from protocols.capture.zmq_framing import Layer
from protocols.image.image_transport import ImageReassembler
from protocols.link.channel_file import preset
from protocols.packets.space_packet import PacketRun
from tests.groundstation.test_bulk_segments import _comparable_summary, _damage, _pass, _remember_faults

MESSAGE_OCTETS = 10_232  # 8 CADUs of the default channel: what the probe sends


def _cadus(packets: list[bytes]) -> bytes:
    transmitter = Transmitter(preset(), {1: 0})
    for packet in packets:
        with contextlib.suppress(ValueError):  # not a packet at all: the probe could not send it either
            transmitter.submit(1, packet)
    return transmitter.drain()


def _decode(cadus: bytes, bulk: bool, out: Path) -> tuple[dict, list[tuple[str, str]]]:
    station = GroundStation(out, write_products=False)
    station.bulk_segments = bulk
    faults = _remember_faults(station)
    for start in range(0, len(cadus), MESSAGE_OCTETS):
        station.feed_stream(Layer.CADUS, cadus[start : start + MESSAGE_OCTETS])
    return _comparable_summary(station), faults


def _flip(data: bytes, rnd: random.Random, flips: int) -> bytes:
    damaged = bytearray(data)
    for _ in range(flips):
        damaged[rnd.randrange(len(damaged))] ^= 1 << rnd.randrange(8)
    return bytes(damaged)


@pytest.fixture(scope="module")
def clean_pass() -> list[bytes]:
    return _pass(images=3)


def test_a_clean_pass_goes_in_bulk_with_the_same_effects(clean_pass, tmp_path: Path, monkeypatch) -> None:
    cadus = _cadus(clean_pass)
    calls = []
    original = ImageReassembler.add_segment
    monkeypatch.setattr(
        ImageReassembler, "add_segment", lambda self, *a: calls.append(1) or original(self, *a)
    )
    bulk = _decode(cadus, True, tmp_path / "bulk")
    in_bulk = len(clean_pass) - len(calls)
    one_by_one = _decode(cadus, False, tmp_path / "single")
    assert bulk == one_by_one and bulk[1] == []
    assert [p["crc_ok"] for p in bulk[0]["images"]] == [True, True, True]
    assert in_bulk > len(clean_pass) // 2  # not a vacuous comparison


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32), edits=st.integers(0, 10), flips=st.integers(0, 400))
def test_any_damaged_pass_has_the_same_effects_in_bulk_and_one_by_one(
    clean_pass, tmp_path_factory, seed: int, edits: int, flips: int
) -> None:
    rnd = random.Random(seed)
    cadus = _flip(_cadus(_damage(clean_pass, rnd, edits)), rnd, flips)
    out = tmp_path_factory.mktemp("runs")
    assert _decode(cadus, True, out / "bulk") == _decode(cadus, False, out / "single")


def test_only_well_formed_packets_of_one_length_make_a_run() -> None:
    good = _pass(images=1)[1:]  # segments: all of one length
    other = good[0][:-1]  # another length
    outputs = [LinkOutput(p, 1, i) for i, p in enumerate([*good[: MIN_LINK_RUN + 1], other, *good[:2]])]
    units = list(link_runs(outputs))
    assert isinstance(units[0], PacketRun) and len(units[0]) == MIN_LINK_RUN + 1
    assert units[0].rows.tobytes() == b"".join(good[: MIN_LINK_RUN + 1])
    assert [u.packet for u in units[1:]] == [other, *good[:2]]  # a run of 2: one by one
    bad_version = bytes([good[0][0] | 0x20]) + good[0][1:]
    mixed = [LinkOutput(p, 1, 0) for p in [*good[:MIN_LINK_RUN], bad_version]]
    assert [u.packet for u in link_runs(mixed)] == [*good[:MIN_LINK_RUN], bad_version]  # one by one
