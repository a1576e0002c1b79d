"""Hostile scenario files: every class ends in one line naming the file and the field, never a traceback.

The files are generated here from the default seed (binary, non-UTF-8, 50,000-deep nesting,
huge/NaN/inf numbers, zero gain, an unknown band, bad names, too large a format, a huge PSF,
a huge cosmic-ray rate, ...). Each is refused by the loader with ScenarioError; a handful go
through the real command line (``paleblue render FILE -o DIR``): exit 2, one line on stderr.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from emulator import scenario as scenario_module
from emulator.scenario import (
    DEFAULT_SCENARIO,
    MAX_IMAGE_COUNT,
    MAX_PIXELS,
    RANGES,
    ScenarioError,
    load_scenario,
    seeds_directory,
)
from protocols.image.image_transport import MAX_IMAGE_OCTETS

SEED = (seeds_directory() / f"{DEFAULT_SCENARIO}.toml").read_text()
README = Path(__file__).resolve().parents[2] / "README.md"


def _sub(old: str, new: str, text: str = SEED) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def _no_provenance(text: str) -> str:
    return text.split("[provenance]")[0]


_QUATERNION = 'mode = "quaternion"\nq = [1e300, 1e300, 1e300, 1e300]'
_TARGET = 'mode = "target"\ntarget = "earth-moon"\nup = "earth-moon-horizontal"'

# class → (file bytes, the field the one line must name; "" = the file as a whole)
HOSTILE: dict[str, tuple[bytes, str]] = {
    "binary": (bytes(range(256)) * 8, ""),
    "non-utf8": (SEED.encode().replace(b"Tianwen-1:", b"Tianwen-1\xff:"), ""),
    "utf16": (SEED.encode("utf-16"), ""),
    "nul-bytes": (b"\x00" * 4096, ""),
    "too-long": (SEED.encode() + b"#" * (2 * 1024 * 1024), ""),
    "deep-arrays": (("x = " + "[" * 50_000 + "]" * 50_000 + "\n").encode(), ""),
    "deep-inline-tables": (("x = " + "{a=" * 50_000 + "1" + "}" * 50_000 + "\n").encode(), ""),
    "deep-tables": (
        SEED.replace("[provenance]", "[sensor.x" + ".a" * 50_000 + "]\nz = 1\n[provenance]").encode(),
        "sensor.x.a.a",
    ),
    "range-1e300": (_sub("range_km = 1.2e6", "range_km = 1e300").encode(), "probe.range_km"),
    "range-nan": (_sub("range_km = 1.2e6", "range_km = nan").encode(), "probe.range_km"),
    "range-inf": (_sub("range_km = 1.2e6", "range_km = -inf").encode(), "probe.range_km"),
    "range-int64": (_sub("range_km = 1.2e6", "range_km = 9223372036854775807").encode(), "probe.range_km"),
    "interval-1e300": (
        _sub('utc = "2020-07-27T12:00:00Z"', 'utc = "2020-07-27T12:00:00Z"\ninterval_s = 1e300').encode(),
        "time.interval_s",
    ),
    "utc-before-year-1": (
        _sub('utc = "2020-07-27T12:00:00Z"', "utc = 0001-01-01T00:00:00+23:59").encode(),
        "time.utc",
    ),
    "utc-after-year-9999": (
        _sub('utc = "2020-07-27T12:00:00Z"', 'utc = "9999-12-31T23:59:59-23:59"').encode(),
        "time.utc",
    ),
    "utc-sequence-past-9999": (
        _sub('utc = "2020-07-27T12:00:00Z"', 'utc = "9999-12-31T00:00:00Z"\ninterval_s = 31557600.0')
        .replace("image_count = 1", "image_count = 2")
        .encode(),
        "time.utc",
    ),
    "gain-zero": (_sub("gain_e_per_dn = 20.0", "gain_e_per_dn = 0").encode(), "sensor.gain_e_per_dn"),
    "bias-above-adc": (_sub("bias_dn = 32", "bias_dn = 5000").encode(), "sensor.bias_dn"),
    "unknown-band": (_sub('band = "panchromatic"', 'band = "ultraviolet-x"').encode(), "sensor.band"),
    "exposure-1e300": (
        _no_provenance(_sub('exposure = "auto"', "exposure_s = 1e300")).encode(),
        "sensor.exposure_s",
    ),
    "exposure-max-below-min": (
        _sub(
            "auto_exposure_target = 0.8",
            "auto_exposure_target = 0.8\nexposure_min_s = 2.0\nexposure_max_s = 1.0",
        )
        .split("[provenance]")[0]
        .encode(),
        "sensor.exposure_max_s",
    ),
    "name-slash": (_sub(f'name = "{DEFAULT_SCENARIO}"', 'name = "../../etc/x"').encode(), "scenario.name"),
    "name-dot": (_sub(f'name = "{DEFAULT_SCENARIO}"', 'name = "."').encode(), "scenario.name"),
    "name-dotdot": (_sub(f'name = "{DEFAULT_SCENARIO}"', 'name = ".."').encode(), "scenario.name"),
    "name-hidden": (_sub(f'name = "{DEFAULT_SCENARIO}"', 'name = ".hidden"').encode(), "scenario.name"),
    "name-nul": (_sub(f'name = "{DEFAULT_SCENARIO}"', 'name = "a\\u0000b"').encode(), "scenario.name"),
    "name-space": (_sub(f'name = "{DEFAULT_SCENARIO}"', 'name = "a b"').encode(), "scenario.name"),
    "name-too-long": (
        _sub(f'name = "{DEFAULT_SCENARIO}"', f'name = "{"a" * 101}"').encode(),
        "scenario.name",
    ),
    "format-8192": (
        _sub("width_px = 1024\nheight_px = 1024", "width_px = 8192\nheight_px = 8192").encode(),
        "camera.width_px",
    ),
    "format-20000": (
        _sub("width_px = 1024\nheight_px = 1024", "width_px = 20000\nheight_px = 20000").encode(),
        "camera.width_px",
    ),
    "format-beyond-16-bit": (_sub("width_px = 1024", "width_px = 70000").encode(), "camera.width_px"),
    "psf-sigma-1e6": (_sub("sigma_px = 0.8", "sigma_px = 1e6").encode(), "sensor.psf.sigma_px"),
    "psf-airy-too-fine": (
        _sub(
            'psf = { kind = "gaussian", sigma_px = 0.8 }', 'psf = { kind = "airy", wavelength_nm = 100.0 }'
        ).encode(),
        "sensor.psf",
    ),
    "psf-unknown-key": (
        _sub("sigma_px = 0.8 }", "sigma_px = 0.8, radius = 1e9 }").encode(),
        "sensor.psf.radius",
    ),
    "cosmic-rate-1e12": (
        _sub("cosmic_ray_rate_per_cm2_s = 5.0", "cosmic_ray_rate_per_cm2_s = 1e12").encode(),
        "sensor.cosmic_ray_rate_per_cm2_s",
    ),
    "cosmic-hits-over-budget": (
        _sub("cosmic_ray_rate_per_cm2_s = 5.0", "cosmic_ray_rate_per_cm2_s = 5000.0").encode(),
        "sensor.cosmic_ray_rate_per_cm2_s",
    ),
    "image-count-huge": (_sub("image_count = 1", "image_count = 100000").encode(), "scenario.image_count"),
    "seed-negative": (_sub("seed = 20200727", "seed = -1").encode(), "scenario.seed"),
    "quaternion-1e300": (_no_provenance(_sub(_TARGET, _QUATERNION)).encode(), "attitude.q"),
    "principal-point-nan": (
        _sub("colour = false", "colour = false\nprincipal_point_px = [nan, 3.0]").encode(),
        "camera.principal_point_px",
    ),
    "distortion-huge": (
        _sub("colour = false", 'colour = false\ndistortion = { model = "brown", k1 = 1e300 }').encode(),
        "camera.distortion.k1",
    ),
    "number-in-unknown-key": (
        _sub("roll_deg = 0.0", "roll_deg = 0.0\nspin = 1e300").encode(),
        "attitude.spin",
    ),
    "number-in-free-text": (_sub("bit_depth = 10", "bit_depth = 10\nnotes = 7").encode(), "sensor.notes"),
    "huge-string": (_sub('title = "', f'title = "{"x" * 5000}').encode(), "scenario.title"),
}


def _one_line(path: Path) -> str:
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    message = str(info.value)
    assert "\n" not in message and len(message) <= 300, message
    return message


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_every_hostile_class_is_one_line_naming_file_and_field(tmp_path: Path, case: str) -> None:
    data, field = HOSTILE[case]
    path = tmp_path / f"{case}.toml"
    path.write_bytes(data)
    message = _one_line(path)
    assert message.startswith(f"{path}: {field}" if field else f"{path}: "), message


CLI_CASES = (
    "binary",
    "deep-arrays",
    "gain-zero",
    "unknown-band",
    "name-dotdot",
    "format-20000",
    "psf-sigma-1e6",
)


@pytest.mark.parametrize("case", CLI_CASES)
def test_render_refuses_a_hostile_file_in_one_line_exit_2(tmp_path: Path, case: str) -> None:
    data, field = HOSTILE[case]
    path = tmp_path / f"{case}.toml"
    path.write_bytes(data)
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "paleblue", "render", str(path), "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith(f"paleblue: {path}: {field}"), lines[0]
    assert not out.exists()  # refused before anything is rendered or written


def test_render_all_with_a_bad_seed_directory_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "bad.toml").write_bytes(HOSTILE["non-utf8"][0])
    result = subprocess.run(
        [sys.executable, "-m", "paleblue", "render", "--all", "-o", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=120,
        env={**__import__("os").environ, "PALEBLUE_SEEDS": str(tmp_path)},
    )
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1, result.stderr


def test_the_largest_scenario_within_the_limits_loads(tmp_path: Path) -> None:
    text = _sub("width_px = 1024\nheight_px = 1024", "width_px = 4096\nheight_px = 4096")
    text = text.replace("pixel_pitch_um = 5.5", "pixel_pitch_um = 1.375").replace(
        "bit_depth = 10", "bit_depth = 16"
    )
    text = text.replace("bias_dn = 32", "bias_dn = 1024").replace("image_count = 1", "image_count = 4")
    path = tmp_path / "largest.toml"
    path.write_text(text)
    scenario = load_scenario(path)
    # images are streamed by the probe, not held on board: their number is not a memory limit
    assert scenario.camera.width * scenario.camera.height == MAX_PIXELS and scenario.image_count == 4


def test_every_admitted_format_fits_image_transport() -> None:
    assert MAX_PIXELS * 2 <= MAX_IMAGE_OCTETS  # 16-bit samples at the pixel cap
    assert RANGES["camera.width_px"].high <= 0xFFFF and RANGES["camera.height_px"].high <= 0xFFFF


def test_a_product_beyond_image_transport_is_refused(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(scenario_module, "MAX_IMAGE_OCTETS", 1024 * 1024 * 2 - 1)
    path = tmp_path / "big.toml"
    path.write_text(SEED)
    assert "image transport carries at most" in _one_line(path)
    path.write_text(SEED.replace("bit_depth = 10", "bit_depth = 8").replace("bias_dn = 32", "bias_dn = 4"))
    load_scenario(path)  # one octet a sample: 1 MiB fits


def test_commanded_exposure_limit_matches_the_mission_database() -> None:
    from protocols.mdb.mission_db import load_mission_db

    command = load_mission_db().command_by_name["TAKE_IMAGE"]
    exposure = next(a for a in command.layout.fields if a.name == "EXPOSURE_US")
    assert exposure.valid_range is not None
    assert exposure.valid_range[1] / 1e6 == scenario_module.COMMANDED_EXPOSURE_MAX_S
    assert MAX_IMAGE_COUNT >= 1


def _readme_ranges() -> dict[str, str]:
    text = README.read_text()
    section = text[text.index("## Scenarios") : text.index("## The camera model")]
    return dict(re.findall(r"^\| `([a-z_.0-9]+)` \| (.+?) \|$", section, re.MULTILINE))


def test_the_readme_lists_every_range_as_the_code_declares_it() -> None:
    documented = _readme_ranges()
    assert documented == {name: limits.describe() for name, limits in RANGES.items()}


@pytest.mark.parametrize("command", [["probe"], ["run"], ["render"]])
def test_probe_and_run_refuse_a_hostile_file_before_starting(tmp_path: Path, command: list[str]) -> None:
    data, field = HOSTILE["exposure-1e300"]
    path = tmp_path / "hostile.toml"
    path.write_bytes(data)
    out = ["-o", str(tmp_path / "out")] if command != ["probe"] else []
    result = subprocess.run(
        [sys.executable, "-m", "paleblue", *command, str(path), *out],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [f"paleblue: {path}: {field}: 1e+300 outside (0, 3,600] s"]
