"""Optical blur: Gaussian or Airy point-spread functions, pixel-integrated and flux-normalised.

Kernels are integrated over the pixel area (the detector samples the blurred image by
integrating over each pixel), truncated at a finite radius and renormalised to sum 1, so
the convolution conserves total flux; light that the blur carries past the frame edge is
lost, as on a real detector.  The Airy pattern is the diffraction image of a circular
aperture, I ∝ [2 J1(x)/x]², x = π r / (λ N), first dark ring at r = 1.22 λ N.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

_AIRY_FIRST_ZERO_X = 3.831_705_970_207_512  # first zero of J1
_AIRY_OVERSAMPLE = 8
_ERF = np.frompyfunc(math.erf, 1, 1)


@dataclass(frozen=True)
class PsfModel:
    """A PSF in pixel units: Gaussian ``sigma_px`` or Airy first dark-ring radius ``first_zero_px``."""

    kind: str  # "gaussian" | "airy"
    sigma_px: float = 0.0
    first_zero_px: float = 0.0

    @classmethod
    def airy(cls, wavelength_nm: float, f_number: float, pixel_pitch_m: float) -> PsfModel:
        return cls("airy", first_zero_px=1.219_67 * wavelength_nm * 1e-9 * f_number / pixel_pitch_m)

    @property
    def radius_px(self) -> int:
        """Half-width of the truncated kernel."""
        if self.kind == "gaussian":
            return max(1, math.ceil(4.0 * self.sigma_px) + 1)
        return int(np.clip(math.ceil(10.0 * self.first_zero_px), 3, 48))


def _gaussian_profile(sigma: float, radius: int, offset: float) -> np.ndarray:
    edges = np.arange(-radius, radius + 2) - 0.5 - offset
    cdf = np.array([0.5 * math.erf(e / (sigma * math.sqrt(2.0))) for e in edges])
    return np.diff(cdf)


def bessel_j1(x: np.ndarray) -> np.ndarray:
    """J1 by Bessel's integral (1/π)∫₀^π cos(τ − x sin τ) dτ; the midpoint rule is spectrally exact here."""
    x = np.asarray(x, dtype=float)
    nodes = max(64, int(np.max(np.abs(x), initial=0.0)) + 48)
    tau = (np.arange(nodes) + 0.5) * (np.pi / nodes)
    flat = x.reshape(-1)
    out = np.empty_like(flat)
    for start in range(0, flat.size, 4096):
        chunk = flat[start : start + 4096, None]
        out[start : start + 4096] = np.cos(tau[None, :] - chunk * np.sin(tau)[None, :]).mean(axis=1)
    return out.reshape(x.shape)


def airy_intensity(r_px: np.ndarray, first_zero_px: float) -> np.ndarray:
    """Normalised Airy pattern, 1 at the centre."""
    x = _AIRY_FIRST_ZERO_X * np.asarray(r_px, dtype=float) / first_zero_px
    safe = np.where(x == 0.0, 1.0, x)
    return np.where(x == 0.0, 1.0, (2.0 * bessel_j1(safe) / safe) ** 2)


def psf_kernel(model: PsfModel, offset_u: float = 0.0, offset_v: float = 0.0) -> np.ndarray:
    """Pixel-integrated PSF centred at (offset_u, offset_v) from the central pixel; sums to 1."""
    radius = model.radius_px
    if model.kind == "gaussian":
        if model.sigma_px <= 0.0:
            kernel = np.zeros((2 * radius + 1,) * 2)
            kernel[radius, radius] = 1.0
            return kernel
        kernel = np.outer(
            _gaussian_profile(model.sigma_px, radius, offset_v),
            _gaussian_profile(model.sigma_px, radius, offset_u),
        )
    elif model.kind == "airy":
        n = _AIRY_OVERSAMPLE
        fine = (np.arange((2 * radius + 1) * n) + 0.5) / n - radius - 0.5
        fx, fy = np.meshgrid(fine - offset_u, fine - offset_v)
        intensity = airy_intensity(np.hypot(fx, fy), model.first_zero_px)
        size = 2 * radius + 1
        kernel = intensity.reshape(size, n, size, n).sum(axis=(1, 3))
    else:
        raise ValueError(f"psf.kind: unknown PSF kind {model.kind!r} (use 'gaussian' or 'airy')")
    return kernel / kernel.sum()


def _fast_length(n: int) -> int:
    """Smallest 2^a 3^b 5^c ≥ n (FFT-friendly size)."""
    best = 1 << (n - 1).bit_length()
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            p = p35
            while p < n:
                p *= 2
            best = min(best, p)
            p35 *= 3
        p5 *= 5
    return best


@lru_cache(maxsize=2)
def _kernel_spectrum(
    octets: bytes, dtype: str, kernel_shape: tuple[int, ...], shape: tuple[int, int]
) -> np.ndarray:
    """``rfft2`` of a kernel padded to ``shape``, kept for the next frame: the kernel and
    the padded size are the same from frame to frame of a pass (a second of a 1024x1024 frame's
    three transforms; the transform of the same numbers is the same numbers)."""
    kernel = np.frombuffer(octets, dtype=dtype).reshape(kernel_shape).copy()
    spectrum = np.fft.rfft2(kernel, shape)
    spectrum.flags.writeable = False
    return spectrum


def convolve(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Linear ('same'-size) convolution by FFT; what spills past the image edge is dropped."""
    kh, kw = kernel.shape
    h, w = image.shape
    shape = (_fast_length(h + kh - 1), _fast_length(w + kw - 1))
    spectrum = np.fft.rfft2(image, shape) * _kernel_spectrum(
        kernel.tobytes(), kernel.dtype.str, kernel.shape, shape
    )
    full = np.fft.irfft2(spectrum, shape)
    r, c = kh // 2, kw // 2
    return full[r : r + h, c : c + w]


def convolve_regions(image: np.ndarray, kernel: np.ndarray, boxes: list[tuple[int, int, int, int]]) -> None:
    """Blur ``image`` in place where it has light: the union of ``boxes`` grown by the kernel radius."""
    if not boxes:
        return
    radius = kernel.shape[0] // 2
    h, w = image.shape
    r0 = max(min(b[0] for b in boxes) - radius, 0)
    r1 = min(max(b[1] for b in boxes) + radius, h)
    c0 = max(min(b[2] for b in boxes) - radius, 0)
    c1 = min(max(b[3] for b in boxes) + radius, w)
    image[r0:r1, c0:c1] = convolve(image[r0:r1, c0:c1], kernel)


def _gaussian_kernels(sigma: float, radius: int, offsets_u: np.ndarray, offsets_v: np.ndarray) -> np.ndarray:
    """``psf_kernel`` of a Gaussian at many sub-pixel offsets at once, (n, k, k), bit for bit the same."""
    base = np.arange(-radius, radius + 2) - 0.5
    scale = sigma * math.sqrt(2.0)
    edges = np.concatenate([base[None, :] - offsets_v[:, None], base[None, :] - offsets_u[:, None]])
    cdf = _ERF(edges / scale).astype(float) * 0.5  # math.erf itself, element by element
    profiles = np.diff(cdf, axis=1)
    n = offsets_u.size
    kernels = profiles[:n, :, None] * profiles[n:, None, :]
    sums = kernels.reshape(n, -1).sum(axis=1)  # per-kernel pairwise sum, as kernel.sum()
    return kernels / sums[:, None, None]


def add_point_sources(
    image: np.ndarray, us: list[float], vs: list[float], fluxes: list[float], model: PsfModel | None
) -> None:
    """``add_point_source`` for each source in order; Gaussian kernels are computed in one batch."""
    if model is None or model.kind != "gaussian" or model.sigma_px <= 0.0 or len(us) < 2:
        for u, v, flux in zip(us, vs, fluxes, strict=True):
            add_point_source(image, u, v, flux, model)
        return
    centres_u = [round(u) for u in us]
    centres_v = [round(v) for v in vs]
    offsets_u = np.array([u - cu for u, cu in zip(us, centres_u, strict=True)], dtype=float)
    offsets_v = np.array([v - cv for v, cv in zip(vs, centres_v, strict=True)], dtype=float)
    kernels = _gaussian_kernels(model.sigma_px, model.radius_px, offsets_u, offsets_v)
    values = kernels * np.asarray(fluxes, dtype=float)[:, None, None]  # each kernel * its flux
    h, w = image.shape
    radius = kernels.shape[1] // 2
    span = np.arange(kernels.shape[1]) - radius
    rows = np.asarray(centres_v)[:, None, None] + span[None, :, None]
    cols = np.asarray(centres_u)[:, None, None] + span[None, None, :]
    rows, cols = np.broadcast_arrays(rows, cols)
    on = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)  # clipped to the image
    # ufunc.at adds in index order, sources one after the other: a pixel that two kernels share
    # gets the same two additions in the same order as the source-by-source loop.  Flat indices
    # into a contiguous image take numpy's one-dimensional path (several times faster).
    if image.flags.c_contiguous:
        np.add.at(image.reshape(-1), rows[on] * w + cols[on], values[on])
    else:
        np.add.at(image, (rows[on], cols[on]), values[on])


def _deposit(image: np.ndarray, kernel: np.ndarray, cu: int, cv: int) -> None:
    """Add ``kernel`` centred on pixel (cu, cv), clipped to the image."""
    h, w = image.shape
    radius = kernel.shape[0] // 2
    rr0, cc0 = cv - radius, cu - radius
    sr0, sc0 = max(0, -rr0), max(0, -cc0)
    sr1 = kernel.shape[0] - max(0, rr0 + kernel.shape[0] - h)
    sc1 = kernel.shape[1] - max(0, cc0 + kernel.shape[1] - w)
    if sr0 >= sr1 or sc0 >= sc1:
        return
    image[rr0 + sr0 : rr0 + sr1, cc0 + sc0 : cc0 + sc1] += kernel[sr0:sr1, sc0:sc1]


def add_point_source(image: np.ndarray, u: float, v: float, flux: float, model: PsfModel | None) -> None:
    """Deposit ``flux`` at sub-pixel (u, v): through the PSF, or bilinearly split when ``model`` is None."""
    h, w = image.shape
    if model is None:
        c0, r0 = math.floor(u), math.floor(v)
        fu, fv = u - c0, v - r0
        for dr, dc, share in (
            (0, 0, (1 - fu) * (1 - fv)),
            (0, 1, fu * (1 - fv)),
            (1, 0, (1 - fu) * fv),
            (1, 1, fu * fv),
        ):
            rr, cc = r0 + dr, c0 + dc
            if 0 <= rr < h and 0 <= cc < w:
                image[rr, cc] += flux * share
        return
    cu, cv = round(u), round(v)
    _deposit(image, psf_kernel(model, u - cu, v - cv) * flux, cu, cv)
