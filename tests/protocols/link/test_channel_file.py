"""Channel definitions as data: the shipped presets, round trips, one-line errors naming the key."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from protocols.link.channel_config import FrameType, PhysicalChannelConfig
from protocols.link.channel_file import (
    PRESETS,
    channel_from_dict,
    channel_to_dict,
    channel_to_toml,
    load_channel,
    load_preset,
    parse_channel,
    preset,
    preset_names,
    with_overrides,
)

# The presets as they were written in Python before they became files: the files must agree.
FORMER_PRESETS = {
    "tm-rs-i5": PhysicalChannelConfig(),
    "tm-rs-i1": PhysicalChannelConfig(frame_length=223, rs_interleave=1),
    "tm-rs239-i4": PhysicalChannelConfig(frame_length=956, rs_e=8, rs_interleave=4),
    "tm-rs-shortened": PhysicalChannelConfig(frame_length=400, rs_interleave=2, secondary_header_length=4),
    "tm-rs-conventional": PhysicalChannelConfig(dual_basis=False),
    "tm-uncoded": PhysicalChannelConfig(rs_e=0, randomizer=False, frame_length=1115),
    "aos-rs-i4": PhysicalChannelConfig(
        frame_type=FrameType.AOS, spacecraft_id=0xB5, frame_length=892, rs_interleave=4
    ),
    "aos-rs239-i8": PhysicalChannelConfig(
        frame_type=FrameType.AOS, spacecraft_id=0xB5, frame_length=1912, rs_e=8, rs_interleave=8
    ),
    "aos-uncoded": PhysicalChannelConfig(
        frame_type=FrameType.AOS, spacecraft_id=0xB5, frame_length=1024, rs_e=0, ocf=False
    ),
}


@pytest.mark.parametrize("name", sorted(FORMER_PRESETS))
def test_preset_files_reproduce_the_former_presets(name: str) -> None:
    assert PRESETS[name] == FORMER_PRESETS[name] == preset(name)


def test_uslp_presets_ship() -> None:
    assert {"uslp-rs-i5", "uslp-variable"} <= set(preset_names())
    assert PRESETS["uslp-rs-i5"].frame_type is FrameType.USLP and PRESETS["uslp-variable"].variable_length


@pytest.mark.parametrize("name", preset_names())
def test_every_preset_round_trips_through_toml(name: str) -> None:
    definition = load_preset(name)
    again = parse_channel(tomllib.loads(channel_to_toml(definition)), "x")
    assert again == definition
    assert {vc.vcid for vc in definition.virtual_channels} == {0, 1}
    assert channel_from_dict(channel_to_dict(definition.config)) == definition.config


def test_a_file_by_path(tmp_path: Path) -> None:
    path = tmp_path / "mission.toml"
    path.write_text('[frame]\ntype = "aos"\nlength = 1000\nspacecraft_id = 0x2A\nfecf = false\nocf = false\n')
    definition = load_channel(str(path))
    assert definition.name == "mission"
    config = definition.config
    assert (config.frame_type, config.spacecraft_id, config.fecf, config.ocf) == (
        FrameType.AOS,
        42,
        False,
        False,
    )
    assert config.rs_e == 0  # reed_solomon defaults to none in a file


BASE = '[frame]\ntype = "tm"\nlength = 1115\n[coding]\nreed_solomon = { e = 16, interleave = 5 }\n'


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('[frame]\ntype = "ccsds"\n', "frame.type"),
        ("[frame]\nlength = 10\n", "frame.type"),
        ('[frame]\ntype = "tm"\nspacecraft_id = 4096\n', "frame.spacecraft_id"),
        ('[frame]\ntype = "aos"\nspacecraft_id = 256\n', "frame.spacecraft_id"),
        (
            '[frame]\ntype = "aos"\nspacecraft_id = 1\nsecondary_header_length = 4\n',
            "frame.secondary_header_length",
        ),
        ('[frame]\ntype = "tm"\ninsert_zone_length = 4\n', "frame.insert_zone_length"),
        ('[frame]\ntype = "tm"\nvariable_length = true\n', "frame.variable_length"),
        ('[frame]\ntype = "tm"\nfecf = "yes"\n', "frame.fecf"),
        ('[frame]\ntype = "tm"\ncolour = 1\n', "frame.colour"),
        ('[frame]\ntype = "uslp"\nvc_count_length = 0\n', "frame.vc_count_length"),
        (
            '[frame]\ntype = "uslp"\nvariable_length = true\n'
            "[coding]\nreed_solomon = { e = 16, interleave = 5 }\n",
            "coding.reed_solomon.e",
        ),
        (BASE.replace("e = 16", "e = 12"), "coding.reed_solomon.e"),
        (BASE.replace("interleave = 5", "interleave = 7"), "coding.reed_solomon.interleave"),
        (BASE.replace("length = 1115", "length = 1116"), "frame.length"),
        (BASE.replace("interleave = 5 }", 'interleave = 5, basis = "triple" }'), "coding.reed_solomon.basis"),
        (
            BASE.replace("interleave = 5 }", "interleave = 5, virtual_fill = 3 }"),
            "coding.reed_solomon.virtual_fill",
        ),
        (BASE + 'asm = "1ACF"\n', "coding.asm"),
        (BASE + 'asm = "XYZ12345"\n', "coding.asm"),
        (BASE + "asm = 0x1ACFFC1D\n", "coding.asm"),
        (BASE + 'asm = "' + "00" * 25 + '"\n', "coding.asm"),
        (BASE + "[idle]\nvcid = 63\n", "idle.vcid"),
        (BASE + "[[virtual_channel]]\nvcid = 7\n", "virtual_channel.vcid"),
        (BASE + '[[virtual_channel]]\nvcid = 1\ncarries = "bitstream"\n', "virtual_channel.carries"),
        (BASE + "[[virtual_channel]]\nvcid = 1\n[[virtual_channel]]\nvcid = 1\n", "virtual_channel.vcid"),
        ("frames = 3\n", "frames"),
    ],
)
def test_impossible_combinations_are_one_line_naming_the_key(tmp_path: Path, text: str, key: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ValueError) as error:
        load_channel(str(path))
    message = str(error.value)
    assert "\n" not in message and message.startswith(f"{path}: {key}: "), message


def test_not_toml_and_unknown_preset(tmp_path: Path) -> None:
    path = tmp_path / "x.toml"
    path.write_text("[frame\n")
    with pytest.raises(ValueError, match="not TOML"):
        load_channel(str(path))
    with pytest.raises(ValueError, match="unknown channel preset 'nope'; known: aos-rs-i4"):
        load_channel("nope")


def test_overrides_name_the_field() -> None:
    base = preset("tm-rs-i5")
    changed = with_overrides(
        base, spacecraft_id=0x2A, fecf=False, ocf=False, rs=(8, 8, False), frame_length=1912
    )
    assert (changed.spacecraft_id, changed.fecf, changed.ocf, changed.rs_e, changed.dual_basis) == (
        0x2A,
        False,
        False,
        8,
        False,
    )
    with pytest.raises(ValueError, match=r"^frame_length: with RS E=16, I=5"):
        with_overrides(base, frame_length=2000)
    with pytest.raises(ValueError, match=r"^spacecraft_id: "):
        with_overrides(preset("aos-rs-i4"), spacecraft_id=0x1B5)


def test_another_marker_is_a_parameter_of_the_channel_file(tmp_path: Path) -> None:
    """Issue 14: CCSDS 131.0-B §9.3's 64-bit marker (turbo rate 1/2, LDPC), written in any spelling;
    the CADU grows by the marker, and the channel survives a file, a recording header and back."""
    path = tmp_path / "turbo-marker.toml"
    path.write_text('[frame]\ntype = "tm"\n[coding]\nasm = "0x0347 76C7 2728 95B0"\n')
    config = load_channel(str(path)).config
    assert config.asm == bytes.fromhex("034776C7272895B0")
    assert config.cadu_length == PhysicalChannelConfig(rs_e=0).cadu_length + 4  # no RS in the file
    assert load_channel(str(_written(tmp_path, config))).config == config
    assert channel_to_dict(config)["asm"] == "034776C7272895B0"
    assert channel_from_dict(channel_to_dict(config)) == config
    assert "asm" not in channel_to_dict(PhysicalChannelConfig())  # headers as before for the standard one


def _written(tmp_path: Path, config: PhysicalChannelConfig) -> Path:
    from protocols.link.channel_file import ChannelDefinition

    path = tmp_path / "again.toml"
    path.write_text(channel_to_toml(ChannelDefinition("again", config)))
    return path
