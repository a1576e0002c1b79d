"""The probe's housekeeping tells the truth about the scene: the camera's attitude, the velocity the
geometry implies, and the frames that have gone out (issue 15)."""

from __future__ import annotations

import dataclasses
import threading
from datetime import timedelta

import numpy as np
import pytest

from emulator.attitude import quat_to_dcm
from emulator.geometry import compute_geometry, probe_velocity_km_s
from emulator.probe import Probe, ProbeOptions
from emulator.scenario import load_scenario
from emulator.space_link import VC_REALTIME, CaduDownlink
from protocols.link.channel_file import preset
from protocols.mdb.mission_db import load_mission_db
from protocols.pus.pus_services import unpack_structure_id, unpack_tm

MDB = load_mission_db()


@pytest.fixture(scope="module")
def probe() -> Probe:
    return Probe(load_scenario("tianwen1-2020-07-27"), ProbeOptions(downlink="inproc://unused"), MDB)


def _hk(packet: bytes) -> dict[str, object]:
    tm = unpack_tm(packet)
    definition = MDB.packet_by_sid[unpack_structure_id(tm.app_data)]
    raw = definition.layout.unpack_raw(tm.app_data, 2)
    return {f.name: f.to_engineering(r) for f, r in zip(definition.layout.values, raw, strict=True)}


def test_attitude_quaternion_is_the_scene_pointing(probe: Probe) -> None:
    values = probe.fsw.engineering_values()
    q = np.array([values[f"ATT_Q{i}"] for i in range(4)])
    assert not np.allclose(q, [1.0, 0.0, 0.0, 0.0])  # not the identity the probe used to report
    geometry = compute_geometry(probe.scenario)
    icrf_to_body = quat_to_dcm(q)
    assert icrf_to_body @ geometry.cam_to_icrf == pytest.approx(np.eye(3), abs=1e-9)
    # and what the camera sees lies near its boresight (+z): the Earth-Moon pair is framed
    earth = icrf_to_body @ (geometry.cam_to_icrf @ geometry.body("earth").centre_cam_km)
    assert earth[2] > 0.9 * np.linalg.norm(earth)


def test_velocity_is_what_the_geometry_implies(probe: Probe) -> None:
    values = probe.fsw.engineering_values()
    velocity = np.array([values["VEL_X"], values["VEL_Y"], values["VEL_Z"]])
    assert np.linalg.norm(velocity) > 0.1  # Tianwen-1 keeps its phase angle as the Earth moves on
    assert velocity == pytest.approx(probe_velocity_km_s(probe.scenario), rel=1e-9)
    # the geocentric position moves by it over a minute, as the ephemeris has it
    scenario = probe.scenario
    later = dataclasses.replace(scenario, epoch_utc=scenario.epoch_utc + timedelta(seconds=60))
    moved = compute_geometry(later).probe_position_km - compute_geometry(scenario).probe_position_km
    assert moved / 60.0 == pytest.approx(velocity, rel=1e-3)


class _CountingStop:
    """A stop event that never sleeps (waiting moves a fake clock on) and fires after N sends."""

    def __init__(self, sends: int) -> None:
        self.left = sends
        self._event = threading.Event()
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        self.now += timeout or 0.0
        return self._event.is_set()

    def sent(self) -> None:
        self.left -= 1
        if self.left <= 0:
            self._event.set()


class _FakeDownlink:
    def __init__(self, stop: _CountingStop) -> None:
        self.stop = stop
        self.messages = 0
        self.octets = 0

    def send(self, layer, payload: bytes, stop=None) -> bool:
        self.messages += 1
        self.octets += len(payload)
        self.stop.sent()
        return True


def test_frames_sent_counts_the_frames_that_went_out() -> None:
    probe = Probe(load_scenario("tianwen1-2020-07-27"), ProbeOptions(downlink="inproc://unused"), MDB)
    config = preset()
    cadu_bits = config.cadu_length * 8
    stop = _CountingStop(sends=400)
    downlink = _FakeDownlink(stop)
    # one on-board second (the frame clock) every 100 frame times; nothing queued, so the link
    # idles: a few idle CADUs a second, the other frame times counted, housekeeping once a second
    link = CaduDownlink(downlink, config, rate_bps=100 * cadu_bits, clock=stop.clock)
    realtime: list[tuple[int, bytes]] = []
    submit = link.submit

    def recording_submit(vcid: int, packet: bytes) -> None:
        if vcid == VC_REALTIME:
            realtime.append((link.transmitter.counters.cadus, packet))
        submit(vcid, packet)

    link.submit = recording_submit  # type: ignore[method-assign]
    probe._link = link
    probe._loop(stop, None)  # type: ignore[arg-type]
    platform = [(cadus, _hk(p)) for cadus, p in realtime if unpack_structure_id(unpack_tm(p).app_data) == 3]
    assert len(platform) >= 10
    for cadus, values in platform:
        assert values["FRAMES_SENT"] == cadus  # what had gone out when the packet was made
    assert platform[0][1]["FRAMES_SENT"] == 1  # the first one too (the first idle CADU): not 0
    counts = [values["FRAMES_SENT"] for _, values in platform]
    assert counts == sorted(counts) and counts[-1] > counts[0]
    assert downlink.octets == link.transmitter.counters.cadus * config.cadu_length
    # the frame clock ran at the link rate while idle: housekeeping at its period of (fake) time
    assert abs(len(platform) - stop.now / probe.fsw.periods[3]) <= 2
    assert link.transmitter.frame_times == pytest.approx(100 * stop.now, abs=2)
