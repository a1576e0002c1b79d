"""FOP-1 (CCSDS 232.1-B-2 §5): the sliding window, CLCW-driven and timer-driven retransmission, alerts."""

from __future__ import annotations

from protocols.link.clcw import Clcw
from protocols.link.farm import UNLOCK, set_vr_command
from protocols.link.fop import Alert, Fop1, FopState


def active(**kwargs) -> Fop1:
    fop = Fop1(**kwargs)
    fop.initiate()
    return fop


def test_window_limits_frames_in_flight_and_acknowledgements_open_it() -> None:
    fop = active(window=3)
    for n in range(5):
        fop.submit(bytes([n]))
    sent = fop.poll(0.0)
    assert [t.sequence_number for t in sent] == [0, 1, 2] and not any(t.retransmission for t in sent)
    assert fop.poll(0.1) == []  # window full
    fop.on_clcw(Clcw(report_value=2))
    assert [t.sequence_number for t in fop.poll(0.2)] == [3, 4]
    fop.on_clcw(Clcw(report_value=5))
    assert fop.idle and fop.state is FopState.ACTIVE and fop.summary()["ad_frames_acknowledged"] == 5


def test_retransmit_flag_resends_the_whole_sent_queue_once() -> None:
    fop = active()
    for n in range(4):
        fop.submit(bytes([n]))
    fop.poll(0.0)
    fop.on_clcw(Clcw(report_value=1, retransmit=True))  # frame 1 lost: FARM took 0 and asks again
    again = fop.poll(0.1)
    assert [(t.sequence_number, t.retransmission) for t in again] == [(1, True), (2, True), (3, True)]
    assert fop.state is FopState.RETRANSMIT_WITHOUT_WAIT
    fop.on_clcw(Clcw(report_value=1, retransmit=True))  # a stale CLCW: the retransmission is under way
    assert fop.poll(0.2) == []
    fop.on_clcw(Clcw(report_value=4))
    assert fop.idle and fop.state is FopState.ACTIVE


def test_wait_flag_holds_retransmission_until_it_clears() -> None:
    fop = active()
    fop.submit(b"a")
    fop.poll(0.0)
    fop.on_clcw(Clcw(report_value=0, retransmit=True, wait=True))
    assert fop.state is FopState.RETRANSMIT_WITH_WAIT and fop.poll(0.1) == []
    fop.on_clcw(Clcw(report_value=0, retransmit=True))
    assert [t.sequence_number for t in fop.poll(0.2)] == [0]


def test_timer_retransmits_then_gives_up_at_the_limit() -> None:
    fop = active(t1_s=1.0, transmission_limit=3)
    fop.submit(b"a")
    assert len(fop.poll(0.0)) == 1
    assert fop.poll(0.5) == []
    assert [t.retransmission for t in fop.poll(1.0)] == [True]
    assert len(fop.poll(2.0)) == 1  # third transmission
    assert fop.poll(3.0) == [] and fop.alerts == [Alert.T1] and fop.state is FopState.INITIAL
    assert fop.summary()["ad_frames_abandoned"] == 1


def test_alerts_on_lockout_bad_nr_and_contradicting_flags() -> None:
    for clcw, alert in [
        (Clcw(lockout=True), Alert.LOCKOUT),
        (Clcw(report_value=9), Alert.NNR),  # beyond V(S)
        (Clcw(report_value=2, retransmit=True), Alert.CLCW),  # all acknowledged, yet retransmit
    ]:
        fop = active()
        fop.submit(b"a")
        fop.submit(b"b")
        fop.poll(0.0)
        fop.on_clcw(clcw)
        assert fop.alerts == [alert] and fop.state is FopState.INITIAL and fop.poll(1.0) == []


def test_initiate_with_set_vr_and_with_unlock_send_a_bc_frame_until_confirmed() -> None:
    fop = Fop1(t1_s=1.0)
    fop.initiate(set_vr=200)
    fop.submit(b"x")
    (bc,) = fop.poll(0.0)
    assert bc.control and bc.data == set_vr_command(200) and fop.state is FopState.INITIALIZING_WITH_BC
    (again,) = fop.poll(1.0)  # no CLCW: the BC frame again
    assert again.control and again.retransmission
    fop.on_clcw(Clcw(report_value=200, farm_b_counter=1))
    assert fop.state is FopState.ACTIVE
    assert [(t.sequence_number, t.data) for t in fop.poll(1.1)] == [(200, b"x")]
    fop = Fop1()
    fop.initiate(unlock=True)
    assert fop.poll(0.0)[0].data == UNLOCK


def test_timeout_type_1_suspends_keeping_the_queue_and_resume_carries_on() -> None:
    fop = active(t1_s=1.0, transmission_limit=2, timeout_type=1)
    for n in range(3):
        fop.submit(bytes([n]))
    assert len(fop.poll(0.0)) == 3
    assert len(fop.poll(1.0)) == 3  # the second transmission
    assert fop.poll(2.0) == []  # the limit: Suspend, not an alert
    assert fop.suspended and fop.state is FopState.INITIAL and fop.alerts == []
    assert fop.summary()["suspended_state"] == "RETRANSMIT_WITHOUT_WAIT" and fop.summary()["suspends"] == 1
    fop.on_clcw(Clcw(report_value=1, retransmit=True))  # ignored while suspended
    assert fop.poll(10.0) == [] and len(fop.sent) == 3 and fop.nn_r == 0
    fop.resume(20.0)
    assert fop.state is FopState.RETRANSMIT_WITHOUT_WAIT and not fop.suspended and fop.deadline == 21.0
    fop.on_clcw(Clcw(report_value=1))  # a new acknowledgement: the count starts again
    assert [t.sequence_number for t in fop.poll(21.0)] == [1, 2]  # T1: go-back-N from N(R)
    fop.on_clcw(Clcw(report_value=3))
    assert fop.idle and fop.state is FopState.ACTIVE and fop.summary()["resumes"] == 1


def test_resume_is_refused_unless_suspended_and_initiate_or_terminate_clear_a_suspension() -> None:
    fop = active()
    try:
        fop.resume(0.0)
    except ValueError as exc:
        assert "not suspended" in str(exc)
    else:
        raise AssertionError("resume of an active FOP was accepted")
    fop = active(t1_s=1.0, transmission_limit=1, timeout_type=1)
    fop.submit(b"a")
    fop.poll(0.0)
    fop.poll(1.0)
    assert fop.suspended
    fop.terminate()
    assert not fop.suspended and fop.alerts == [Alert.TERM]
    fop = active(t1_s=1.0, transmission_limit=1, timeout_type=1)
    fop.submit(b"a")
    fop.poll(0.0)
    fop.poll(1.0)
    fop.initiate(set_vr=0)
    assert not fop.suspended and fop.state is FopState.INITIALIZING_WITH_BC


def test_timeout_type_0_still_alerts() -> None:
    fop = active(t1_s=1.0, transmission_limit=1)
    fop.submit(b"a")
    fop.poll(0.0)
    fop.poll(1.0)
    assert fop.alerts == [Alert.T1] and not fop.suspended and not fop.sent
