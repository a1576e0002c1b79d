"""Detector model: configuration errors, noise statistics against the model, fixed patterns, exposure."""

from __future__ import annotations

import numpy as np
import pytest

from emulator.detector import Effects, SensorConfig, auto_exposure_s, expose, poisson_small

FLAT = (256, 256)


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ({"exposure_s": -0.1}, "exposure_s"),
        ({"exposure_s": 0}, "exposure_s"),
        ({"bit_depth": 0}, "bit_depth"),
        ({"bit_depth": 17}, "bit_depth"),
        ({"bit_depth": 12.5}, "bit_depth"),
        ({"psf": {"kind": "moffat"}}, "psf.kind"),
        ({"quantum_efficiency": 1.5}, "quantum_efficiency"),
        ({"full_well_e": -1}, "full_well_e"),
        ({"band": "ultraviolet-ish"}, "band"),
        ({"frobnicate": 1}, "frobnicate"),
    ],
)
def test_bad_sensor_values_name_the_key(table: dict, key: str) -> None:
    with pytest.raises(ValueError, match=key.replace(".", r"\.")):
        SensorConfig.from_dict(table)


def test_defaults_and_aliases() -> None:
    config = SensorConfig.from_dict({"band": "panchromatic", "bit_depth": 10, "bias_dn": 32})
    assert config.bands == ("pan",)
    assert config.exposure_s is None  # automatic by default
    assert config.gain_e_per_dn == pytest.approx(config.full_well_e / (1023 - 32))
    assert config.dtype is np.uint16
    assert SensorConfig.from_dict({"bit_depth": 8}).dtype is np.uint8


def _flat_frame(config: SensorConfig, effects: Effects, signal_e: float, exposure_s: float, seed: int = 1):
    return expose(np.full(FLAT, signal_e), config, effects, exposure_s, seed).pixels.astype(float)


@pytest.mark.parametrize("signal_e", [40.0, 2000.0, 15000.0])
def test_flat_field_mean_and_variance_match_the_noise_model(signal_e: float) -> None:
    config = SensorConfig.from_dict(
        {
            "bit_depth": 14,
            "gain_e_per_dn": 2.0,
            "read_noise_e": 6.0,
            "dark_current_e_per_s": 20.0,
            "bias_dn": 100,
            "full_well_e": 30000,
        }
    )
    effects = Effects.none().with_only(shot_noise=True, dark_current=True, read_noise=True, bias=True)
    t = 0.5
    frame = _flat_frame(config, effects, signal_e, t)
    electrons = signal_e + 20.0 * t
    mean_model = 100 + electrons / 2.0
    var_model = electrons / 4.0 + 6.0**2 / 4.0 + 1.0 / 12.0  # shot + read (in DN²) + ADC rounding
    assert frame.mean() == pytest.approx(mean_model, rel=0.05)
    assert frame.var() == pytest.approx(var_model, rel=0.05)


def test_prnu_and_dsnu_have_the_configured_spread_and_are_fixed() -> None:
    config = SensorConfig.from_dict(
        {
            "bit_depth": 16,
            "gain_e_per_dn": 1.0,
            "prnu": 0.02,
            "dsnu_e": 8.0,
            "bias_dn": 1000,
            "full_well_e": 60000,
        }
    )
    prnu_only = Effects.none().with_only(prnu=True)
    frame = _flat_frame(config, prnu_only, 20000.0, 1.0)
    assert frame.std() / frame.mean() == pytest.approx(0.02, rel=0.05)
    again = _flat_frame(config, prnu_only, 20000.0, 1.0, seed=99)
    assert np.array_equal(frame, again)  # a fixed pattern, not noise
    dsnu_only = Effects.none().with_only(dsnu=True, bias=True)
    offsets = _flat_frame(config, dsnu_only, 0.0, 1.0)
    assert offsets.std() == pytest.approx(8.0, rel=0.05)


def test_hot_pixels_saturation_and_adc_range() -> None:
    config = SensorConfig.from_dict(
        {
            "bit_depth": 8,
            "hot_pixel_fraction": 0.01,
            "dark_current_e_per_s": 1.0,
            "full_well_e": 10000,
            "gain_e_per_dn": 50.0,
            "bias_dn": 10,
        }
    )
    hot = expose(np.zeros(FLAT), config, Effects.none().with_only(hot_pixels=True), 1.0, 3).pixels
    assert hot.dtype == np.uint8
    assert abs(np.count_nonzero(hot) - 0.01 * hot.size) < 0.2 * 0.01 * hot.size
    full = expose(np.full(FLAT, 1e6), config, Effects.none().with_only(saturation=True, bias=True), 1.0, 3)
    assert np.all(full.pixels == 10 + round(10000 / 50.0))
    assert full.saturated_pixels == hot.size
    clipped = expose(np.full(FLAT, 1e6), config, Effects.none(), 1.0, 3).pixels
    assert np.all(clipped == 255)


def test_cosmic_ray_rate_matches_poisson_expectation() -> None:
    config = SensorConfig.from_dict({"cosmic_ray_rate_per_cm2_s": 1000.0})
    pitch = 10e-6
    area_cm2 = FLAT[0] * FLAT[1] * (pitch * 100) ** 2
    expected = 1000.0 * area_cm2 * 2.0
    hits = [
        expose(
            np.zeros(FLAT), config, Effects.none().with_only(cosmic_rays=True), 2.0, s, pixel_pitch_m=pitch
        ).cosmic_ray_hits
        for s in range(5)
    ]
    assert abs(np.mean(hits) - expected) < 5 * np.sqrt(expected / 5)


@pytest.mark.parametrize("peak_rate", [1e2, 3.3e4, 7.7e6, 1e9])
def test_auto_exposure_lands_below_target_on_the_ladder(peak_rate: float) -> None:
    config = SensorConfig.from_dict(
        {"full_well_e": 20000, "auto_exposure_target": 0.8, "exposure_min_s": 1e-6}
    )
    t = auto_exposure_s(peak_rate, config)
    target = 0.8 * 20000
    assert t * peak_rate <= target * (1 + 1e-9)
    assert t * peak_rate > target / 1.3 or t in (config.exposure_min_s, config.exposure_max_s)
    mantissa = t / 10 ** np.floor(np.log10(t) + 1e-12)
    assert any(abs(mantissa - step) < 1e-9 for step in (1, 1.25, 1.6, 2, 2.5, 3.15, 4, 5, 6.3, 8))


@pytest.mark.parametrize("lam", [1e-6, 0.00126, 0.00625, 0.0157, 0.02, 0.05])
@pytest.mark.parametrize("shape", [(1,), (7,), (3, 5), (512, 300)])
def test_poisson_small_draws_numpys_numbers(lam: float, shape: tuple[int, ...]) -> None:
    for seed in range(3):
        reference = np.random.Generator(np.random.PCG64(seed)).poisson(lam, shape)
        drawn = poisson_small(np.random.Generator(np.random.PCG64(seed)), lam, shape)
        assert drawn.dtype == reference.dtype and drawn.shape == reference.shape
        assert np.array_equal(drawn, reference)


def test_poisson_small_walks_long_runs_like_numpy() -> None:
    # A mean where runs of several uniforms above exp(-lam) are common, forced through the fast path.
    import emulator.detector as detector

    saved = detector._SMALL_POISSON_MAX_LAM
    detector._SMALL_POISSON_MAX_LAM = 1.0
    try:
        for lam in (0.3, 1.0):
            reference = np.random.Generator(np.random.PCG64(9)).poisson(lam, 20_000)
            assert np.array_equal(
                poisson_small(np.random.Generator(np.random.PCG64(9)), lam, (20_000,)), reference
            )
    finally:
        detector._SMALL_POISSON_MAX_LAM = saved
