"""The on-board software: housekeeping at database rates, plausible physics, TC verification paths."""

from __future__ import annotations

import struct
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emulator.flight_software import FlightSoftware, LinkStatus
from emulator.platform_model import ScenarioSnapshot, cruise_scenario
from groundstation.commanding import CommandEncoder
from protocols.mdb.mission_db import load_mission_db
from protocols.pus.pus_services import (
    ACK_ACCEPTANCE,
    FailureCode,
    pack_function,
    pack_tc,
    unpack_event_id,
    unpack_structure_id,
    unpack_tm,
    unpack_verification,
)

MDB = load_mission_db()
T0 = 2.1e9
TC_APID = MDB.apids["telecommand"]


def make(**kwargs) -> tuple[FlightSoftware, list[float]]:
    now = [T0]
    fsw = FlightSoftware(MDB, clock=lambda: now[0], **kwargs)
    fsw.tick(T0)
    return fsw, now


def kinds(packets: list[bytes]) -> list[tuple[int, int]]:
    return [(unpack_tm(p).service, unpack_tm(p).subtype) for p in packets]


def verifications(packets: list[bytes]) -> list[tuple[int, int | None]]:
    out = []
    for p in packets:
        tm = unpack_tm(p)
        if tm.service == 1:
            report = unpack_verification(tm.subtype, tm.app_data)
            out.append((tm.subtype, report.failure_code))
    return out


def events(packets: list[bytes]) -> list[str]:
    return [
        MDB.event_by_id[unpack_event_id(unpack_tm(p).app_data)].name
        for p in packets
        if unpack_tm(p).service == 5
    ]


def command(name: str, count: int = 0, **arguments) -> bytes:
    return CommandEncoder(MDB).encode(name, arguments, count)


def run(fsw: FlightSoftware, now: list[float], seconds: float, step: float = 1.0) -> list[bytes]:
    out = []
    for _ in range(int(seconds / step)):
        now[0] += step
        out += fsw.tick(now[0])
    return out


def hk_counts(packets: list[bytes]) -> Counter:
    return Counter(unpack_structure_id(unpack_tm(p).app_data) for p in packets if unpack_tm(p).service == 3)


def test_housekeeping_at_database_rates_and_set_hk_rate() -> None:
    fsw, now = make()
    assert hk_counts(run(fsw, now, 20)) == {1: 20, 2: 2, 3: 10}
    out = fsw.handle_telecommand(command("SET_HK_RATE", STRUCTURE_ID=2, PERIOD_MS=2000))
    assert verifications(out) == [(1, None), (7, None)]
    # first report at the next tick (21 s), then every 2 s counted from the command (22, 24 … 40 s)
    assert hk_counts(run(fsw, now, 20))[2] == 11


def test_housekeeping_values_decode_to_the_model_state() -> None:
    fsw, now = make(link_status=lambda: LinkStatus(frames_sent=1234, queue_depth=17))
    now[0] += 10
    packets = fsw.tick(now[0])
    values = fsw.engineering_values()
    for p in packets:
        tm = unpack_tm(p)
        definition = MDB.packet_by_sid[unpack_structure_id(tm.app_data)]
        raw = definition.layout.unpack_raw(tm.app_data, 2)
        for f, r in zip(definition.layout.values, raw, strict=True):
            expected = values[f.name]
            if f.kind == "float" and f.bits == 32:
                expected = struct.unpack(">f", struct.pack(">f", expected))[0]
            got = f.to_engineering(r)
            assert got == pytest.approx(expected, abs=0.02) if isinstance(got, float) else got == expected
    assert values["FRAMES_SENT"] == 1234 and values["DOWNLINK_QUEUE"] == 17


def test_eclipse_lowers_array_current_and_charge() -> None:
    def eclipse(tai: float) -> ScenarioSnapshot:
        s = cruise_scenario(tai)
        return ScenarioSnapshot(s.position_km, s.velocity_km_s, s.earth_distance_km, s.moon_distance_km, True)

    fsw, now = make(scenario_info=eclipse)
    soc = fsw.platform.battery_soc_percent
    run(fsw, now, 600, step=60)
    assert fsw.platform.array_current_a == 0.0 and fsw.platform.battery_soc_percent < soc
    assert fsw.engineering_values()["ELECTRONICS_TEMP"] < 20.0


def test_detector_heats_while_imaging() -> None:
    fsw, now = make()
    cold = fsw.platform.detector_temp_c
    fsw.handle_telecommand(command("SET_MODE", MODE="IMAGING"))
    run(fsw, now, 600, step=10)
    assert fsw.platform.detector_temp_c > cold + 10


def test_heater_fault_crosses_limits_with_one_event_per_level() -> None:
    fsw, now = make()
    out = fsw.handle_telecommand(command("INJECT_FAULT", FAULT="HEATER_STUCK_ON"))
    assert "FAULT_INJECTED" in events(out)
    out = run(fsw, now, 3600, step=10)
    violations = [p for p in out if unpack_tm(p).service == 5 and unpack_event_id(unpack_tm(p).app_data) == 3]
    detector = MDB.parameter("DETECTOR_TEMP").parameter_id
    levels = [
        unpack_tm(p).app_data[4] for p in violations if int.from_bytes(unpack_tm(p).app_data[2:4]) == detector
    ]
    assert levels == [1, 2]  # yellow once, red once
    assert fsw.mode == "CRUISE"  # a hot detector is not a power emergency


def test_tumble_raises_rates() -> None:
    fsw, now = make()
    fsw.handle_telecommand(command("INJECT_FAULT", FAULT="ATTITUDE_TUMBLE"))
    run(fsw, now, 300, step=5)
    assert fsw.engineering_values()["RATE_X"] > 1.0
    q = fsw.platform.quaternion
    assert abs(sum(q * q) - 1.0) < 1e-9 and abs(q[0]) < 1.0


@pytest.mark.parametrize(
    ("packet", "code"),
    [
        (pack_tc(TC_APID, 1, 8, 1, pack_function(99, b"")), FailureCode.UNKNOWN_COMMAND),
        (pack_tc(TC_APID, 1, 200, 1, b""), FailureCode.UNKNOWN_COMMAND),
        (pack_tc(0x123, 1, 17, 1, b""), FailureCode.UNKNOWN_COMMAND),
        (pack_tc(TC_APID, 1, 8, 1, pack_function(2, b"\x00")), FailureCode.MALFORMED),
        (pack_tc(TC_APID, 1, 8, 1, b"\x00"), FailureCode.MALFORMED),
        (pack_tc(TC_APID, 1, 8, 1, pack_function(1, b"\x09")), FailureCode.BAD_ARGUMENT),  # no mode 9
        (pack_tc(TC_APID, 1, 9, 128, struct.pack(">d", float("nan"))), FailureCode.BAD_ARGUMENT),
        (pack_tc(TC_APID, 1, 17, 1, b"")[:-1] + b"\x00", FailureCode.BAD_PEC),
        (pack_tc(TC_APID, 1, 17, 1, b"")[:-3], FailureCode.MALFORMED),
    ],
)
def test_rejections_carry_their_failure_code(packet: bytes, code: FailureCode) -> None:
    fsw, _ = make()
    out = fsw.handle_telecommand(packet)
    assert verifications(out) == [(2, code)]
    assert events(out) == ["COMMAND_REJECTED"]
    assert fsw.commands_rejected == 1 and fsw.commands_accepted == 0


def test_success_reports_follow_ack_flags_failures_always_sent() -> None:
    fsw, _ = make()
    quiet = CommandEncoder(MDB).encode("PING", {}, 1, ack_flags=0)
    assert kinds(fsw.handle_telecommand(quiet)) == [(17, 2)]
    accept_only = CommandEncoder(MDB).encode("DOWNLINK_IMAGE", {"IMAGE_ID": 5}, 2, ack_flags=ACK_ACCEPTANCE)
    assert verifications(fsw.handle_telecommand(accept_only)) == [
        (1, None),
        (8, FailureCode.EXECUTION_FAILED),
    ]


def test_camera_failure_and_busy_camera_fail_completion() -> None:
    def broken_camera(request):
        raise RuntimeError("shutter stuck")

    fsw, _ = make(on_take_image=broken_camera)
    out = fsw.handle_telecommand(command("TAKE_IMAGE", TARGET="EARTH", EXPOSURE_US=0, COUNT=1))
    assert verifications(out) == [(1, None), (8, FailureCode.EXECUTION_FAILED)]
    fsw, _ = make(on_take_image=lambda request: [0.01] * request.count)
    out = fsw.handle_telecommand(command("TAKE_IMAGE", TARGET="BOTH", EXPOSURE_US=0, COUNT=3))
    assert verifications(out) == [(1, None), (7, None)] and events(out).count("IMAGE_CAPTURED") == 3
    assert fsw.last_exposure_us == 10_000 and fsw.camera_busy
    out = fsw.handle_telecommand(command("TAKE_IMAGE", 1, TARGET="EARTH", EXPOSURE_US=0, COUNT=1))
    assert verifications(out)[-1] == (8, FailureCode.EXECUTION_FAILED)


def test_downlink_of_a_stored_image() -> None:
    queued = []
    fsw, _ = make(on_downlink_image=queued.append)
    fsw.handle_telecommand(command("TAKE_IMAGE", TARGET="MOON", EXPOSURE_US=100, COUNT=1))
    out = fsw.handle_telecommand(command("DOWNLINK_IMAGE", 1, IMAGE_ID=1))
    assert verifications(out) == [(1, None), (7, None)] and queued == [1]
    assert events(out) == ["IMAGE_DOWNLINK_QUEUED"]


@given(st.binary(max_size=64))
def test_any_bytes_get_an_answer_never_an_exception(data: bytes) -> None:
    fsw = FlightSoftware(MDB, clock=lambda: T0)
    out = fsw.handle_telecommand(data)
    assert out and all(unpack_tm(p).service in (1, 5, 17) for p in out)
