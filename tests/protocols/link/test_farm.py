"""FARM-1 (CCSDS 232.1-B-2 §6): every cell of the state table, and the CLCW it reports."""

from __future__ import annotations

import pytest

from protocols.link.clcw import Clcw
from protocols.link.farm import UNLOCK, Farm1, FarmOutcome, FarmState, set_vr_command


def farm_at(v_r: int, window: int = 10) -> Farm1:
    farm = Farm1(vcid=0, window=window)
    farm.bc_frame(set_vr_command(v_r))
    return farm


def test_in_sequence_frames_are_accepted_and_v_r_wraps() -> None:
    farm = farm_at(254)
    assert [farm.ad_frame(n) for n in (254, 255, 0)] == [FarmOutcome.ACCEPTED] * 3
    assert farm.v_r == 1 and farm.state is FarmState.OPEN
    assert farm.clcw() == Clcw(vcid=0, report_value=1, farm_b_counter=1)


@pytest.mark.parametrize(
    ("ns", "outcome", "retransmit", "state"),
    [
        (21, FarmOutcome.RETRANSMIT, True, FarmState.OPEN),  # d = 1: a frame was lost
        (24, FarmOutcome.RETRANSMIT, True, FarmState.OPEN),  # d = PW - 1
        (25, FarmOutcome.LOCKOUT, False, FarmState.LOCKOUT),  # d = PW: the lockout area begins
        (19, FarmOutcome.DUPLICATE, False, FarmState.OPEN),  # d = -1: already accepted
        (15, FarmOutcome.DUPLICATE, False, FarmState.OPEN),  # d = -NW
        (14, FarmOutcome.LOCKOUT, False, FarmState.LOCKOUT),  # d = -NW - 1
        (150, FarmOutcome.LOCKOUT, False, FarmState.LOCKOUT),
    ],
)
def test_open_state_windows(ns: int, outcome: FarmOutcome, retransmit: bool, state: FarmState) -> None:
    farm = farm_at(20)
    assert farm.ad_frame(ns) is outcome
    assert (farm.retransmit, farm.state, farm.v_r, farm.lockout) == (
        retransmit, state, 20, state is FarmState.LOCKOUT
    )  # fmt: skip


def test_accepting_the_expected_frame_clears_retransmit() -> None:
    farm = farm_at(20)
    farm.ad_frame(22)
    assert farm.clcw().retransmit
    assert farm.ad_frame(20) is FarmOutcome.ACCEPTED and not farm.clcw().retransmit


def test_no_buffer_means_wait_until_released() -> None:
    room = [False]
    farm = Farm1(buffer_available=lambda: room[0])
    assert farm.ad_frame(0) is FarmOutcome.WAIT
    assert farm.state is FarmState.WAIT and farm.clcw().wait and farm.clcw().retransmit
    assert farm.ad_frame(0) is FarmOutcome.WAIT  # discarded in WAIT, even the expected frame
    assert farm.ad_frame(100) is FarmOutcome.LOCKOUT and farm.state is FarmState.LOCKOUT
    farm = Farm1(buffer_available=lambda: room[0])
    farm.ad_frame(0)
    room[0] = True
    farm.buffer_released()
    assert farm.state is FarmState.OPEN and not farm.wait and farm.retransmit  # R stays until accepted
    assert farm.ad_frame(0) is FarmOutcome.ACCEPTED and not farm.retransmit


def test_lockout_discards_everything_until_unlock() -> None:
    farm = farm_at(20)
    farm.ad_frame(100)
    assert farm.ad_frame(20) is FarmOutcome.LOCKOUT  # even the expected one
    assert farm.bc_frame(set_vr_command(5)) is FarmOutcome.SET_VR and farm.v_r == 20  # no effect in lockout
    assert farm.state is FarmState.LOCKOUT and farm.farm_b_counter == 2
    assert farm.bc_frame(UNLOCK) is FarmOutcome.UNLOCK
    assert farm.state is FarmState.OPEN and not farm.clcw().lockout and farm.farm_b_counter == 3
    assert farm.ad_frame(20) is FarmOutcome.ACCEPTED


def test_bypass_frames_count_in_farm_b_and_bad_control_commands_are_discarded() -> None:
    farm = Farm1()
    for _ in range(5):
        assert farm.bd_frame() is FarmOutcome.BYPASSED
    assert farm.clcw().farm_b_counter == 1  # two bits: 5 mod 4
    assert farm.bc_frame(b"\x82\x01\x05") is FarmOutcome.BAD_CONTROL and farm.farm_b_counter == 1


def test_window_must_be_even() -> None:
    with pytest.raises(ValueError):
        Farm1(window=7)
