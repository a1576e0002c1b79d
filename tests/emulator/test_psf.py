"""PSF kernels: flux conservation, centring, Airy ring position, Bessel function."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from emulator.psf import (
    PsfModel,
    add_point_source,
    add_point_sources,
    bessel_j1,
    convolve,
    convolve_regions,
    psf_kernel,
)


def test_bessel_j1_matches_tabulated_values() -> None:
    # Abramowitz & Stegun table 9.1 values.
    x = np.array([0.5, 1.0, 2.0, 10.0])
    reference = np.array([0.2422684577, 0.4400505857, 0.5767248078, 0.0434727462])
    assert np.allclose(bessel_j1(x), reference, atol=1e-9)
    assert abs(bessel_j1(np.array([3.831705970207512]))[0]) < 1e-9


@given(sigma=st.floats(0.7, 3.0), du=st.floats(-0.5, 0.5), dv=st.floats(-0.5, 0.5))
def test_gaussian_kernel_sums_to_one_and_is_centred(sigma: float, du: float, dv: float) -> None:
    # Below σ ≈ 0.6 px pixel integration biases the centroid toward the pixel centre
    # ("pixel locking", a real effect the kernel reproduces), so the bound starts at 0.7 px.
    kernel = psf_kernel(PsfModel("gaussian", sigma_px=sigma), du, dv)
    radius = kernel.shape[0] // 2
    offsets = np.arange(-radius, radius + 1)
    assert kernel.sum() == pytest.approx(1.0, abs=1e-12)
    assert (kernel.sum(axis=0) * offsets).sum() == pytest.approx(du, abs=1e-3)
    assert (kernel.sum(axis=1) * offsets).sum() == pytest.approx(dv, abs=1e-3)


def test_airy_kernel_has_its_dark_ring_where_optics_put_it() -> None:
    model = PsfModel.airy(wavelength_nm=600.0, f_number=8.0, pixel_pitch_m=1e-6)  # ring at 5.86 px
    assert model.first_zero_px == pytest.approx(1.21967 * 600e-9 * 8 / 1e-6, rel=1e-4)
    kernel = psf_kernel(model)
    centre = kernel.shape[0] // 2
    profile = kernel[centre, centre:]
    dark = int(np.argmin(profile[:9]))
    assert dark in (5, 6)
    assert kernel.sum() == pytest.approx(1.0)


@pytest.mark.parametrize("model", [PsfModel("gaussian", sigma_px=1.3), PsfModel("airy", first_zero_px=2.0)])
def test_convolution_conserves_flux_inside_the_frame(model: PsfModel) -> None:
    rng = np.random.default_rng(5)
    image = np.zeros((120, 140))
    image[40:80, 50:90] = rng.random((40, 40))
    kernel = psf_kernel(model)
    blurred = convolve(image, kernel)
    assert blurred.sum() == pytest.approx(image.sum(), rel=1e-3)
    in_place = image.copy()
    convolve_regions(in_place, kernel, [(40, 80, 50, 90)])
    assert np.allclose(in_place, blurred, atol=1e-12)


@given(u=st.floats(5.0, 25.0), v=st.floats(5.0, 25.0), blur=st.booleans())
def test_point_source_conserves_flux_and_centroid(u: float, v: float, blur: bool) -> None:
    image = np.zeros((32, 32))
    model = PsfModel("gaussian", sigma_px=0.9) if blur else None
    add_point_source(image, u, v, 1000.0, model)
    rows, cols = np.indices(image.shape)
    assert image.sum() == pytest.approx(1000.0, rel=1e-9)
    assert (image * cols).sum() / 1000.0 == pytest.approx(u, abs=2e-3)
    assert (image * rows).sum() / 1000.0 == pytest.approx(v, abs=2e-3)


@pytest.mark.parametrize(
    "model", [PsfModel("gaussian", sigma_px=0.8), PsfModel("gaussian", sigma_px=2.3), None]
)
def test_batched_point_sources_match_one_by_one_bit_for_bit(model: PsfModel | None) -> None:
    rng = np.random.default_rng(5)
    us = list(rng.uniform(-4.0, 68.0, 60))  # some straddle or leave the edges
    vs = list(rng.uniform(-4.0, 52.0, 60))
    fluxes = list(rng.uniform(1.0, 1e6, 60))
    one_by_one = np.zeros((48, 64))
    for u, v, flux in zip(us, vs, fluxes, strict=True):
        add_point_source(one_by_one, u, v, flux, model)
    batched = np.zeros((48, 64))
    add_point_sources(batched, us, vs, fluxes, model)
    assert np.array_equal(batched, one_by_one)


def test_many_overlapping_sources_on_a_lit_image_add_in_the_same_order() -> None:
    """Thousands of kernels on a small image over a non-zero background: sums of many terms per
    pixel, whose rounding depends on the order of the additions."""
    rng = np.random.default_rng(9)
    model = PsfModel("gaussian", sigma_px=1.7)
    us, vs = list(rng.uniform(-6.0, 40.0, 3000)), list(rng.uniform(-6.0, 30.0, 3000))
    fluxes = list(np.exp(rng.uniform(0.0, 25.0, 3000)))
    background = rng.uniform(0.0, 1e4, (24, 34))
    one_by_one = background.copy()
    for u, v, flux in zip(us, vs, fluxes, strict=True):
        add_point_source(one_by_one, u, v, flux, model)
    batched = background.copy()
    add_point_sources(batched, us, vs, fluxes, model)
    assert batched.tobytes() == one_by_one.tobytes()


def test_the_kept_kernel_spectrum_gives_the_plain_fft_convolution() -> None:
    """Frame after frame with one kernel: the kept transform is the transform computed anew."""
    from emulator.psf import _fast_length

    rng = np.random.default_rng(21)
    for model in (PsfModel("gaussian", sigma_px=1.3), PsfModel("airy", first_zero_px=2.4)):
        kernel = psf_kernel(model)
        for _ in range(3):
            image = rng.uniform(0.0, 1e6, (97, 131))
            kh, kw = kernel.shape
            shape = (_fast_length(97 + kh - 1), _fast_length(131 + kw - 1))
            full = np.fft.irfft2(np.fft.rfft2(image, shape) * np.fft.rfft2(kernel, shape), shape)
            plain = full[kh // 2 : kh // 2 + 97, kw // 2 : kw // 2 + 131]
            assert convolve(image, kernel).tobytes() == plain.tobytes()
