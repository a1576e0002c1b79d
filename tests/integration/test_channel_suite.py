"""Captures of many channel combinations, built by our transmitter, decoded by ``paleblue decode``
with only channel flags, byte-identical to the packets sent; packets cross-checked with ccsdspy
and spacepackets, Reed-Solomon parity with reedsolo; ``--format auto`` and its exit codes."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import ccsdspy.utils
import numpy as np
import pytest
import reedsolo
from spacepackets.ccsds.spacepacket import SpacePacketHeader

from emulator.imaging import image_packets
from emulator.transmitter import Transmitter
from fuzzing.seeds import housekeeping_packets
from protocols.coding.randomizer import Randomizer
from protocols.coding.reed_solomon import EXP, PRIMITIVE_POWER, TO_CONVENTIONAL
from protocols.image.image_metadata import ImageMetadata
from protocols.link.channel_config import FrameType, PhysicalChannelConfig
from protocols.link.channel_file import PRESETS, ChannelDefinition, channel_to_toml
from protocols.packets.space_packet import SequenceCounter
from protocols.packets.time_code import CucTime

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]

TURBO_HALF_ASM = bytes.fromhex("034776C7272895B0")
TURBO_THIRD_ASM = bytes.fromhex("25D5C0CE8990F6C9461BF79C")

# name: (the channel the capture is made with, the decode command's channel flags; a "{file}"
# flag is replaced by a channel file written from the configuration)
SUITE: dict[str, tuple[PhysicalChannelConfig, list[str]]] = {
    "aos-no-fecf-no-ocf": (
        PhysicalChannelConfig(
            frame_type=FrameType.AOS, spacecraft_id=0x2A, frame_length=1000, rs_e=0, fecf=False, ocf=False
        ),
        ["--channel", "{file}"],
    ),
    "tm-secondary-header": (
        PhysicalChannelConfig(frame_length=446, rs_interleave=2, secondary_header_length=8),
        ["--channel", "{file}"],
    ),
    "tm-rs-e8-i8": (
        PhysicalChannelConfig(frame_length=1912, rs_e=8, rs_interleave=8),
        ["--channel", "tm-rs-i5", "--rs", "8/8", "--frame-length", "1912"],
    ),
    "tm-rs-e16-i4-dual-scid": (
        PhysicalChannelConfig(spacecraft_id=0x2C3, frame_length=892, rs_e=16, rs_interleave=4),
        ["--channel", "tm-rs-i5", "--rs", "16/4/dual", "--frame-length", "892", "--scid", "0x2C3"],
    ),
    "tm-rs-conventional-no-ocf": (
        PhysicalChannelConfig(dual_basis=False, ocf=False),
        ["--channel", "tm-rs-conventional", "--no-ocf"],
    ),
    "tm-uncoded-unrandomized": (
        PhysicalChannelConfig(rs_e=0, randomizer=False),
        ["--channel", "tm-rs-i5", "--rs", "none", "--no-randomizer"],
    ),
    "aos-insert-zone-rs": (
        PhysicalChannelConfig(
            frame_type=FrameType.AOS,
            spacecraft_id=0x7E,
            frame_length=892,
            rs_interleave=4,
            insert_zone_length=6,
        ),
        ["--channel", "{file}"],
    ),
    "uslp-fixed": (PRESETS["uslp-rs-i5"], ["--channel", "uslp-rs-i5"]),
    "uslp-fixed-bare-insert-zone": (
        PhysicalChannelConfig(
            frame_type=FrameType.USLP,
            spacecraft_id=0xBEEF,
            frame_length=700,
            rs_e=0,
            fecf=False,
            ocf=False,
            insert_zone_length=4,
            vc_count_length=3,
        ),
        ["--channel", "{file}"],
    ),
    "uslp-variable": (PRESETS["uslp-variable"], ["--channel", "uslp-variable"]),
    # another attached sync marker (issue 14): CCSDS 131.0-B §9.3's 64-bit marker (turbo rate 1/2,
    # LDPC) and its 96-bit one (turbo rate 1/3), given by the channel file only
    "tm-asm-64-bit": (PhysicalChannelConfig(asm=TURBO_HALF_ASM), ["--channel", "{file}"]),
    "aos-asm-96-bit-uncoded": (
        PhysicalChannelConfig(
            frame_type=FrameType.AOS, spacecraft_id=0x3C, frame_length=1024, rs_e=0, asm=TURBO_THIRD_ASM
        ),
        ["--channel", "{file}"],
    ),
}


def _packets() -> list[bytes]:
    """An image in 900-octet segments (packets span frames) and housekeeping of another APID."""
    pixels = np.random.default_rng(7).integers(0, 4000, size=(40, 60), dtype=np.uint16)
    when = datetime(2020, 7, 27, tzinfo=UTC)
    _, image = image_packets(
        3,
        pixels,
        12,
        0.01,
        when,
        ImageMetadata(scenario="suite"),
        SequenceCounter(),
        CucTime.from_utc(when),
        900,
    )
    housekeeping = housekeeping_packets(10)
    return [*housekeeping[:5], *image, *housekeeping[5:]]


def _capture(config: PhysicalChannelConfig, packets: list[bytes]) -> bytes:
    tx = Transmitter(config, {1: 0})
    for packet in packets:
        tx.submit(1, packet)
    return os.urandom(77) + tx.drain() + tx.next_cadu()


def _decode(path: Path, out: Path, *flags: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "paleblue", "decode", str(path), "-o", str(out), "--no-products", *flags],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )


@pytest.fixture(scope="module")
def packets() -> list[bytes]:
    return _packets()


@pytest.mark.parametrize("name", sorted(SUITE))
def test_capture_decodes_from_the_command_line_byte_identical(name: str, packets, tmp_path: Path) -> None:
    config, flags = SUITE[name]
    capture = tmp_path / f"{name}.cadu"
    capture.write_bytes(_capture(config, packets))
    channel_file = tmp_path / f"{name}.toml"
    channel_file.write_text(channel_to_toml(ChannelDefinition(name, config)))
    flags = [str(channel_file) if f == "{file}" else f for f in flags]
    exported = tmp_path / "packets.bin"
    result = _decode(capture, tmp_path / "out", *flags, "--export-packets", str(exported))
    assert result.returncode == 1, result.stderr  # decoded; the 77 leading octets are a counted fault
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["input"]["format"] == "cadu"
    link_faults = {k: v for k, v in summary["faults"].items() if k.startswith("link")}
    assert link_faults == {"link: bytes skipped": 1}  # (the seed housekeeping is not our MDB's)
    physical = summary["link"]["cadu"]["physical"]
    assert physical["bytes_skipped"] == 77 and physical["crc_failures"] == physical["header_errors"] == 0
    assert "auto: CADUs" in result.stdout or "auto: variable-length USLP CADUs" in result.stdout
    assert exported.read_bytes() == b"".join(packets)
    _cross_check_packets(exported.read_bytes(), packets)
    if config.rs_e:
        _check_parity_with_reedsolo(config, capture.read_bytes()[77:])


def _cross_check_packets(data: bytes, sent: list[bytes]) -> None:
    """ccsdspy splits the export by APID with the same counts; spacepackets reads every header."""
    by_apid = ccsdspy.utils.split_by_apid(io.BytesIO(data))
    expected: dict[int, int] = {}
    for p in sent:
        expected[(p[0] << 8 | p[1]) & 0x7FF] = expected.get((p[0] << 8 | p[1]) & 0x7FF, 0) + 1
    assert {apid: ccsdspy.utils.count_packets(stream) for apid, stream in by_apid.items()} == expected
    position = 0
    for packet in sent:
        header = SpacePacketHeader.unpack(data[position : position + 6])
        assert header.packet_len == len(packet)
        assert header.apid == (packet[0] << 8 | packet[1]) & 0x7FF
        assert header.seq_count == (packet[2] << 8 | packet[3]) & 0x3FFF
        position += header.packet_len
    assert position == len(data)


def _check_parity_with_reedsolo(config: PhysicalChannelConfig, stream: bytes) -> None:
    """The check symbols of the first CADUs, de-randomized and de-interleaved, are reedsolo's."""
    codec = reedsolo.RSCodec(
        2 * config.rs_e, nsize=255, fcr=128 - config.rs_e, prim=0x187, generator=EXP[PRIMITIVE_POWER], c_exp=8
    )
    k = 255 - 2 * config.rs_e
    interleave = config.rs_interleave
    randomizer = Randomizer(config.codeblock_length) if config.randomizer else None
    for n in range(3):
        cadu = stream[n * config.cadu_length : (n + 1) * config.cadu_length]
        block = cadu[config.asm_length :]
        block = randomizer.apply(block) if randomizer else block
        frame, parity = block[: config.frame_length], block[config.frame_length :]
        for j in range(interleave):
            message = bytes(k - config.frame_length // interleave) + frame[j::interleave]
            check = parity[j::interleave]
            if config.dual_basis:
                message, check = message.translate(TO_CONVENTIONAL), check.translate(TO_CONVENTIONAL)
            assert bytes(codec.encode(message))[k:] == check


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_auto_picks_every_preset_without_a_channel(name: str, packets, tmp_path: Path) -> None:
    capture = tmp_path / "pass.cadu"
    capture.write_bytes(_capture(PRESETS[name], packets))
    exported = tmp_path / "packets.bin"
    result = _decode(capture, tmp_path / "out", "--export-packets", str(exported))
    assert result.returncode == 1, result.stderr
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["input"]["format"] == "cadu"
    assert exported.read_bytes() == b"".join(packets)


def test_a_foreign_capture_without_its_channel_is_nothing_recognised(packets, tmp_path: Path) -> None:
    config, _ = SUITE["aos-no-fecf-no-ocf"]
    capture = tmp_path / "foreign.cadu"
    capture.write_bytes(_capture(config, packets))
    result = _decode(capture, tmp_path / "out")
    assert result.returncode == 3
    assert result.stderr.count("\n") == 1
    assert "nothing recognised: an ASM every 1004 octets" in result.stderr
    assert "AOS frames (randomized) of spacecraft 0x2A" in result.stderr


def test_another_marker_without_its_channel_is_nothing_recognised(packets, tmp_path: Path) -> None:
    config, _ = SUITE["tm-asm-64-bit"]
    capture = tmp_path / "turbo-marker.cadu"
    capture.write_bytes(_capture(config, packets))
    result = _decode(capture, tmp_path / "out")
    assert result.returncode == 3 and result.stderr.count("\n") == 1
    assert "no regular ASM spacing" in result.stderr


@pytest.mark.parametrize(
    ("content", "verdict"),
    [
        (b"", "the file is empty"),
        (np.random.default_rng(1).bytes(50_000), "no regular ASM spacing"),
    ],
)
def test_nothing_recognised_is_one_line_and_exit_3(tmp_path: Path, content: bytes, verdict: str) -> None:
    path = tmp_path / "input.bin"
    path.write_bytes(content)
    result = _decode(path, tmp_path / "out")
    assert result.returncode == 3 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and verdict in result.stderr


def test_a_directory_and_an_impossible_channel_are_usage_errors(tmp_path: Path) -> None:
    result = _decode(tmp_path, tmp_path / "out")
    assert result.returncode == 2 and "is a directory" in result.stderr and result.stderr.count("\n") == 1
    path = tmp_path / "input.bin"
    path.write_bytes(b"\0" * 100)
    result = _decode(path, tmp_path / "out", "--channel", "aos-rs-i4", "--frame-length", "1000")
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "frame_length: with RS E=16, I=4" in result.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text('[frame]\ntype = "tm"\n[coding]\nreed_solomon = { e = 16, interleave = 6 }\n')
    result = _decode(path, tmp_path / "out", "--channel", str(bad))
    assert result.returncode == 2 and "coding.reed_solomon.interleave" in result.stderr


@pytest.mark.parametrize("command", ["run", "probe", "ground"])
def test_every_command_refuses_an_impossible_channel_in_one_line(command: str, tmp_path: Path) -> None:
    argv = {"run": ["run", "-o", str(tmp_path)], "probe": ["probe", "tianwen1-2020-07-27"]}
    argv["ground"] = ["ground", "-o", str(tmp_path)]
    result = subprocess.run(
        [sys.executable, "-m", "paleblue", *argv[command], "--channel", "aos-rs-i4", "--scid", "0x1B5"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "spacecraft_id: 437 does not fit 8 bits (aos)" in result.stderr
