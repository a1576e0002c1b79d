"""Sunlight in, electrons out: band-integrated solar photon flux and the camera's light grasp.

Band model
----------
The Sun is a 5772 K black body (IAU 2015 Resolution B3 nominal effective temperature)
scaled so that its total irradiance at 1 au is 1361 W/m² (IAU 2015 B3 nominal total
solar irradiance; Kopp & Lean 2011 measured 1360.8 ± 0.5 W/m²).  A sensor band is a
top-hat in wavelength with flat quantum efficiency inside it; the band's photon
irradiance is the black-body photon spectrum integrated over the top-hat.  The black
body misses the Fraunhofer structure (a few per cent over a broad band) and that is the
accuracy this model claims.

Chain, per pixel:  electrons = L_photon · A_aperture · Ω_pixel · t · QE · τ_optics,
with L_photon = (I/F) · E_photon / π the reflected photon radiance.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

AU_KM = 149_597_870.7
SOLAR_CONSTANT_W_M2 = 1361.0  # IAU 2015 B3 nominal total solar irradiance at 1 au
SUN_TEMPERATURE_K = 5772.0  # IAU 2015 B3 nominal solar effective temperature

_H = 6.626_070_15e-34  # Planck constant, J s
_C = 299_792_458.0  # speed of light, m/s
_K = 1.380_649e-23  # Boltzmann constant, J/K
_SIGMA = 5.670_374_419e-8  # Stefan–Boltzmann, W m^-2 K^-4

# Default f-number when a camera publishes no aperture diameter (typical of optical-navigation
# star-tracker-class optics, f/2.8–f/8); documented assumption.
DEFAULT_F_NUMBER = 4.0
# Default optics transmission (lenses + filter), an assumption when the scenario gives none.
DEFAULT_OPTICS_TRANSMISSION = 0.8


@dataclass(frozen=True)
class Band:
    """A top-hat spectral band."""

    name: str
    low_nm: float
    high_nm: float

    @property
    def centre_nm(self) -> float:
        return 0.5 * (self.low_nm + self.high_nm)


# Named bands: "pan" is an unfiltered silicon imager's useful range; the colour bands are
# the usual broad-band Bayer / filter-wheel passbands (EPIC's 443/551/680 nm narrow bands fall
# in blue/green/red).
BANDS: dict[str, Band] = {
    "pan": Band("pan", 400.0, 800.0),
    "blue": Band("blue", 430.0, 510.0),
    "green": Band("green", 510.0, 590.0),
    "red": Band("red", 590.0, 680.0),
    "nir": Band("nir", 700.0, 900.0),
    # DSCOVR EPIC's narrow visible channels (centre ± half FWHM: 443/2.6, 551/3.0, 680/1.6 nm;
    # NASA GSFC EPIC instrument page, Table 1): the real colour images are made from these.
    "epic443": Band("epic443", 441.7, 444.3),
    "epic551": Band("epic551", 549.5, 552.5),
    "epic680": Band("epic680", 679.2, 680.8),
}


BAND_ALIASES = {"panchromatic": "pan", "mono": "pan", "clear": "pan", "r": "red", "g": "green", "b": "blue"}


def band_named(name: str) -> Band:
    """Look a band up by name (or alias); unknown names raise a ValueError listing the known ones."""
    key = name.lower()
    try:
        return BANDS[BAND_ALIASES.get(key, key)]
    except KeyError:
        raise ValueError(f"band: unknown band {name!r}; known: {', '.join(sorted(BANDS))}") from None


def _planck_spectral_radiance(wavelength_m: np.ndarray, temperature_k: float) -> np.ndarray:
    """Black-body spectral radiance B_λ in W m^-2 sr^-1 m^-1."""
    x = _H * _C / (wavelength_m * _K * temperature_k)
    return 2.0 * _H * _C**2 / wavelength_m**5 / np.expm1(x)


@lru_cache(maxsize=64)
def _band_irradiance_at_1au(low_nm: float, high_nm: float) -> tuple[float, float]:
    """(energy W/m², photons /s/m²) of the scaled black-body Sun in a band, at 1 au."""
    wavelength = np.linspace(low_nm, high_nm, 801) * 1e-9
    spectral = _planck_spectral_radiance(wavelength, SUN_TEMPERATURE_K)
    # Scale so the black body integrates to the solar constant over all wavelengths.
    scale = SOLAR_CONSTANT_W_M2 / (_SIGMA * SUN_TEMPERATURE_K**4 / np.pi)
    energy = float(np.trapezoid(spectral, wavelength)) * scale
    photons = float(np.trapezoid(spectral * wavelength / (_H * _C), wavelength)) * scale
    return energy, photons


def band_irradiance_w_m2(band: Band, sun_distance_km: float) -> float:
    """Solar irradiance inside ``band`` at ``sun_distance_km`` from the Sun (W/m²)."""
    energy, _ = _band_irradiance_at_1au(band.low_nm, band.high_nm)
    return energy * (AU_KM / sun_distance_km) ** 2


def band_photon_irradiance(band: Band, sun_distance_km: float) -> float:
    """Solar photon irradiance inside ``band`` at ``sun_distance_km`` (photons s^-1 m^-2)."""
    _, photons = _band_irradiance_at_1au(band.low_nm, band.high_nm)
    return photons * (AU_KM / sun_distance_km) ** 2


def aperture_area_m2(
    aperture_diameter_m: float | None, focal_length_m: float | None, f_number: float = DEFAULT_F_NUMBER
) -> float:
    """Entrance-pupil area; with no published aperture, D = f / N with the assumed f-number."""
    if aperture_diameter_m is None:
        if focal_length_m is None:
            raise ValueError("camera: neither aperture_diameter_m nor focal_length_m is known")
        aperture_diameter_m = focal_length_m / f_number
    return float(np.pi * aperture_diameter_m**2 / 4.0)


def pixel_solid_angle_sr(fx: float, fy: float) -> float:
    """Solid angle one pixel subtends at the boresight; fx, fy are focal lengths in pixels."""
    return 1.0 / (fx * fy)


def electrons_per_photon_radiance(
    aperture_m2: float, pixel_sr: float, exposure_s: float, quantum_efficiency: float, transmission: float
) -> float:
    """Factor turning photon radiance (photons s^-1 m^-2 sr^-1) into collected electrons per pixel."""
    return aperture_m2 * pixel_sr * exposure_s * quantum_efficiency * transmission
