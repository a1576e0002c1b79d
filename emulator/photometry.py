"""Reflectance laws: how bright a surface element looks for given incidence, emission and phase.

All functions return the radiance factor I/F (radiance divided by the radiance of a
perfect white Lambertian screen at normal incidence, E/π), so that radiance = (I/F)·E/π.

* Earth: Lambert, I/F = A·μ0, plus an optically thin Rayleigh single-scattering layer.
* Moon: McEwen's lunar-Lambert law, I/F = A·[2L(α)·μ0/(μ0+μ) + (1−L(α))·μ0], with the
  phase weighting L(α) = 1 − 0.019α + 2.42e-4α² − 1.46e-6α³ (α in degrees), McEwen (1996),
  "A precise lunar photometric function", LPSC XXVII, 841 (the same cubic is USGS ISIS's
  LunarLambertMcEwen model and SONIC's "McEwenCubic").  L → Lommel–Seeliger at α = 0, so a
  full Moon is a flat disc; L → Lambert-like as α grows.
"""

from __future__ import annotations

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
