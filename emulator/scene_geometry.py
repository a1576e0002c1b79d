"""What the geometry hands to the renderer: bodies as seen from the camera.

Conventions used across the emulator (and in the truth JSON):

* Camera frame: +z along the boresight, +x toward increasing column (right in
  the image), +y toward increasing row (down in the image). Right-handed.
* Pixel coordinates ``(u, v)`` = (column, row) with the centre of the top-left
  pixel at (0, 0); a W x H detector spans u in [-0.5, W-0.5].
* Distances in km, angles in degrees in files and radians in code.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np


@dataclass(frozen=True)
class BodyView:
    """One body (Earth or Moon) as the camera sees it at the capture instant."""

    name: str  # "earth" | "moon"
    centre_cam_km: np.ndarray  # apparent (light-time corrected) centre in the camera frame, km
    radius_km: float  # mean radius used for rendering (equatorial for the Earth)
    polar_radius_km: float  # polar radius; equal to radius_km for a sphere
    sun_dir_cam: np.ndarray  # unit vector, body centre → Sun, in the camera frame
    sun_distance_km: float  # body–Sun distance (sets the irradiance)
    body_to_cam: np.ndarray  # 3x3 rotation: body-fixed (IAU) vectors → camera frame (for textures)
    phase_angle_deg: float  # Sun–body–probe angle

    @property
    def range_km(self) -> float:
        return float(np.linalg.norm(self.centre_cam_km))

    @property
    def angular_radius_rad(self) -> float:
        return float(np.arcsin(min(1.0, self.radius_km / self.range_km)))


@dataclass(frozen=True)
class SceneGeometry:
    """Everything geometric about one exposure."""

    epoch_utc: datetime
    bodies: tuple[BodyView, ...]
    probe_position_km: np.ndarray  # probe position, geocentric ICRF (GCRS-aligned), km
    cam_to_icrf: np.ndarray  # 3x3 rotation camera frame → ICRF
    sun_dir_cam: np.ndarray  # unit vector probe → Sun in the camera frame

    def body(self, name: str) -> BodyView:
        for b in self.bodies:
            if b.name == name:
                return b
        raise KeyError(name)
