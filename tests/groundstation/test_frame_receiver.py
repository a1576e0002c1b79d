"""Frame receiver: bare transfer frames (no ASM, no coding) back to packets, past damaged frames."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.transmitter import Transmitter
from groundstation.frame_receiver import FrameCountTracker, FrameReceiver
from protocols.link.channel_file import preset
from tests.groundstation.test_link_receiver import make_packet


def test_frame_receiver_takes_bare_frames() -> None:
    config = preset("tm-uncoded")
    tx = Transmitter(config, {2: 0})
    packets = [make_packet(i, 300 + i) for i in range(20)]
    for p in packets:
        tx.submit(2, p)
    frames = b""
    while tx.has_pending():
        frames += tx.next_frame()
    rx = FrameReceiver(config)
    got = []
    for i in range(0, len(frames), 333):
        got += [o.packet for o in rx.feed(frames[i : i + 333])]
    assert got == packets
    assert rx.close().leftover_octets == 0


def test_frame_receiver_counts_crc_failures_and_leftovers() -> None:
    config = preset("tm-uncoded")
    tx = Transmitter(config, {0: 1})
    tx.submit(0, make_packet(0, 100))
    frames = [tx.next_frame() for _ in range(3)]
    broken = bytearray(frames[1])
    broken[50] ^= 4
    rx = FrameReceiver(config)
    got = rx.feed(frames[0] + bytes(broken) + frames[2] + b"\x01\x02")
    assert [o.packet for o in got] == [make_packet(0, 100)]
    assert rx.counters.crc_failures == 1 and rx.counters.frames_good == 2
    assert rx.close().leftover_octets == 2


@pytest.mark.parametrize("chunk", [1, 333, 1 << 20])
@pytest.mark.parametrize("edit", ["insert", "delete"])
def test_regression_bare_frames_after_an_inserted_or_deleted_octet_are_decoded(chunk: int, edit: str) -> None:
    """Frames with a FECF: one octet more or less inside a frame cost that frame only (the frame
    receiver kept the old spacing and lost every frame after it)."""
    config = preset("tm-uncoded")
    tx = Transmitter(config, {2: 0})
    packets = [make_packet(i, 300 + i) for i in range(20)]
    for p in packets:
        tx.submit(2, p)
    frames = []
    while tx.has_pending():
        frames.append(tx.next_frame())
    at = 2 * config.frame_length + 500
    stream = b"".join(frames)
    stream = stream[:at] + b"\x55" + stream[at:] if edit == "insert" else stream[:at] + stream[at + 1 :]
    rx = FrameReceiver(config)
    got = []
    for i in range(0, len(stream), chunk):
        got += [o.packet for o in rx.feed(stream[i : i + chunk])]
    assert rx.counters.frames_good == len(frames) - 1 and rx.counters.crc_failures == 1
    assert rx.vc_counters[2].frames_missing == 1
    assert packets[-1] in got and set(got) <= set(packets)
    assert rx.close().leftover_octets == 0


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from([2, 3, 4, 8, 64, 256]),
    st.lists(st.tuples(st.integers(0, 300), st.integers(0, 2)), max_size=300),
)
def test_frame_count_tracker_in_order_shortcut_changes_no_verdict(
    modulo: int, steps: list[tuple[int, int]]
) -> None:
    """The shortcut for the frame after the newest gives what the general path gives."""
    fast, general = FrameCountTracker(modulo, window=16), FrameCountTracker(modulo, window=16)
    general._in_order_fast = False
    count = 0
    for jump, digest in steps:
        count = (count + (1 if jump < 200 else jump)) % modulo  # mostly in order, some jumps back
        assert fast.classify(count, digest) == general.classify(count, digest)
        assert (fast.last, fast._recent, fast._missing) == (general.last, general._recent, general._missing)


def test_frames_overtaken_before_the_first_one_seen_are_late_not_255_missing() -> None:
    """Issue 14, item 5 (found by the reconciliation over seeds): a link that held back the first
    frames of a pass made the ground count 248 frames missing for one late frame."""
    tracker = FrameCountTracker(256)
    verdicts = [tracker.classify(count, count) for count in (2, 3, 4, 0, 5, 1, 1)]
    assert verdicts == [
        ("next", 0),
        ("next", 0),
        ("next", 0),
        ("late", 0),  # nothing was counted missing for it, so nothing to take back
        ("next", 0),
        ("late", 0),
        ("duplicate", 0),
    ]
    later = FrameCountTracker(256)
    assert [later.classify(c, c)[0] for c in (0, 2, 1)] == ["next", "next", "late"]
    assert later.classify(3, 3) == ("next", 0)
