"""Scenario files: every seed loads with provenance; bad files fail with one line naming the field."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from emulator.scenario import (
    DEFAULT_SCENARIO,
    ScenarioError,
    list_scenarios,
    load_scenario,
    provenance_gaps,
    scenario_names,
    seeds_directory,
)

SEED_TEXT = (seeds_directory() / f"{DEFAULT_SCENARIO}.toml").read_text()
EXPECTED_SEEDS = {
    "tianwen1-2020-07-27",
    "tianwen2-2025-05-30",
    "tianwen2-2025-armcam",
    "change5t1-2014-10-28",
    "longjiang2-2019-02-03",
    "voyager1-1977-09-18",
    "mro-hirise-2007-10-03",
    "messenger-mdis-2010-05-06",
    "dscovr-epic-2015-07-16",
    "hayabusa2-onct-2015-11-26",
    "osirisrex-mapcam-2017-10-02",
}


@pytest.fixture(scope="module")
def seeds() -> dict:
    return {s.name: s for s in list_scenarios()}


def test_all_expected_seeds_exist_and_load(seeds: dict) -> None:
    assert set(scenario_names()) == EXPECTED_SEEDS
    assert set(seeds) == EXPECTED_SEEDS


def test_every_seed_has_provenance_for_every_physical_field(seeds: dict) -> None:
    for scenario in seeds.values():
        assert provenance_gaps(scenario) == [], scenario.name
        assert all(v.split(":")[0].strip() in ("source", "assumed") for v in scenario.provenance.values())


def test_every_seed_has_listing_fields(seeds: dict) -> None:
    for scenario in seeds.values():
        assert scenario.title and scenario.spacecraft and scenario.camera_name and scenario.description
        assert scenario.range_km > 1000.0
        assert scenario.epoch_utc.tzinfo is not None


def test_default_scenario_is_tianwen1(seeds: dict) -> None:
    scenario = seeds[DEFAULT_SCENARIO]
    assert scenario.spacecraft == "Tianwen-1"
    assert scenario.range_km == pytest.approx(1.2e6, rel=0.01)
    assert not scenario.camera.colour
    assert scenario.epoch_utc.date().isoformat() == "2020-07-27"


def test_seed_distances_match_the_published_ones(seeds: dict) -> None:
    published_km = {
        "tianwen1-2020-07-27": 1.2e6,
        "tianwen2-2025-05-30": 5.9e5,
        "tianwen2-2025-armcam": 4.3e7,
        "voyager1-1977-09-18": 1.166e7,
        "mro-hirise-2007-10-03": 1.42e8,
        "messenger-mdis-2010-05-06": 1.83e8,
        "hayabusa2-onct-2015-11-26": 3.0e6,
        "osirisrex-mapcam-2017-10-02": 5.1e6,
    }
    for name, distance in published_km.items():
        assert seeds[name].range_km == pytest.approx(distance, rel=0.03), name


def test_path_loading_and_env_override(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "copy.toml").write_text(SEED_TEXT.replace(f'name = "{DEFAULT_SCENARIO}"', 'name = "copy"'))
    assert load_scenario(tmp_path / "copy.toml").name == "copy"
    monkeypatch.setenv("PALEBLUE_SEEDS", str(tmp_path))
    assert scenario_names() == ["copy"]
    assert load_scenario("copy").source_path == tmp_path / "copy.toml"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    return path


def _error(path_or_name) -> str:
    with pytest.raises(ScenarioError) as info:
        load_scenario(path_or_name)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_unknown_scenario_name_lists_the_known_ones() -> None:
    message = _error("no-such-event")
    assert "no-such-event" in message and DEFAULT_SCENARIO in message


def test_seed_name_must_match_its_file(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "other.toml").write_text(SEED_TEXT)
    monkeypatch.setenv("PALEBLUE_SEEDS", str(tmp_path))
    assert "scenario.name" in _error("other")


def test_malformed_toml_names_file_and_line(tmp_path: Path) -> None:
    path = _write(tmp_path, SEED_TEXT.replace("[time]\n", "[time]\nutc = = 3\n", 1))
    message = _error(path)
    assert str(path) in message and "malformed TOML" in message
    broken_line = SEED_TEXT.splitlines().index("[time]") + 2
    assert f"line {broken_line}" in message


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("range_km = 1.2e6", "range_km = -1.2e6", "probe.range_km"),
        ("range_km = 1.2e6", "range_km = 1000.0", "probe.range_km"),
        ('origin = "earth"', 'origin = "vulcan"', "probe.origin"),
        ('utc = "2020-07-27T12:00:00Z"', 'utc = "2060-01-01T00:00:00Z"', "time.utc"),
        ('utc = "2020-07-27T12:00:00Z"', 'utc = "1850-01-01T00:00:00Z"', "time.utc"),
        ('utc = "2020-07-27T12:00:00Z"', 'utc = "last tuesday"', "time.utc"),
        ('target = "earth-moon"', 'target = "mars"', "attitude.target"),
        ('mode = "target"', 'mode = "tumble"', "attitude.mode"),
        ("fov_deg = 12.0", "fov_deg = 2.0", "camera.fov_deg"),
        ("pixel_pitch_um = 5.5", "pixel_pitch_um = 5.5\nfocal_length_mm = 100.0", "camera.fov_deg"),
        ("bit_depth = 10", "bit_depth = 10.5", "sensor.bit_depth"),
        ("quantum_efficiency = 0.5", "quantum_efficiency = 1.5", "sensor.quantum_efficiency"),
        ('exposure = "auto"', 'exposure = "long"', "sensor.exposure"),
        ('psf = { kind = "gaussian", sigma_px = 0.8 }', 'psf = { kind = "gaussian" }', "sensor.psf.sigma_px"),
        ("bias_dn = 32", "bias_dn = 32\nshutter = 1", "sensor.shutter"),
        ('"attitude.roll_deg" = "assumed"', '"attitude.roll_deg" = "guess"', "provenance.attitude.roll_deg"),
        ('"attitude.roll_deg" = "assumed"', '"attitude.rol_deg" = "assumed"', "provenance.attitude.rol_deg"),
    ],
)
def test_bad_values_raise_one_line_naming_the_field(tmp_path: Path, old: str, new: str, field: str) -> None:
    assert old in SEED_TEXT
    path = _write(tmp_path, SEED_TEXT.replace(old, new, 1))
    message = _error(path)
    assert message.startswith(f"{path}: {field}:"), message


def _with_attitude(attitude: str) -> str:
    start = SEED_TEXT.index("[attitude]")
    end = SEED_TEXT.index("[camera]")
    return SEED_TEXT[:start] + attitude + "\n" + SEED_TEXT[end:]


def test_camera_pointed_away_from_both_bodies_is_rejected(tmp_path: Path) -> None:
    # Tianwen-1 sits roughly on +x of the Earth, so looking along +x (away from both) sees nothing.
    text = _with_attitude('[attitude]\nmode = "quaternion"\nq = [0.5, -0.5, 0.5, -0.5]\n')
    text = text.split("[provenance]")[0]
    message = _error(_write(tmp_path, text))
    assert ": attitude.q:" in message


def test_offset_that_pushes_the_target_out_of_the_frame_is_rejected(tmp_path: Path) -> None:
    text = _with_attitude('[attitude]\nmode = "target"\ntarget = "moon"\noffset_deg = [40.0, 0.0]\n')
    message = _error(_write(tmp_path, text.split("[provenance]")[0]))
    assert ": attitude.offset_deg:" in message


def test_quaternion_attitude_that_sees_the_earth_is_accepted(tmp_path: Path) -> None:
    scenario = load_scenario(_write(tmp_path, SEED_TEXT.split("[provenance]")[0]))
    from emulator.attitude import dcm_to_quat
    from emulator.geometry import compute_geometry

    q = dcm_to_quat(compute_geometry(scenario).cam_to_icrf)
    text = _with_attitude(f'[attitude]\nmode = "quaternion"\nq = {[float(c) for c in q]}\n')
    again = load_scenario(_write(tmp_path, text.split("[provenance]")[0]))
    assert again.attitude.mode == "quaternion"
    assert compute_geometry(again).cam_to_icrf == pytest.approx(
        compute_geometry(scenario).cam_to_icrf, abs=1e-9
    )


def test_seed_files_are_plain_toml_with_the_documented_tables() -> None:
    for path in seeds_directory().glob("*.toml"):
        raw = tomllib.loads(path.read_text())
        assert {"scenario", "time", "probe", "attitude", "camera", "provenance"} <= set(raw), path.name


def test_every_seed_sensor_table_is_accepted_by_the_detector_model(seeds: dict) -> None:
    detector = pytest.importorskip("emulator.detector")
    for scenario in seeds.values():
        config = detector.SensorConfig.from_dict(scenario.sensor)
        assert config.bit_depth == scenario.sensor["bit_depth"], scenario.name
        if scenario.camera.colour:
            assert len(config.bands) == 3, scenario.name
