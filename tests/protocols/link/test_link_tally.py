"""The link tally: the simulator's counters as the probe hands them over, and the reconciliation."""

from __future__ import annotations

import pytest

from protocols.errors import DecodeError
from protocols.link.link_tally import GroundCount, LinkTally, reconcile

# units 0..9 sent; 3 and 7 dropped; 5 overtaken by 6; 1 duplicated
TALLY = LinkTally(
    sent=10,
    dropped_random=2,
    reordered=1,
    duplicated=1,
    delivered=9,
    arrivals=(0, 1, -2, 2, 4, 6, 5, 8, 9),
    dropped=(3, 7),
)


def _ground(cadus: int, missing: int, reordered: int, duplicated: int, refused: int = 0) -> GroundCount:
    return GroundCount(cadus, cadus - duplicated - refused, 0, refused, missing, reordered, duplicated, True)


def test_pack_unpack_round_trip() -> None:
    assert LinkTally.unpack(TALLY.pack()) == TALLY
    assert TALLY.counters()["dropped_by_link"] == 2 and "arrivals" not in TALLY.counters()


@pytest.mark.parametrize(
    "data",
    [b"", b"\xff", b"[]", b'{"format": "other"}', b'{"format": "paleblue link tally 1", "sent": -1}',
     b'{"format": "paleblue link tally 1", "sent": 1, "extra": 2}',
     b'{"format": "paleblue link tally 1", "sent": 1, "arrivals": [1, "x"]}',
     b'{"format": "paleblue link tally 1"}', b'{"format": "paleblue link tally 1", "sent": [1]}',
     b"[" * 100_000],
)  # fmt: skip
def test_anything_else_is_a_decode_error(data: bytes) -> None:
    with pytest.raises(DecodeError):
        LinkTally.unpack(data)


def test_the_whole_pass_adds_up() -> None:
    window = TALLY.window(9)
    assert (window.units, window.duplicates, window.late, window.dropped, window.held_back) == (8, 1, 1, 2, 0)
    result = reconcile(TALLY, _ground(9, missing=2, reordered=1, duplicated=1))
    assert result.adds_up is True and result.after_ground_stopped == 0
    assert result.sent == result.received - result.duplicated + result.dropped_by_link
    assert result.line().endswith("adds up")


def test_a_ground_that_stopped_early_is_judged_on_what_it_read() -> None:
    # it read 0 1 1' 2 4 6: 3 dropped, 5 still held back when it stopped
    window = TALLY.window(6)
    assert (window.dropped, window.held_back, window.late) == (1, 1, 0)
    result = reconcile(TALLY, _ground(6, missing=2, reordered=0, duplicated=1))
    assert result.adds_up is True and result.after_ground_stopped == 10 - 2 - 5
    wrong = reconcile(TALLY, _ground(6, missing=255, reordered=0, duplicated=1))
    assert wrong.adds_up is False and "missing 255 (simulator 2)" in wrong.line()


def test_refused_frames_are_missing_and_transport_loss_is_not_judged() -> None:
    assert reconcile(TALLY, _ground(9, missing=3, reordered=1, duplicated=1, refused=1)).adds_up is True
    unjudged = reconcile(TALLY, _ground(9, missing=2, reordered=1, duplicated=1), messages_lost=3)
    assert unjudged.adds_up is None and "3 messages lost" in unjudged.line()


def test_an_outage_longer_than_the_frame_count_is_counted_modulo_256_and_said() -> None:
    outage = LinkTally(
        sent=600,
        dropped_outside_pass=300,
        delivered=300,
        arrivals=(*range(10), *range(310, 600)),
        dropped=tuple(range(10, 310)),
    )
    result = reconcile(outage, _ground(300, missing=300 - 256, reordered=0, duplicated=0))
    assert result.adds_up is True and result.uncountable == 256
    assert "256 lost in runs too long for the 8-bit frame count" in result.line()
    # 250 lost: the count after them looks like one 6 frames behind the newest: not judged
    ambiguous = LinkTally(sent=260, arrivals=(*range(5), *range(255, 260)), dropped=tuple(range(5, 255)))
    assert reconcile(ambiguous, _ground(10, missing=0, reordered=0, duplicated=0)).adds_up is None
