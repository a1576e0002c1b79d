"""CADU messages joined by MessageBatch (as the receive loop and decode join them) have the effects of
``GroundStation.handle_message`` on each: the same summary (products, counters, fault counts) and,
kind by kind, the same fault records in the same order."""

from __future__ import annotations

import random
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from groundstation.station import GroundStation
from protocols.capture.zmq_framing import TOPIC_DOWNLINK, Envelope, Layer
from tests.groundstation.test_bulk_segments import (
    _comparable_summary,
    _damage,
    _handle_messages,
    _remember_faults,
)
from tests.groundstation.test_link_runs import MESSAGE_OCTETS, _cadus, _flip
from tests.groundstation.test_platform_batch import platform_pass

PASS = platform_pass(5, 400)  # housekeeping around two small images
CADU = 1279  # octets, the default channel's


def messages(seed: int, edits: int, flips: int, bursts: int = 0) -> list[list[bytes]]:
    """The pass as the probe sends it (CADU messages), damaged on the link and in transport: bit
    errors, messages lost, a new session, a packet message and a stray message between."""
    rnd = random.Random(seed)
    cadus = bytearray(_flip(_cadus(_damage(PASS, rnd, edits)), rnd, flips))
    for _ in range(bursts):  # more than Reed-Solomon corrects: uncorrectable frames
        at = rnd.randrange(len(cadus))
        cadus[at : at + 200] = rnd.randbytes(len(cadus[at : at + 200]))
    out, session, sequence, start = [], 1, 0, 0
    while start < len(cadus):
        size = rnd.choice([CADU // 2, CADU, 3 * CADU, MESSAGE_OCTETS])  # any cut, not only the probe's
        stop, start = start + size, start + size
        if rnd.random() < 0.03:
            sequence += 1  # a message lost in transport
            continue
        if rnd.random() < 0.03:
            session, sequence = session + 1, 0  # a restarted probe
        if rnd.random() < 0.03:
            out.append([TOPIC_DOWNLINK, Envelope(Layer.PACKETS, session, sequence).pack(), PASS[0]])
            sequence += 1
        if rnd.random() < 0.02:
            out.append([b"stray", b"", b""])
        envelope = Envelope(Layer.CADUS, session, sequence).pack()
        out.append([TOPIC_DOWNLINK, envelope, bytes(cadus[stop - size : stop])])
        sequence += 1
    return out


def run(parts: list[list[bytes]], joined: bool, out: Path, max_octets: int) -> tuple[dict, dict]:
    station = GroundStation(out, write_products=False)
    faults = _remember_faults(station)
    _handle_messages(station, parts, joined, max_octets)
    summary = _comparable_summary(station)
    by_kind: dict[str, list[str]] = {}
    for kind, detail in faults:
        by_kind.setdefault(kind, []).append(detail)
    return summary, by_kind


def test_a_clean_pass_of_cadu_messages_is_handled_joined(tmp_path: Path, monkeypatch) -> None:
    parts = messages(0, 0, 0)
    calls: list[int] = []
    original = GroundStation.handle_link_outputs
    monkeypatch.setattr(
        GroundStation, "handle_link_outputs", lambda self, o: calls.append(len(o)) or original(self, o)
    )
    joined = run(parts, True, tmp_path / "joined", 4 << 20)
    assert max(calls) > 100  # not a vacuous comparison: the packets of many messages went together
    assert joined == run(parts, False, tmp_path / "single", 4 << 20)
    assert [p["crc_ok"] for p in joined[0]["images"]] == [True, True]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    seed=st.integers(0, 2**32),
    edits=st.integers(0, 6),
    flips=st.integers(0, 60),
    bursts=st.integers(0, 4),
    max_octets=st.sampled_from([1, 30_000, 4 << 20]),
)
def test_cadu_messages_joined_have_the_effects_of_one_at_a_time(
    tmp_path_factory, seed: int, edits: int, flips: int, bursts: int, max_octets: int
) -> None:
    parts = messages(seed, edits, flips, bursts)
    out = tmp_path_factory.mktemp("cadus")
    assert run(parts, True, out / "joined", max_octets) == run(parts, False, out / "single", max_octets)
