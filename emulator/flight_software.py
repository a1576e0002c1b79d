"""The probe's on-board software as a library: telecommand handling, housekeeping, events.

No sockets and no wall clock: the process that hosts it (wired by the lead)
passes TC packets to :meth:`FlightSoftware.handle_telecommand`, calls
:meth:`FlightSoftware.tick` with the on-board TAI time, and sends whatever
packets they return. Everything mission-specific (packet layouts,
calibrations, limits, event and command definitions) comes from the mission
database; nothing here knows an offset.

Telecommand path, as PUS service 1 wants it: every TC gets an acceptance
report (1,1 or 1,2 with a :class:`FailureCode`) and, once accepted, a
completion report (1,7 or 1,8). Success reports follow the TC's
acknowledgement flags; failure reports are always sent. The on-board checks
(PEC, length, command identity, argument types and ranges, mode) are made
again here, independently of the ground, so a raw TC that bypassed ground
validation is still refused.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from emulator.platform_model import PlatformModel, ScenarioInfo, ScenarioSnapshot, cruise_scenario
from protocols.errors import DecodeError
from protocols.mdb.mission_db import CommandDef, EventDef, FieldDef, MissionDatabase
from protocols.packets.space_packet import SequenceCounter
from protocols.pus.pus_services import (
    ACK_ACCEPTANCE,
    ACK_COMPLETION,
    LAYER_PEC,
    ConnectionTestSubtype,
    FailureCode,
    HousekeepingSubtype,
    RequestId,
    Service,
    TcPacket,
    TimeCorrelation,
    TimeSubtype,
    VerificationSubtype,
    pack_event,
    pack_hk_report,
    pack_tm,
    pack_verification,
    request_id_of,
    unpack_function_id,
    unpack_tc,
)

log = logging.getLogger(__name__)

AUTO_EXPOSURE_US = 2000  # what the camera reports for automatic exposure unless told otherwise
READOUT_S = 1.0  # camera busy time per image beyond its exposure
SA_COMMANDS = ("SDLS_START_SA", "SDLS_STOP_SA", "SDLS_REKEY_SA", "SDLS_SET_ARSN", "SDLS_READ_ARSN")
POWER_FDIR_PARAMETERS = ("BATTERY_SOC", "BUS_VOLTAGE")  # red on these sends the probe to SAFE


@dataclass(frozen=True)
class ImageRequest:
    """What TAKE_IMAGE asks of the camera; ``exposure_s`` None means automatic exposure."""

    image_ids: tuple[int, ...]
    target: str
    exposure_s: float | None
    count: int
    tai: float


@dataclass(frozen=True)
class LinkStatus:
    frames_sent: int = 0
    queue_depth: int = 0


class CommandFailure(Exception):
    """Raised by an executor: the command was accepted but could not be completed."""

    def __init__(self, code: FailureCode, reason: str) -> None:
        super().__init__(reason)
        self.code = code


class _Rejected(Exception):
    def __init__(self, code: FailureCode, reason: str) -> None:
        super().__init__(reason)
        self.code = code


class FlightSoftware:
    """On-board software of the probe.

    ``scenario_info(tai)`` gives position, velocity, ranges and eclipse;
    ``clock()`` gives on-board TAI seconds for telecommand time stamps;
    ``on_take_image(request)`` asks the camera for images and may return the
    exposures it used (seconds, one per image); ``link_status()`` reports the
    downlink; ``on_downlink_image(image_id)`` queues an image for downlink.
    A callback that raises makes the command fail its completion (1,8).
    """

    def __init__(
        self,
        mdb: MissionDatabase,
        scenario_info: ScenarioInfo | None = None,
        clock: Callable[[], float] | None = None,
        on_take_image: Callable[[ImageRequest], Sequence[float] | None] | None = None,
        link_status: Callable[[], LinkStatus] | None = None,
        on_downlink_image: Callable[[int], None] | None = None,
        initial_mode: str = "CRUISE",
        security_status: Callable[[], dict[str, Any]] | None = None,
        sa_management: Callable[[str, dict[str, Any]], dict[str, Any]] | None = None,
    ) -> None:
        self.mdb = mdb
        self._scenario = scenario_info or cruise_scenario
        self._clock = clock
        self._on_take_image = on_take_image
        self._link_status = link_status or LinkStatus
        self._on_downlink_image = on_downlink_image
        self._security_status = security_status or no_security_status
        # SECURITY_HK only from a host that reports on its TC reception (the probe), not from a bare FSW
        self._silent = (
            set() if security_status else {p.structure_id for p in mdb.packets if p.name == "SECURITY_HK"}
        )
        self.platform = PlatformModel()
        self.mode = initial_mode
        self.commands_accepted = 0
        self.commands_rejected = 0
        self.image_counter = 0
        self.last_image_id = 0
        self.last_exposure_us = 0
        self.camera_busy_until = float("-inf")
        self.now = 0.0
        self._last_tick: float | None = None
        self._sequence = SequenceCounter()
        self._message_counter: dict[int, int] = {}
        self.periods = {p.structure_id: p.period_s for p in mdb.packets}
        self._next_due: dict[int, float] = {}
        self._limit_levels: dict[str, int] = {}
        self._snapshot: ScenarioSnapshot | None = None
        self._pending: list[bytes] = []
        self._executors: dict[str, Callable[[TcPacket, dict[str, Any]], list[bytes]]] = {
            "PING": self._ping,
            "SET_MODE": self._set_mode,
            "TAKE_IMAGE": self._take_image,
            "DOWNLINK_IMAGE": self._downlink_image,
            "SET_HK_RATE": self._set_hk_rate,
            "REQUEST_TIME_REPORT": self._time_report,
            "INJECT_FAULT": self._inject_fault,
        }
        self._sa_management = sa_management
        for name in SA_COMMANDS:
            if name in mdb.command_by_name:
                self._executors[name] = functools.partial(self._sa_command, name)

    # ------------------------------------------------------------------ time and housekeeping

    def _time(self) -> float:
        return self._clock() if self._clock is not None else self.now

    @property
    def camera_busy(self) -> bool:
        return self.now < self.camera_busy_until

    def tick(self, now_tai: float) -> list[bytes]:
        """Advance the models to ``now_tai`` and return the packets due: housekeeping, then events."""
        dt = 0.0 if self._last_tick is None else now_tai - self._last_tick
        self._last_tick = self.now = now_tai
        self._snapshot = self._scenario(now_tai)
        imaging = self.camera_busy or self.mode == "IMAGING"
        self.platform.step(dt, in_eclipse=self._snapshot.in_eclipse, imaging=imaging, mode=self.mode)
        out = self._pending
        self._pending = []
        values = self.engineering_values()
        for packet in self.mdb.packets:
            if packet.structure_id in self._silent:
                continue
            due = self._next_due.get(packet.structure_id, now_tai)
            if now_tai + 1e-9 >= due:
                out.append(self._housekeeping(packet.structure_id, values))
                period = self.periods[packet.structure_id]
                self._next_due[packet.structure_id] = (
                    due + period if due + period > now_tai else now_tai + period
                )
        out.extend(self._monitor_limits(values))
        return out

    def engineering_values(self) -> dict[str, Any]:
        """Every housekeeping parameter's current engineering value, by database name."""
        p = self.platform
        s = self._snapshot or self._scenario(self.now)
        link = self._link_status()
        queue = link.queue_depth + (61_000 if p.fault == "LINK_CONGESTION" else 0)
        q, r = p.quaternion, p.rates_deg_s
        return {
            "ONBOARD_TIME": self.now,
            "MODE": self.mode,
            "ACTIVE_FAULT": p.fault,
            "CAMERA_BUSY": self.camera_busy,
            "ATT_Q0": q[0], "ATT_Q1": q[1], "ATT_Q2": q[2], "ATT_Q3": q[3],
            "RATE_X": r[0], "RATE_Y": r[1], "RATE_Z": r[2],
            "BUS_VOLTAGE": p.bus_voltage_v,
            "BATTERY_SOC": p.battery_soc_percent,
            "SOLAR_ARRAY_CURRENT": p.array_current_a,
            "DETECTOR_TEMP": p.detector_temp_c,
            "ELECTRONICS_TEMP": p.electronics_temp_c,
            "CMD_ACCEPTED": self.commands_accepted & 0xFFFF,
            "CMD_REJECTED": self.commands_rejected & 0xFFFF,
            "POS_X": s.position_km[0], "POS_Y": s.position_km[1], "POS_Z": s.position_km[2],
            "VEL_X": s.velocity_km_s[0], "VEL_Y": s.velocity_km_s[1], "VEL_Z": s.velocity_km_s[2],
            "EARTH_DISTANCE": s.earth_distance_km,
            "MOON_DISTANCE": s.moon_distance_km,
            "IN_ECLIPSE": s.in_eclipse,
            "CAMERA_EXPOSURE": self.last_exposure_us,
            "IMAGE_COUNTER": self.image_counter & 0xFFFF,
            "LAST_IMAGE_ID": self.last_image_id,
            "FRAMES_SENT": link.frames_sent & 0xFFFFFFFF,
            "DOWNLINK_QUEUE": min(queue, 0xFFFF),
            **self._security_status(),
        }  # fmt: skip

    def _housekeeping(self, structure_id: int, values: dict[str, Any]) -> bytes:
        packet = self.mdb.packet_by_sid[structure_id]
        raw = [f.to_raw(values[f.name]) for f in packet.layout.values]
        body = pack_hk_report(structure_id, packet.layout.pack_raw(raw))
        return self._tm(packet.apid, Service.HOUSEKEEPING, HousekeepingSubtype.HK_REPORT, body, self.now)

    def _monitor_limits(self, values: dict[str, Any]) -> list[bytes]:
        """On-board monitoring: an event when a parameter gets worse; SAFE mode on a red power limit."""
        out: list[bytes] = []
        for _, f in self.mdb.parameters.values():
            if f.limits is None:
                continue
            seen = f.to_engineering(f.to_raw(values[f.name]))  # the value as the ground will see it
            level = f.limits.level(seen)
            before = self._limit_levels.get(f.name, 0)
            self._limit_levels[f.name] = level
            if level > before:
                out.append(
                    self._event("LIMIT_VIOLATION", f.parameter_id, ("NOMINAL", "YELLOW", "RED")[level], seen)
                )
            if level == 2 and before < 2 and f.name in POWER_FDIR_PARAMETERS and self.mode != "SAFE":
                out.extend(self._change_mode("SAFE"))
                out.append(self._event("SAFE_MODE_ENTERED", f.parameter_id))
        return out

    # ------------------------------------------------------------------ packets

    def _tm(self, apid: int, service: int, subtype: int, body: bytes, time: float) -> bytes:
        counter = self._message_counter.get(apid, 0)
        self._message_counter[apid] = (counter + 1) & 0xFFFF
        return pack_tm(
            apid, self._sequence.next(apid), service, subtype, max(time, 0.0), body, counter,
            self.mdb.destination_id,
        )  # fmt: skip

    def _event(self, name: str, *values: Any) -> bytes:
        event: EventDef = self.mdb.event_by_name[name]
        raw = [f.to_raw(v) for f, v in zip(event.layout.values, values, strict=True)]
        body = pack_event(event.event_id, event.layout.pack_raw(raw))
        return self._tm(self.mdb.apids["events"], Service.EVENT, event.subtype, body, self._time())

    def report_event(self, name: str, *values: Any) -> bytes:
        """An event packet raised outside the flight software (e.g. by the TC reception's security)."""
        return self._event(name, *values)

    def _verification(self, subtype: int, request_id: RequestId, code: FailureCode | None = None) -> bytes:
        body = pack_verification(subtype, request_id, code)
        return self._tm(self.mdb.apids["verification"], Service.VERIFICATION, subtype, body, self._time())

    # ------------------------------------------------------------------ telecommands

    def handle_telecommand(self, packet: bytes) -> list[bytes]:
        """Verify and execute one TC packet; returns verification reports, replies and events."""
        request_id = request_id_of(packet)
        try:
            tc, command, args = self._accept(packet)
        except _Rejected as rejection:
            self.commands_rejected += 1
            log.info("TC rejected: %s", rejection)
            out = []
            if request_id is not None:
                out.append(
                    self._verification(VerificationSubtype.ACCEPTANCE_FAILURE, request_id, rejection.code)
                )
            out.append(self._event("COMMAND_REJECTED", request_id.value if request_id else 0, rejection.code))
            return out
        self.commands_accepted += 1
        out = []
        flags = tc.header.ack_flags
        if flags & ACK_ACCEPTANCE:
            out.append(self._verification(VerificationSubtype.ACCEPTANCE_SUCCESS, tc.request_id))
        try:
            out.extend(self._executors[command.name](tc, args))
        except CommandFailure as failure:
            log.info("TC %s failed: %s", command.name, failure)
            out.append(
                self._verification(VerificationSubtype.COMPLETION_FAILURE, tc.request_id, failure.code)
            )
            return out
        if flags & ACK_COMPLETION:
            out.append(self._verification(VerificationSubtype.COMPLETION_SUCCESS, tc.request_id))
        return out

    def _accept(self, packet: bytes) -> tuple[TcPacket, CommandDef, dict[str, Any]]:
        try:
            tc = unpack_tc(packet)
        except DecodeError as exc:
            code = FailureCode.BAD_PEC if exc.layer == LAYER_PEC else FailureCode.MALFORMED
            raise _Rejected(code, str(exc)) from exc
        if tc.apid != self.mdb.apids["telecommand"]:
            raise _Rejected(FailureCode.UNKNOWN_COMMAND, f"no application at APID 0x{tc.apid:03X}")
        data = tc.app_data
        function_id = None
        if self.mdb.has_function_ids(tc.service, tc.subtype):
            try:
                function_id = unpack_function_id(data)
            except DecodeError as exc:
                raise _Rejected(FailureCode.MALFORMED, str(exc)) from exc
            data = data[2:]
        command = self.mdb.command_for(tc.service, tc.subtype, function_id)
        if command is None:
            raise _Rejected(
                FailureCode.UNKNOWN_COMMAND, f"no command {tc.service},{tc.subtype} function {function_id}"
            )
        layout = command.layout
        if len(data) != layout.length:
            raise _Rejected(
                FailureCode.MALFORMED, f"{command.name} takes {layout.length} octets, got {len(data)}"
            )
        raw = layout.unpack_raw(data)
        args = {}
        for f, value in zip(layout.values, raw, strict=True):
            args[f.name] = _check_onboard(command, f, value)
        if command.allowed_modes is not None and self.mode not in command.allowed_modes:
            raise _Rejected(FailureCode.WRONG_MODE, f"{command.name} is not allowed in {self.mode}")
        return tc, command, args

    def _change_mode(self, mode: str) -> list[bytes]:
        if mode == self.mode:
            return []
        before, self.mode = self.mode, mode
        if mode == "SAFE":
            self.camera_busy_until = float("-inf")
        return [self._event("MODE_CHANGED", before, mode)]

    # ------------------------------------------------------------------ executors

    def _ping(self, tc: TcPacket, args: dict[str, Any]) -> list[bytes]:
        return [
            self._tm(
                self.mdb.apids["housekeeping"], Service.TEST, ConnectionTestSubtype.PONG, b"", self._time()
            )
        ]

    def _set_mode(self, tc: TcPacket, args: dict[str, Any]) -> list[bytes]:
        return self._change_mode(args["MODE"])

    def _take_image(self, tc: TcPacket, args: dict[str, Any]) -> list[bytes]:
        if self.camera_busy:
            raise CommandFailure(FailureCode.EXECUTION_FAILED, "camera busy")
        count = args["COUNT"]
        ids = tuple(range(self.last_image_id + 1, self.last_image_id + 1 + count))
        requested = args["EXPOSURE_US"]
        request = ImageRequest(
            ids, args["TARGET"], requested / 1e6 if requested else None, count, self._time()
        )
        exposures: Sequence[float] | None = None
        if self._on_take_image is not None:
            try:
                exposures = self._on_take_image(request)
            except Exception as exc:  # the camera's failure is the command's failure, not ours
                raise CommandFailure(FailureCode.EXECUTION_FAILED, f"camera: {exc}") from exc
        out = []
        busy = 0.0
        for i, image_id in enumerate(ids):
            if exposures is not None and i < len(exposures):
                exposure_us = round(exposures[i] * 1e6)
            else:
                exposure_us = requested or AUTO_EXPOSURE_US
            busy += exposure_us / 1e6 + READOUT_S
            self.last_exposure_us = exposure_us
            out.append(self._event("IMAGE_CAPTURED", image_id, args["TARGET"], exposure_us))
        self.image_counter += count
        self.last_image_id = ids[-1]
        self.camera_busy_until = max(self.now, self._time()) + busy
        return out

    def _downlink_image(self, tc: TcPacket, args: dict[str, Any]) -> list[bytes]:
        image_id = args["IMAGE_ID"]
        if image_id > self.last_image_id:
            raise CommandFailure(FailureCode.EXECUTION_FAILED, f"no image {image_id} on board")
        if self._on_downlink_image is not None:
            try:
                self._on_downlink_image(image_id)
            except Exception as exc:
                raise CommandFailure(FailureCode.EXECUTION_FAILED, f"downlink: {exc}") from exc
        return [self._event("IMAGE_DOWNLINK_QUEUED", image_id)]

    def _set_hk_rate(self, tc: TcPacket, args: dict[str, Any]) -> list[bytes]:
        sid = args["STRUCTURE_ID"]
        if sid not in self.periods:
            raise CommandFailure(FailureCode.EXECUTION_FAILED, f"no housekeeping structure {sid}")
        self.periods[sid] = args["PERIOD_MS"] / 1000.0
        self._next_due[sid] = self.now
        return []

    def _time_report(self, tc: TcPacket, args: dict[str, Any]) -> list[bytes]:
        received = self._time()
        report = TimeCorrelation(args["GROUND_TAI_S"], received, self._time())
        return [self._tm(self.mdb.apids["housekeeping"], Service.TIME, TimeSubtype.TIME_CORRELATION_REPORT,
                         report.pack(), received)]  # fmt: skip

    def _sa_command(self, name: str, tc: TcPacket, args: dict[str, Any]) -> list[bytes]:
        """SDLS SA management: the host's security context does it; SA_STATUS reports the outcome."""
        if self._sa_management is None:
            raise CommandFailure(FailureCode.EXECUTION_FAILED, "no SDLS security associations on board")
        try:
            status = self._sa_management(name, args)
        except ValueError as exc:
            raise CommandFailure(FailureCode.EXECUTION_FAILED, str(exc)) from exc
        return [self._event("SA_STATUS", status["SPI"], status["STATE"], status["KEY_ID"], status["ARSN"])]

    def _inject_fault(self, tc: TcPacket, args: dict[str, Any]) -> list[bytes]:
        self.platform.fault = args["FAULT"]
        return [self._event("FAULT_INJECTED", args["FAULT"])]


def no_security_status() -> dict[str, Any]:
    """SECURITY_HK values of a probe without SDLS: nothing required, nothing counted."""
    counters = dict.fromkeys(
        ("TC_SA_SPI", "TC_SA_KEY_ID", "TC_SA_ARSN", "TC_FRAMES_ACCEPTED", "REJ_BAD_SPI", "REJ_BAD_MAC",
         "REJ_REPLAYED", "REJ_OUT_OF_WINDOW", "REJ_WRONG_LENGTH", "REJ_SA_NOT_OPERATIONAL",
         "REJ_UNAUTHENTICATED", "REJ_BAD_FRAME"), 0,
    )  # fmt: skip
    return {"SDLS_REQUIRED": False, "TC_SA_STATE": "NONE", **counters}


def _check_onboard(command: CommandDef, f: FieldDef, raw: int | float) -> Any:
    """The on-board argument check: raw value → engineering value, or a BAD_ARGUMENT rejection."""
    try:
        f.check_argument(raw)
    except ValueError as exc:
        raise _Rejected(FailureCode.BAD_ARGUMENT, f"{command.name} {f.name}: {exc}") from exc
    return f.to_engineering(raw)
