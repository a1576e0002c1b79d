"""Ground command → TC packet → flight software → TM → ground telemetry, all in one process."""

from __future__ import annotations

from collections import deque

import pytest

from emulator.flight_software import FlightSoftware, ImageRequest
from groundstation.commanding import CommandClient, CommandEncoder, CommandFailed, CommandState
from groundstation.telemetry import TelemetryProcessor
from protocols.coding.cltu import decode_cltu, encode_cltu
from protocols.link.tc_frame import TcFrame, TcFrameEncoder
from protocols.mdb.mission_db import load_mission_db
from protocols.pus.pus_services import FailureCode, pack_function, pack_tc

START_TAI = 2.1e9


class Loop:
    """Fake clock plus in-memory transport; the uplink goes through TC frames and CLTUs."""

    def __init__(self, step_s: float = 0.1) -> None:
        self.step_s = step_s
        self.mdb = load_mission_db()
        self.now = START_TAI
        self.images: list[ImageRequest] = []
        self.fsw = FlightSoftware(self.mdb, clock=lambda: self.now, on_take_image=self.images.append)
        self.downlink: deque[bytes] = deque()
        self.frames = TcFrameEncoder(self.mdb.spacecraft_id, self.mdb.tc_virtual_channel)
        self.telemetry = TelemetryProcessor(self.mdb)
        self.client = CommandClient(
            self.mdb, self.uplink, self.receive, self.telemetry, clock=lambda: self.now
        )
        self.downlink.extend(self.fsw.tick(self.now))

    def uplink(self, packet: bytes) -> None:
        cltu = encode_cltu(self.frames.frame(packet))
        frame = TcFrame.unpack(decode_cltu(cltu).data)
        self.downlink.extend(self.fsw.handle_telecommand(frame.data))

    def receive(self, timeout: float) -> bytes | None:
        if self.downlink:
            return self.downlink.popleft()
        self.now += self.step_s  # simulated time: nothing here waits for real
        self.downlink.extend(self.fsw.tick(self.now))
        return None


@pytest.fixture
def loop() -> Loop:
    return Loop()


def test_take_image_gives_acceptance_completion_and_the_image_event(loop: Loop) -> None:
    record = loop.client.send_and_assert_command(
        "TAKE_IMAGE", {"TARGET": "MOON", "EXPOSURE_US": 5000, "COUNT": 2}, timeout=5
    )
    assert [state for state, _ in record.transitions] == [
        CommandState.SENT, CommandState.ACCEPTED, CommandState.COMPLETED,
    ]  # fmt: skip
    captured = loop.telemetry.events("IMAGE_CAPTURED")
    assert [e.values["IMAGE_ID"] for e in captured] == [1, 2]
    assert all(e.values["TARGET"] == "MOON" and e.values["EXPOSURE_US"] == 5000 for e in captured)
    assert loop.images[0].image_ids == (1, 2) and loop.images[0].exposure_s == pytest.approx(0.005)
    assert loop.client.await_telemetry("IMAGE_COUNTER", lambda v: v == 2, timeout=5) == 2


def test_bad_argument_sent_raw_is_refused_on_board_with_its_code(loop: Loop) -> None:
    take = loop.mdb.command_by_name["TAKE_IMAGE"]
    arguments = take.layout.pack_raw([0, 1000, 200])  # COUNT 200: outside 1..16
    packet = pack_tc(loop.mdb.apids["telecommand"], 99, 8, 1, pack_function(take.function_id, arguments))
    record = loop.client.wait_for(loop.client.send_raw(packet), timeout=5)
    assert record.state is CommandState.REJECTED
    assert record.failure_code == FailureCode.BAD_ARGUMENT
    event = loop.client.await_event("COMMAND_REJECTED", timeout=5)
    assert event.values["FAILURE_CODE"] == FailureCode.BAD_ARGUMENT
    assert loop.client.await_telemetry("CMD_REJECTED", lambda v: v == 1, timeout=5) == 1


def test_ping_gets_17_2(loop: Loop) -> None:
    loop.client.send_and_assert_command("PING", timeout=5)
    assert loop.telemetry.counters["pong"] == 1


def test_wrong_mode_is_refused_and_send_and_assert_raises(loop: Loop) -> None:
    loop.client.send_and_assert_command("SET_MODE", {"MODE": "SAFE"}, timeout=5)
    with pytest.raises(CommandFailed) as failure:
        loop.client.send_and_assert_command(
            "TAKE_IMAGE", {"TARGET": "EARTH", "EXPOSURE_US": 0, "COUNT": 1}, 5
        )
    assert failure.value.record.failure_code == FailureCode.WRONG_MODE
    assert loop.telemetry.events("MODE_CHANGED")[-1].values == {"FROM_MODE": "CRUISE", "TO_MODE": "SAFE"}


def test_corrupted_pec_is_refused_as_bad_pec(loop: Loop) -> None:
    packet = bytearray(CommandEncoder(loop.mdb).encode("PING", {}, 7))
    packet[-1] ^= 0xFF
    record = loop.client.wait_for(loop.client.send_raw(bytes(packet)), timeout=5)
    assert record.state is CommandState.REJECTED and record.failure_code == FailureCode.BAD_PEC


def test_fault_injection_drives_limits_and_safe_mode() -> None:
    loop = Loop(step_s=30.0)
    loop.client.send_and_assert_command("INJECT_FAULT", {"FAULT": "BATTERY_DRAIN"}, timeout=5)
    loop.client.await_telemetry("MODE", lambda m: m == "SAFE", timeout=4 * 3600)
    levels = [(a.parameter, a.current) for a in loop.telemetry.alarms if a.parameter == "BATTERY_SOC"]
    assert levels[:2] == [("BATTERY_SOC", "YELLOW"), ("BATTERY_SOC", "RED")]
    assert loop.telemetry.events("SAFE_MODE_ENTERED")


def test_time_correlation_report_echoes_ground_time(loop: Loop) -> None:
    loop.client.send_and_assert_command("REQUEST_TIME_REPORT", {"GROUND_TAI_S": loop.now - 5.0}, timeout=5)
    report, _ = loop.telemetry.time_reports[-1]
    assert report.ground_tai == loop.now - 5.0
    assert report.onboard_receive == pytest.approx(loop.now, abs=1e-4)
