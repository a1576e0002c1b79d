"""The ground station's CFDP replies under their own SA (SPI 3, TC VC 1): taken on board by a probe that
requires SDLS, refused there when sent in clear, never sent in clear by a secured station, ARSNs kept
across a station restart."""

from __future__ import annotations

import logging
from pathlib import Path

from emulator.tc_reception import Rejection, TcReception
from groundstation.cfdp_uplink import CFDP_TC_VIRTUAL_CHANNEL, CfdpUplink
from groundstation.fault_log import FaultLog
from groundstation.link_security import UplinkSecurity
from protocols.capture.zmq_framing import Layer
from protocols.packets.space_packet import SpacePacket
from protocols.sdls import Reason
from protocols.sdls.keystore import CFDP_SPI, CFDP_TC_VCID, generate, load_context, save_arsn

SCID = 437


def station_uplink(keys: Path, sent: list[tuple[Layer, bytes]], faults: FaultLog) -> CfdpUplink:
    context = load_context(keys, "station-uplink")
    security = UplinkSecurity(context, SCID, save=lambda ctx: save_arsn(keys, "station-uplink", ctx))
    return CfdpUplink(lambda layer, unit: sent.append((layer, unit)), SCID, faults, security)


def test_secured_cfdp_replies_are_taken_on_board_and_clear_ones_refused(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    generate(keys)
    assert CFDP_TC_VCID == CFDP_TC_VIRTUAL_CHANNEL
    probe = TcReception(SCID, 0, load_context(keys, "probe"))
    faults = FaultLog(logging.getLogger("test"))
    sent: list[tuple[Layer, bytes]] = []
    uplink = station_uplink(keys, sent, faults)
    pdus = [bytes([n]) * (20 + n) for n in range(5)]
    for pdu in pdus:
        uplink.send(pdu)
    assert uplink.sent == 5 and len(sent) == 5
    for (layer, unit), pdu in zip(sent, pdus, strict=True):
        assert pdu not in unit  # encrypted
        taken = probe.receive(layer, unit)
        assert isinstance(taken, bytes) and SpacePacket.unpack(taken)[0].data == pdu
    assert probe.security.arsn[CFDP_SPI] == 5
    # the same replies again (a replay), and a reply in clear: refused by reason, nothing on board
    assert probe.receive(*sent[0]).reason is Reason.REPLAYED
    clear: list[tuple[Layer, bytes]] = []
    CfdpUplink(lambda layer, unit: clear.append((layer, unit)), SCID, faults).send(pdus[0])
    assert isinstance(refused := probe.receive(*clear[0]), Rejection) and refused.reason is Reason.BAD_SPI
    # a station started again continues above the last ARSN it sent
    again: list[tuple[Layer, bytes]] = []
    station_uplink(keys, again, faults).send(b"after a restart")
    assert SpacePacket.unpack(probe.receive(*again[0]))[0].data == b"after a restart"
    assert probe.security.arsn[CFDP_SPI] == 6


def test_a_reply_that_cannot_be_secured_is_a_fault_never_sent_in_clear(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    generate(keys)
    faults = FaultLog(logging.getLogger("test"))
    sent: list[tuple[Layer, bytes]] = []
    uplink = station_uplink(keys, sent, faults)
    uplink.security.context.stop(CFDP_SPI)  # no operational SA on TC VC 1
    uplink.send(b"a NAK")
    assert sent == [] and uplink.sent == 0
    assert faults.counts["CFDP reply not secured"] == 1
