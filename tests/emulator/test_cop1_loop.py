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
