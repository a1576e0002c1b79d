"""What a scenario says, once loaded: the probe's place, the pointing, the camera, the times.

:mod:`emulator.scenario` reads and checks the TOML into these values; :mod:`emulator.geometry`
computes from them. Neither needs the other's module to name them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from emulator.camera import CameraModel


@dataclass(frozen=True)
class ProbeSpec:
    """Where the probe is, as the file states it (resolved against the ephemeris per epoch)."""

    origin: str
    position_km: tuple[float, float, float] | None = None
    range_km: float | None = None
    ra_deg: float | None = None
    dec_deg: float | None = None
    phase_angle_deg: float | None = None
    out_of_plane_deg: float = 0.0


@dataclass(frozen=True)
class AttitudeSpec:
    """How the camera is pointed."""

    mode: str  # "target" | "quaternion"
    target: str | None = None
    q: tuple[float, float, float, float] | None = None
    up: str = "celestial-north"
    roll_deg: float = 0.0
    offset_deg: tuple[float, float] = (0.0, 0.0)


@dataclass(frozen=True)
class Scenario:
    """One imaging event: when, where the probe is, where it looks, and with what camera."""

    name: str
    title: str
    spacecraft: str
    mission: str
    camera_name: str
    description: str
    epoch_utc: datetime
    probe: ProbeSpec
    attitude: AttitudeSpec
    camera: CameraModel
    image_count: int = 1
    seed: int = 0
    interval_s: float = 60.0
    range_km: float = math.nan  # probe–Earth distance at the first image, filled in by load_scenario
    sensor: dict[str, Any] = field(default_factory=dict, compare=False)
    provenance: dict[str, str] = field(default_factory=dict, compare=False)
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    source_path: Path | None = None

    def epoch_of(self, image_index: int) -> datetime:
        """Capture instant of image ``image_index`` (0-based)."""
        if not 0 <= image_index < self.image_count:
            raise IndexError(f"image_index {image_index} outside 0..{self.image_count - 1}")
        return self.epoch_utc + timedelta(seconds=self.interval_s * image_index)
