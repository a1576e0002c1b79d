"""Reflectance laws: how bright a surface element looks for given incidence, emission and phase.

All functions return the radiance factor I/F (radiance divided by the radiance of a
perfect white Lambertian screen at normal incidence, E/π), so that radiance = (I/F)·E/π.

Textbook laws (used as they are when albedo maps are switched off, the analytic reference):

* Earth: Lambert, I/F = A·μ0, plus an optically thin Rayleigh single-scattering layer.
* Moon: McEwen's lunar-Lambert law, I/F = A·[2L(α)·μ0/(μ0+μ) + (1−L(α))·μ0], with the
  phase weighting L(α) = 1 − 0.019α + 2.42e-4α² − 1.46e-6α³ (α in degrees), McEwen (1996),
  "A precise lunar photometric function", LPSC XXVII, 841 (the same cubic is USGS ISIS's
  LunarLambertMcEwen model and SONIC's "McEwenCubic").  L → Lommel–Seeliger at α = 0, so a
  full Moon is a flat disc; L → Lambert-like as α grows.

Calibrated photometry (the default for rendered scenes): the same limb and terminator
shapes, multiplied by a phase function g(α) chosen so that the disc-integrated brightness
follows the published V-band phase curves exactly (for a disc of average albedo):

* Earth, Mallama & Hilton (2018), "Computing apparent planetary magnitudes for The
  Astronomical Almanac", Astronomy and Computing 25, 10 (arXiv:1808.01973), Eq. 5, from
  the earthshine photometry of Goode et al. (2001) and Qiu et al. (2003) as reduced by
  Mallama (2009, Icarus 204, 11):  V = 5 log10(r·Δ) − 3.99 − 1.060e-3 α + 2.054e-4 α²
  (r, Δ in au, α in degrees).  V(1,0) = −3.99 gives a geometric albedo of 0.43 (Mallama &
  Hilton quote 0.434).  The curve is strongly backscattering: at 90° the Earth is 0.236 of
  its full-phase brightness, where a Lambert sphere keeps 0.318.  The same coefficients are
  in Stellarium's and Skyfield's planetary-magnitude code (checked against both).
* Moon, the empirical law of Allen's Astrophysical Quantities (3rd ed., p. 144), also used
  by Krisciunas & Schaefer (1991, PASP 103, 1033):  V = −12.73 + 0.026|α| + 4e-9 α⁴ at the
  mean distance (384,400 km) and 1 au, i.e. V(1,0) = +0.21 (geometric albedo 0.12).  Its
  steep linear term near zero phase is the opposition surge as the law fits it (0.026 mag
  per degree: the full Moon is 30 % brighter than at 10°); no further surge is added.

Inside the disc the Earth's uncalibrated reflectance is: surface Lambert (Blue Marble
albedo) and ocean sun glint (Cox & Munk 1954 slope statistics for a 7 m/s wind, Fresnel
reflectance of water, Schlick's approximation) where the sky is clear; clouds (cover 0.67,
albedo 0.6) reflecting half Lambert, half Lommel–Seeliger, which keeps the limb bright at
low phase as real cloud decks do; all attenuated by and topped with the Rayleigh layer.
g(α) then carries the phase dependence the disc-integrated curve needs (backscatter from
cloud droplets and the glory, which a local law does not model), tabulated by numerical
disc integration for a disc of global-mean albedo, cloud cover and open ocean.  A textured
disc therefore departs from the curve by its own brightness, as the real Earth does
(Mallama's residuals are about ±0.1 mag with cloud and the hemisphere seen).

Colour (per-band geometric albedo, relative to V, linear in wavelength between nodes):
the Earth is blue (Rayleigh scattering and the oceans; EPOXI disc spectra, Livengood et al.
2011, Astrobiology 11, 907, fall by about a third from 450 to 650 nm) and the Moon red
(its reflectance rises about 40 % from 450 to 750 nm; the Moon's B−V = 0.92 against the
Sun's 0.65 gives 0.78 at 440 nm).  Both tables are our reading of those sources, good to
about 10 %.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

MCEWEN_L_COEFFS = (1.0, -0.019, 2.42e-4, -1.46e-6)  # L(α) polynomial in α (degrees)


def lambert(albedo: np.ndarray | float, mu0: np.ndarray) -> np.ndarray:
    """Lambertian radiance factor; zero on the night side (μ0 ≤ 0)."""
    return albedo * np.maximum(mu0, 0.0)


def lunar_lambert_weight(phase_deg: float) -> float:
    """McEwen's L(α); clipped to [0, 1] beyond the cubic's fitted range (α ≲ 140°)."""
    a = float(phase_deg)
    c0, c1, c2, c3 = MCEWEN_L_COEFFS
    return float(np.clip(c0 + a * (c1 + a * (c2 + a * c3)), 0.0, 1.0))


def lunar_lambert(
    albedo: np.ndarray | float, mu0: np.ndarray, mu: np.ndarray, phase_deg: float
) -> np.ndarray:
    """Lunar-Lambert radiance factor, zero where the surface is unlit or faces away."""
    weight = lunar_lambert_weight(phase_deg)
    lit = np.maximum(mu0, 0.0)
    seen = np.maximum(mu, 1e-9)
    return albedo * (2.0 * weight * lit / (lit + seen) + (1.0 - weight) * lit)


def rayleigh_optical_depth(wavelength_nm: float) -> float:
    """Vertical Rayleigh optical depth of the Earth's atmosphere at sea-level pressure.

    Hansen & Travis (1974) fit, τ = 0.008569 λ⁻⁴ (1 + 0.0113 λ⁻² + 0.00013 λ⁻⁴), λ in µm;
    0.097 at 550 nm (Bodhaine et al. 1999 give 0.100 at 555 nm).
    """
    lam = wavelength_nm / 1000.0
    return 0.008569 * lam**-4 * (1.0 + 0.0113 * lam**-2 + 0.00013 * lam**-4)


def rayleigh_single_scatter(mu0: np.ndarray, mu: np.ndarray, cos_phase: float, tau: float) -> np.ndarray:
    """Radiance factor of a thin, conservatively scattering Rayleigh layer (single scattering).

    I/F = P(Θ)/4 · μ0/(μ0+μ) · [1 − exp(−τ(1/μ0 + 1/μ))], with the Rayleigh phase function
    P = 3/4 (1 + cos²Θ) and scattering angle Θ = 180° − α.  It brightens the limb, which is
    what gives the Earth its blue rim.
    """
    lit = np.maximum(mu0, 1e-6)
    seen = np.maximum(mu, 1e-6)
    phase_function = 0.75 * (1.0 + cos_phase**2)
    slant = 1.0 - np.exp(-tau * (1.0 / lit + 1.0 / seen))
    return np.where(mu0 > 0.0, 0.25 * phase_function * lit / (lit + seen) * slant, 0.0)


def surface_transmission(mu0: np.ndarray, mu: np.ndarray, tau: float) -> np.ndarray:
    """Fraction of surface-reflected light that survives the Rayleigh layer both ways.

    Half of the scattered light is taken to stay in the beam (forward hemisphere), so the
    effective extinction is τ/2 on each leg: a documented simplification of two-stream transfer.
    """
    lit = np.maximum(mu0, 1e-6)
    seen = np.maximum(mu, 1e-6)
    return np.exp(-0.5 * tau * (1.0 / lit + 1.0 / seen))


def lambert_sphere_phase_integral(phase_deg: float) -> float:
    """Disc-integrated phase function Φ(α) of a Lambert sphere, Φ(0) = 1.

    Φ(α) = [sin α + (π − α) cos α] / π; a sphere of albedo A has geometric albedo 2A/3.
    Used to check the numerically integrated unresolved-body flux.
    """
    a = np.radians(phase_deg)
    return float((np.sin(a) + (np.pi - a) * np.cos(a)) / np.pi)


# ---------------------------------------------------------------------------------------------
# Published disc-integrated phase curves (V band) and the calibration that follows them.

AU_KM = 149_597_870.7
SUN_V_MAG = -26.76  # apparent V magnitude of the Sun at 1 au (Willmer 2018, ApJS 236, 47)
EARTH_RADIUS_KM = 6371.0  # mean radius, for magnitudes and albedos
MOON_RADIUS_KM = 1737.4
EARTH_V10 = -3.99  # Mallama & Hilton (2018) Eq. 5
EARTH_PHASE_COEFFS = (-1.060e-3, 2.054e-4)  # α, α² (α in degrees), magnitudes
MOON_MEAN_DISTANCE_KM = 384_400.0
MOON_V_MEAN_DISTANCE = -12.73  # Allen (3rd ed.), full Moon at the mean distance and 1 au
MOON_PHASE_COEFFS = (0.026, 4.0e-9)  # |α|, α⁴
MOON_V10 = MOON_V_MEAN_DISTANCE - 5.0 * np.log10(MOON_MEAN_DISTANCE_KM / AU_KM)  # +0.22

# Spectral geometric albedo relative to V (551 nm), linear in wavelength between the nodes.
EARTH_SPECTRAL_RATIO = (
    (400.0, 1.45),
    (443.0, 1.35),
    (470.0, 1.27),
    (551.0, 1.0),
    (635.0, 0.9),
    (680.0, 0.88),
    (800.0, 0.95),
    (900.0, 0.95),
)
MOON_SPECTRAL_RATIO = (
    (400.0, 0.72),
    (443.0, 0.78),
    (551.0, 1.0),
    (680.0, 1.18),
    (800.0, 1.35),
    (900.0, 1.45),
)

GLINT_WIND_M_S = 7.0
GLINT_SLOPE_VARIANCE = 0.003 + 5.12e-3 * GLINT_WIND_M_S  # Cox & Munk (1954), isotropic
WATER_FRESNEL_R0 = 0.02  # normal-incidence reflectance of sea water (n ≈ 1.34)
CLOUD_LOMMEL_SEELIGER_WEIGHT = 0.5


def earth_phase_magnitude(phase_deg: float | np.ndarray) -> float | np.ndarray:
    """Mallama & Hilton's phase term, magnitudes fainter than full phase."""
    a = np.abs(phase_deg)
    return EARTH_PHASE_COEFFS[0] * a + EARTH_PHASE_COEFFS[1] * a * a


def moon_phase_magnitude(phase_deg: float | np.ndarray) -> float | np.ndarray:
    """Allen's lunar phase term, magnitudes fainter than full Moon."""
    a = np.abs(phase_deg)
    return MOON_PHASE_COEFFS[0] * a + MOON_PHASE_COEFFS[1] * a**4


def phase_function(body: str, phase_deg: float | np.ndarray) -> float | np.ndarray:
    """Disc-integrated phase function Φ(α), Φ(0) = 1, of the published V-band law."""
    term = earth_phase_magnitude(phase_deg) if body == "earth" else moon_phase_magnitude(phase_deg)
    return 10.0 ** (-0.4 * term)


def geometric_albedo_from_absolute_magnitude(h_v: float, radius_km: float) -> float:
    """p = 10^(−0.4(H − V_sun)) · (1 au / R)²: the disc at 1 au seen at 1 au and zero phase."""
    return float(10.0 ** (-0.4 * (h_v - SUN_V_MAG)) * (AU_KM / radius_km) ** 2)


EARTH_GEOMETRIC_ALBEDO_V = geometric_albedo_from_absolute_magnitude(EARTH_V10, EARTH_RADIUS_KM)  # 0.43
MOON_GEOMETRIC_ALBEDO_V = geometric_albedo_from_absolute_magnitude(MOON_V10, MOON_RADIUS_KM)  # 0.12


def apparent_v_magnitude(body: str, sun_distance_km: float, range_km: float, phase_deg: float) -> float:
    """Published V magnitude of the Earth or the Moon at the given distances and phase angle."""
    h = EARTH_V10 if body == "earth" else MOON_V10
    distance_term = 5.0 * np.log10(sun_distance_km / AU_KM * range_km / AU_KM)
    return float(h + distance_term + phase_function_magnitude(body, phase_deg))


def phase_function_magnitude(body: str, phase_deg: float) -> float:
    return float(earth_phase_magnitude(phase_deg) if body == "earth" else moon_phase_magnitude(phase_deg))


def spectral_ratio(body: str, wavelength_nm: np.ndarray | float) -> np.ndarray:
    """Geometric albedo at a wavelength relative to V (see the module docstring)."""
    table = EARTH_SPECTRAL_RATIO if body == "earth" else MOON_SPECTRAL_RATIO
    nodes = np.array([n for n, _ in table])
    values = np.array([v for _, v in table])
    return np.interp(wavelength_nm, nodes, values)


def band_geometric_albedo(body: str, low_nm: float, high_nm: float) -> float:
    """Geometric albedo in a top-hat band: p_V times the band's mean spectral ratio."""
    p_v = EARTH_GEOMETRIC_ALBEDO_V if body == "earth" else MOON_GEOMETRIC_ALBEDO_V
    wavelengths = np.linspace(low_nm, high_nm, 33)
    return float(p_v * spectral_ratio(body, wavelengths).mean())


def sun_glint(mu0: np.ndarray, mu: np.ndarray, cos_half_phase: float) -> np.ndarray:
    """Radiance factor of a wind-roughened sea (Cox–Munk), I/F = π ρ(ω) p(β) / (4 μ cos⁴β).

    β is the tilt of the facet that mirrors the Sun into the camera, cos β = (μ0+μ)/(2 cos(α/2)),
    p the isotropic Gaussian slope density, ρ Fresnel reflectance at the facet incidence α/2.
    """
    return _glint(np.maximum(mu0, 0.0), np.maximum(mu, 1e-3), mu0 > 0.0, cos_half_phase)


def earth_reflectance(
    surface: np.ndarray | float,
    cloud: np.ndarray | float,
    ocean: np.ndarray | float,
    mu0: np.ndarray,
    mu: np.ndarray,
    phase_deg: float,
    tau: float,
    cloud_albedo: float,
) -> np.ndarray:
    """The Earth's uncalibrated radiance factor (see the module docstring); g(α) multiplies it."""
    # The terms of sun_glint, surface_transmission and rayleigh_single_scatter, written out so
    # that what they share (the clipped cosines, the day-side mask, the two-way air mass) is
    # computed once: the same operations on the same operands, so the same numbers
    # (tests/emulator/test_photometry.py compares with the three functions).
    lit = np.maximum(mu0, 0.0)
    seen = np.maximum(mu, 1e-6)
    day = mu0 > 0.0
    clear = 1.0 - cloud
    w = CLOUD_LOMMEL_SEELIGER_WEIGHT
    cloud_term = cloud_albedo * (w * 2.0 * lit / (lit + seen) + (1.0 - w) * lit)
    glint = _glint(lit, np.maximum(mu, 1e-3), day, float(np.cos(np.radians(phase_deg) / 2.0)))
    reflected = clear * (surface * lit + ocean * glint) + cloud * cloud_term
    if tau > 0.0:
        lit_6 = np.maximum(mu0, 1e-6)
        air_mass = 1.0 / lit_6 + 1.0 / seen
        reflected = reflected * np.exp(-0.5 * tau * air_mass)
        phase_function = 0.75 * (1.0 + float(np.cos(np.radians(phase_deg))) ** 2)
        slant = 1.0 - np.exp(-tau * air_mass)
        reflected = reflected + np.where(day, 0.25 * phase_function * lit_6 / (lit_6 + seen) * slant, 0.0)
    return reflected


def _glint(lit: np.ndarray, seen: np.ndarray, day: np.ndarray, cos_half_phase: float) -> np.ndarray:
    """:func:`sun_glint` given its clipped cosines and the day-side mask."""
    cos_beta = np.clip((lit + seen) / (2.0 * max(cos_half_phase, 1e-6)), 1e-3, 1.0)
    square = cos_beta**2
    tan2 = (1.0 - square) / square
    density = np.exp(-tan2 / GLINT_SLOPE_VARIANCE) / (np.pi * GLINT_SLOPE_VARIANCE)
    fresnel = WATER_FRESNEL_R0 + (1.0 - WATER_FRESNEL_R0) * (1.0 - cos_half_phase) ** 5
    return np.where(day, np.pi * fresnel * density / (4.0 * seen * cos_beta**4), 0.0)


def disc_average(reflectance, phase_deg: float, n: int = 200) -> float:
    """(1/π)∫ I/F dA over the unit disc seen from far away: p·Φ(α) of a sphere obeying ``reflectance``.

    ``reflectance(mu0, mu)`` takes arrays; the Sun lies in the x–z plane at ``phase_deg``.
    """
    grid = (np.arange(n) + 0.5) / n * 2.0 - 1.0
    x, y = np.meshgrid(grid, grid)
    inside = x * x + y * y < 1.0
    x, y = x[inside], y[inside]
    z = np.sqrt(1.0 - x * x - y * y)
    a = np.radians(phase_deg)
    mu0 = x * np.sin(a) + z * np.cos(a)
    values = np.where(mu0 > 0.0, reflectance(mu0, z), 0.0)
    return float(values.sum() * (2.0 / n) ** 2 / np.pi)


_CALIBRATION_PHASES = np.arange(0.0, 180.5, 2.0)
_MAX_GAIN = 8.0  # beyond ~170° the model's crescent vanishes faster than the laws: cap the gain


@lru_cache(maxsize=64)
def _earth_gain_table(
    p_band: float, tau: float, surface_mean: float, ocean_clear: float, cover: float, cloud_albedo: float
) -> np.ndarray:
    gains = []
    for phase in _CALIBRATION_PHASES:

        def model(mu0, mu, phase=phase):
            return earth_reflectance(
                surface_mean, cover, ocean_clear / max(1.0 - cover, 1e-6), mu0, mu, phase, tau, cloud_albedo
            )

        k = disc_average(model, phase)
        target = p_band * phase_function("earth", phase)
        gains.append(min(target / k, _MAX_GAIN) if k > 0.0 else _MAX_GAIN)
    return np.array(gains)


def earth_gain(
    phase_deg: float,
    p_band: float,
    tau: float,
    surface_mean: float,
    ocean_clear: float,
    cover: float,
    cloud_albedo: float,
) -> float:
    """g(α) that makes the average Earth's disc follow Mallama's curve with geometric albedo p_band."""
    table = _earth_gain_table(
        round(p_band, 6),
        round(tau, 6),
        round(surface_mean, 6),
        round(ocean_clear, 6),
        round(cover, 6),
        round(cloud_albedo, 6),
    )
    return float(np.interp(abs(phase_deg), _CALIBRATION_PHASES, table))


@lru_cache(maxsize=1)
def _lunar_lambert_disc_table() -> np.ndarray:
    return np.array(
        [disc_average(lambda mu0, mu, a=a: lunar_lambert(1.0, mu0, mu, a), a) for a in _CALIBRATION_PHASES]
    )


def moon_gain(phase_deg: float, p_band: float) -> float:
    """g(α) that makes a lunar-Lambert disc of unit albedo follow the lunar law with albedo p_band."""
    k = float(np.interp(abs(phase_deg), _CALIBRATION_PHASES, _lunar_lambert_disc_table()))
    target = p_band * float(phase_function("moon", phase_deg))
    return min(target / k, _MAX_GAIN * p_band) if k > 0.0 else 0.0
