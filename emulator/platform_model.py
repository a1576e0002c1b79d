"""Power, thermal and attitude models of the probe: plausible housekeeping that evolves with time.

Deliberately simple first-order physics, deterministic so tests can predict
it: the solar array delivers current in sunlight only; the battery integrates
array minus load current; bus voltage follows the state of charge; the camera
detector and the electronics relax towards a target temperature that depends
on what the probe is doing; the attitude quaternion integrates the body rates.
Injected faults (ground training) push values across the database limits:
BATTERY_DRAIN adds a large load, HEATER_STUCK_ON drives the detector hot,
ATTITUDE_TUMBLE spins the probe up, LINK_CONGESTION inflates the reported
downlink queue.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from emulator.attitude import quat_multiply

BATTERY_CAPACITY_AH = 20.0
ARRAY_CURRENT_SUN_A = 3.2
LOAD_BASE_A = 2.0
LOAD_IMAGING_A = 0.8
LOAD_DRAIN_FAULT_A = 18.0
LOAD_SAFE_A = 1.2
DETECTOR_TAU_S = 300.0
ELECTRONICS_TAU_S = 900.0
TUMBLE_RATE_DEG_S = 2.0
TUMBLE_SPIN_UP_DEG_S2 = 0.01
RATE_DAMPING_PER_S = 0.05
CONGESTION_EXTRA_PACKETS = 950


@dataclass(frozen=True)
class ScenarioSnapshot:
    """Where the probe is, as the scenario/geometry engineer computes it (geocentric ICRF, km)."""

    position_km: tuple[float, float, float]
    velocity_km_s: tuple[float, float, float]
    earth_distance_km: float
    moon_distance_km: float
    in_eclipse: bool = False


ScenarioInfo = Callable[[float], ScenarioSnapshot]


def cruise_scenario(tai: float) -> ScenarioSnapshot:
    """A stand-in trajectory for tests and for running without the geometry: a slow outbound drift."""
    t = tai - 2.1e9
    position = (1.2e6 + 0.8 * t, 3.0e5 + 0.2 * t, -5.0e4)
    moon = (3.84e5 * math.cos(t * 2.66e-6), 3.84e5 * math.sin(t * 2.66e-6), 0.0)
    earth_distance = math.dist(position, (0.0, 0.0, 0.0))
    return ScenarioSnapshot(
        position_km=position,
        velocity_km_s=(0.8, 0.2, 0.0),
        earth_distance_km=earth_distance,
        moon_distance_km=math.dist(position, moon),
        in_eclipse=False,
    )


@dataclass
class PlatformModel:
    """The physical state of the probe; :meth:`step` advances it by ``dt`` seconds."""

    battery_soc_percent: float = 85.0
    array_current_a: float = ARRAY_CURRENT_SUN_A
    detector_temp_c: float = -10.0
    electronics_temp_c: float = 20.0
    quaternion: np.ndarray = field(default_factory=lambda: np.array([1.0, 0.0, 0.0, 0.0]))
    rates_deg_s: np.ndarray = field(default_factory=lambda: np.zeros(3))
    fault: str = "NONE"

    @property
    def bus_voltage_v(self) -> float:
        """Battery-dominated bus: 24 V empty to 29 V full (limits at 26/25 V match SoC 40/20 %)."""
        return 24.0 + 0.05 * self.battery_soc_percent

    def load_current_a(self, mode: str, imaging: bool) -> float:
        load = LOAD_SAFE_A if mode == "SAFE" else LOAD_BASE_A
        if imaging:
            load += LOAD_IMAGING_A
        if self.fault == "BATTERY_DRAIN":
            load += LOAD_DRAIN_FAULT_A
        return load

    def detector_target_c(self, imaging: bool) -> float:
        if self.fault == "HEATER_STUCK_ON":
            return 60.0
        return 15.0 if imaging else -10.0

    def step(self, dt: float, *, in_eclipse: bool, imaging: bool, mode: str) -> None:
        if dt <= 0:
            return
        self.array_current_a = 0.0 if in_eclipse else ARRAY_CURRENT_SUN_A
        net = self.array_current_a - self.load_current_a(mode, imaging)
        soc = self.battery_soc_percent + net * dt / 3600.0 / BATTERY_CAPACITY_AH * 100.0
        self.battery_soc_percent = min(100.0, max(0.0, soc))
        self.detector_temp_c = _relax(
            self.detector_temp_c, self.detector_target_c(imaging), dt, DETECTOR_TAU_S
        )
        electronics_target = 20.0 + (5.0 if imaging else 0.0) - (12.0 if in_eclipse else 0.0)
        self.electronics_temp_c = _relax(self.electronics_temp_c, electronics_target, dt, ELECTRONICS_TAU_S)
        self._step_attitude(dt)

    def _step_attitude(self, dt: float) -> None:
        if self.fault == "ATTITUDE_TUMBLE":
            x = min(TUMBLE_RATE_DEG_S, self.rates_deg_s[0] + TUMBLE_SPIN_UP_DEG_S2 * dt)
            self.rates_deg_s = np.array([x, 0.3 * x, 0.0])
        else:
            self.rates_deg_s = self.rates_deg_s * math.exp(-RATE_DAMPING_PER_S * dt)
        omega = np.radians(self.rates_deg_s)
        rate = float(np.linalg.norm(omega))
        if rate > 0:
            half = 0.5 * rate * dt
            axis = omega / rate
            dq = np.array([math.cos(half), *(math.sin(half) * axis)])
            self.quaternion = quat_multiply(self.quaternion, dq)
            self.quaternion /= np.linalg.norm(self.quaternion)


def _relax(value: float, target: float, dt: float, tau: float) -> float:
    return target + (value - target) * math.exp(-dt / tau)
