"""COP-1 Type-A end to end over a lossy uplink and a lossy downlink, with the probe's own TC reception.

FOP-1 (ground) sends Type-AD frames as CLTUs; the uplink loses some and delays all; the probe's
TcReception (SDLS when keyed, then FARM-1) takes them; its CLCW comes back, delayed and sometimes
lost, as it would in a downlink frame's OCF. Every AD frame's data must reach the flight software
exactly once and in order.
"""

from __future__ import annotations

import random
from collections import deque

import pytest

from emulator.tc_reception import Sequenced, TcReception
from protocols.capture.zmq_framing import Layer
from protocols.coding.cltu import encode_cltu
from protocols.link.clcw import Clcw
from protocols.link.fop import Fop1, FopState
from protocols.link.tc_frame import TcFrame
from protocols.sdls import SaKey, SecurityAssociation, SecurityContext

SCID = 0x1B5
STEP_S = 0.05


def sdls_pair() -> tuple[SecurityContext, SecurityContext]:
    sa = SecurityAssociation(spi=1, link="tc", vcid=0, key_id=1, window=64)
    key = SaKey(1, bytes(range(32)))
    return SecurityContext([sa], [key]), SecurityContext([sa], [key])


def run_loop(loss_up: float, loss_down: float, seed: int, count: int, secured: bool, delay_steps: int = 4):
    rng = random.Random(seed)
    ground, probe = sdls_pair() if secured else (None, None)
    fop = Fop1(window=5, t1_s=1.0, transmission_limit=50)
    rx = TcReception(SCID, 0, probe)
    fop.initiate(set_vr=0)
    commands = [f"command {n}".encode() for n in range(count)]
    for c in commands:
        fop.submit(c)
    uplink: deque[tuple[int, bytes]] = deque()  # (arrival step, CLTU)
    downlink: deque[tuple[int, bytes]] = deque()  # (arrival step, CLCW octets)
    delivered, lost_up, lost_down, step = [], 0, 0, 0
    while not fop.idle and step < 20_000:
        now = step * STEP_S
        for t in fop.poll(now):
            if ground is not None:
                frame = ground.protect_tc(SCID, 0, t.sequence_number, t.data, bypass=t.control,
                                          control_command=t.control)  # fmt: skip
            else:
                frame = TcFrame(SCID, 0, t.sequence_number, t.data, bypass=t.control,
                                control_command=t.control).pack()  # fmt: skip
            if rng.random() < loss_up:
                lost_up += 1
            else:
                uplink.append((step + delay_steps, encode_cltu(frame)))
        while uplink and uplink[0][0] <= step:
            result = rx.receive(Layer.CLTUS, uplink.popleft()[1])
            if not isinstance(result, Sequenced):
                assert isinstance(result, bytes), result
                delivered.append(result)
        if rng.random() < loss_down:
            lost_down += 1
        else:
            downlink.append((step + delay_steps, rx.farm.clcw().pack()))
        while downlink and downlink[0][0] <= step:
            fop.on_clcw(Clcw.unpack(downlink.popleft()[1]))
        step += 1
    return fop, rx, commands, delivered, lost_up, lost_down


@pytest.mark.parametrize("secured", [False, True], ids=["clear", "sdls"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_ad_frame_arrives_once_and_in_order_over_lossy_links(secured: bool, seed: int) -> None:
    fop, rx, commands, delivered, lost_up, lost_down = run_loop(0.2, 0.3, seed, 120, secured)
    assert fop.alerts == [] and fop.state is FopState.ACTIVE and fop.idle
    assert delivered == commands  # once each, in order
    assert lost_up > 0 and lost_down > 0
    counts = fop.summary()
    assert counts["ad_frames_sent"] == 120 and counts["ad_frames_acknowledged"] == 120
    assert counts["ad_frames_retransmitted"] > 0
    farm = rx.farm.summary()["frames"]
    assert farm["accepted"] == 120 and farm["discarded-ahead"] > 0
    if secured:  # SDLS refused nothing: every retransmission went out with a fresh ARSN
        assert sum(rx.rejections.values()) == 0


def test_a_perfect_link_needs_no_retransmission() -> None:
    fop, rx, commands, delivered, *_ = run_loop(0.0, 0.0, 0, 50, secured=True)
    assert delivered == commands and "ad_frames_retransmitted" not in fop.summary()
    assert rx.farm.v_r == 50


def test_an_outage_suspends_fop_resume_completes_and_the_farm_reports_by_event() -> None:
    """No CLCW comes down for 10 s (a downlink outage; the uplink loses a frame now and then): FOP-1
    (Timeout_Type 1) retransmits by its timer up to the limit, then suspends instead of giving up its
    frames, and sends nothing more. After the outage the operator's Resume restarts it: the next CLCW
    acknowledges what the FARM took, the lost frames go again (go-back-N on the CLCW's retransmit
    flag and on T1) and every command arrives once and in order, under SDLS (each retransmission
    with a fresh ARSN). On board, each FARM change (the Set V(R), the gap that set the retransmit
    flag, the expected frame clearing it) was reported through ``on_farm_status`` (the probe's
    FARM_STATUS event)."""
    ground, probe = sdls_pair()
    statuses = []
    rx = TcReception(SCID, 0, probe, on_farm_status=statuses.append)
    fop = Fop1(window=5, t1_s=1.0, transmission_limit=3, timeout_type=1)
    fop.initiate(set_vr=0)
    commands = [f"command {n}".encode() for n in range(30)]
    for c in commands:
        fop.submit(c)
    outage = range(40, 240)  # steps (2 s .. 12 s)
    up: deque[tuple[int, bytes]] = deque()
    down: deque[tuple[int, bytes]] = deque()
    delivered, suspended_at, resumed_at, sent_while_suspended, transmissions = [], None, None, 0, 0
    for step in range(2000):
        now = step * STEP_S
        if fop.suspended and suspended_at is None:
            suspended_at = step
        if fop.suspended and step > outage[-1] + 20:  # the operator sees the link back, and resumes
            fop.resume(now)
            resumed_at = step
        out = fop.poll(now)
        sent_while_suspended += len(out) if fop.suspended else 0
        for t in out:
            frame = ground.protect_tc(SCID, 0, t.sequence_number, t.data, bypass=t.control,
                                      control_command=t.control)  # fmt: skip
            transmissions += 1
            if transmissions % 5 != 3:  # the uplink loses a frame now and then
                up.append((step + 2, encode_cltu(frame)))
        while up and up[0][0] <= step:
            result = rx.receive(Layer.CLTUS, up.popleft()[1])
            if not isinstance(result, Sequenced):
                assert isinstance(result, bytes), result
                delivered.append(result)
        if step not in outage:
            down.append((step + 2, rx.farm.clcw().pack()))
        while down and down[0][0] <= step:
            fop.on_clcw(Clcw.unpack(down.popleft()[1]))
        if fop.idle:
            break
    assert suspended_at is not None and suspended_at in outage and resumed_at is not None
    assert sent_while_suspended == 0 and fop.alerts == [] and fop.state is FopState.ACTIVE
    assert delivered == commands  # once each, in order
    counts = fop.summary()
    assert counts["suspends"] >= 1 and counts["resumes"] == counts["suspends"]
    assert counts["ad_frames_retransmitted"] > 0 and sum(rx.rejections.values()) == 0
    causes = [s.cause for s in statuses]
    assert causes[0] == "SET_VR" and "RETRANSMIT" in causes and "IN_SEQUENCE" in causes
    assert causes[1::2] == ["RETRANSMIT"] * len(causes[1::2])  # each gap set the flag,
    assert causes[2::2] == ["IN_SEQUENCE"] * len(causes[2::2])  # and the retransmission cleared it
    assert causes[-1] == "IN_SEQUENCE" and rx.farm.v_r == 30 and all(s.state.name == "OPEN" for s in statuses)


def test_farm_lockout_and_unlock_are_reported() -> None:
    statuses = []
    rx = TcReception(SCID, 0, on_farm_status=statuses.append)
    far = TcFrame(SCID, 0, 100, b"too far ahead", bypass=False).pack()
    assert isinstance(rx.receive(Layer.CLTUS, encode_cltu(far)), Sequenced)
    unlock = TcFrame(SCID, 0, 0, b"\x00", bypass=True, control_command=True).pack()
    rx.receive(Layer.CLTUS, encode_cltu(unlock))
    assert [(s.cause, s.state.name) for s in statuses] == [("LOCKOUT", "LOCKOUT"), ("UNLOCK", "OPEN")]
