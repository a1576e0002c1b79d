"""Which station the uplink goes through: the operator's, the pass schedule's, the one in contact."""

from __future__ import annotations

import pytest

from groundstation.merge.uplink_choice import UplinkChoice, parse_schedule


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_operator_names_the_station() -> None:
    assert UplinkChoice(via="cbr")() == "cbr"


def test_the_pass_schedule_hands_over_at_its_times() -> None:
    clock = Clock()
    choice = UplinkChoice(schedule=parse_schedule("mad@600,gds@0,cbr@300"), clock=clock)
    seen = []
    for t in (0, 299, 300, 599, 600, 5000):
        clock.now = 100.0 + t
        seen.append(choice())
    assert seen == ["gds", "gds", "cbr", "cbr", "mad", "mad"]
    late = UplinkChoice(schedule=[(10, "gds")], clock=clock)
    assert late() is None  # before its first entry, no station


def test_auto_is_the_station_in_contact_and_holds_through_the_overlap() -> None:
    clock = Clock()
    choice = UplinkChoice(via="auto", hold_s=2.0, clock=clock)
    assert choice() is None  # nobody heard yet
    choice.heard["gds"] = 100.0
    assert choice() == "gds"
    clock.now, choice.heard["cbr"] = 101.0, 101.0  # the handover's overlap: both hear the probe
    choice.heard["gds"] = 101.0
    assert choice() == "gds"  # kept while still heard: no jumping back and forth
    clock.now = 104.0
    choice.heard["cbr"] = 103.5  # gds's pass is over
    assert choice() == "cbr"
    clock.now = 110.0  # nobody heard for longer than hold_s: no station in contact
    assert choice() is None


@pytest.mark.parametrize("text", ["gds", "gds@", "gds@x", "a.b@3", "gds@-1", "@3", "gds@nan"])
def test_a_malformed_schedule_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_schedule(text)


def test_a_station_and_a_schedule_are_not_both_given() -> None:
    with pytest.raises(ValueError):
        UplinkChoice(via="gds", schedule=[(0, "cbr")])
