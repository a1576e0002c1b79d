"""On-board TC reception: what reaches the flight software with and without SDLS required."""

from __future__ import annotations

from emulator.tc_reception import EVENTS_PER_SECOND, Rejection, TcReception
from protocols.capture.zmq_framing import Layer
from protocols.coding.cltu import encode_cltu
from protocols.link.tc_frame import TcFrameEncoder
from protocols.sdls import Reason, SaKey, SecurityAssociation, SecurityContext

SCID = 437
PACKET = bytes.fromhex("1c9ac0000009") + b"0123456789"
KEY = SaKey(1, bytes(32))


def contexts() -> tuple[SecurityContext, SecurityContext]:
    sa = SecurityAssociation(1, "tc", 0, 1)
    return SecurityContext([sa], [KEY]), SecurityContext([sa], [KEY])


def test_without_sdls_frames_and_bare_packets_pass_as_before() -> None:
    rx = TcReception(SCID, 0)
    assert not rx.required
    assert rx.receive(Layer.PACKETS, PACKET) == PACKET
    assert rx.receive(Layer.CLTUS, encode_cltu(TcFrameEncoder(SCID, 0).frame(PACKET))) == PACKET
    assert (
        rx.receive(Layer.CLTUS, encode_cltu(TcFrameEncoder(SCID + 1, 0).frame(PACKET))).reason
        is Reason.BAD_FRAME
    )
    assert rx.status()["TC_FRAMES_ACCEPTED"] == 2 and rx.status()["REJ_BAD_FRAME"] == 1


def test_with_sdls_only_authenticated_frames_pass() -> None:
    ground, probe = contexts()
    saved = []
    rx = TcReception(SCID, 0, probe, on_accept=lambda ctx: saved.append(dict(ctx.arsn)))
    assert rx.required
    assert rx.receive(Layer.CLTUS, encode_cltu(ground.protect_tc(SCID, 0, 0, PACKET))) == PACKET
    assert saved == [{1: 1}]
    cases = {
        Reason.UNAUTHENTICATED: (Layer.PACKETS, PACKET),
        Reason.BAD_SPI: (Layer.CLTUS, encode_cltu(TcFrameEncoder(SCID, 0).frame(PACKET))),
        Reason.WRONG_LENGTH: (Layer.CLTUS, encode_cltu(ground.protect_tc(SCID, 0, 1, PACKET) + bytes(64))),
    }
    for reason, (layer, unit) in cases.items():
        result = rx.receive(layer, unit)
        assert isinstance(result, Rejection) and result.reason is reason
    other_vc = encode_cltu(TcFrameEncoder(SCID, 5).frame(PACKET))
    assert rx.receive(Layer.CLTUS, other_vc).reason is Reason.UNAUTHENTICATED  # no SA there: no way in
    truncated = encode_cltu(ground.protect_tc(SCID, 0, 2, PACKET)[:12])
    assert rx.receive(Layer.CLTUS, truncated).reason is Reason.WRONG_LENGTH
    status = rx.status()
    assert status["SDLS_REQUIRED"] and status["TC_SA_STATE"] == "OPERATIONAL" and status["TC_SA_ARSN"] == 1
    assert (status["REJ_UNAUTHENTICATED"], status["REJ_BAD_SPI"], status["REJ_WRONG_LENGTH"]) == (2, 1, 2)
    assert status["TC_FRAMES_ACCEPTED"] == 1


def test_a_flood_is_counted_in_full_but_evented_at_a_bounded_rate() -> None:
    _, probe = contexts()
    now = [100.0]
    rx = TcReception(SCID, 0, probe, clock=lambda: now[0])
    results = [rx.receive(Layer.PACKETS, PACKET) for _ in range(100)]
    assert sum(r.evented for r in results) == EVENTS_PER_SECOND
    now[0] += 1
    assert rx.receive(Layer.PACKETS, PACKET).evented
    assert rx.status()["REJ_UNAUTHENTICATED"] == 101


def test_sa_management_commands_through_the_flight_software() -> None:
    from emulator.flight_software import FlightSoftware
    from groundstation.commanding import CommandEncoder
    from protocols.mdb.mission_db import load_mission_db
    from protocols.pus.pus_services import unpack_tm

    mdb = load_mission_db()
    ground, probe = contexts()
    rx = TcReception(SCID, 0, probe)
    fsw = FlightSoftware(mdb, sa_management=rx.manage)
    bare = FlightSoftware(mdb)
    encoder = CommandEncoder(mdb)

    def subtypes(name: str, count: int, fsw: FlightSoftware = fsw, **args) -> list[tuple[int, int]]:
        return [(t.service, t.subtype) for t in map(unpack_tm, fsw.handle_telecommand(
            encoder.encode(name, args, count)))]  # fmt: skip

    assert subtypes("SDLS_STOP_SA", 1, SPI=1) == [(1, 1), (5, 1), (1, 7)]  # accepted, SA_STATUS, completed
    assert rx.receive(Layer.CLTUS, encode_cltu(ground.protect_tc(SCID, 0, 0, PACKET))).reason is (
        Reason.SA_NOT_OPERATIONAL
    )
    assert subtypes("SDLS_STOP_SA", 2, SPI=1) == [(1, 1), (1, 8)]  # already stopped: completion failure
    assert subtypes("SDLS_REKEY_SA", 3, SPI=1, KEY_ID=1, ARSN=7) == [(1, 1), (5, 1), (1, 7)]
    assert subtypes("SDLS_START_SA", 4, SPI=1) == [(1, 1), (5, 1), (1, 7)]
    assert probe.status(1).arsn == 7
    assert subtypes("SDLS_READ_ARSN", 5, SPI=9) == [(1, 1), (1, 8)]  # no such SA
    assert subtypes("SDLS_READ_ARSN", 6, bare, SPI=1) == [(1, 1), (1, 8)]  # no SDLS on board
