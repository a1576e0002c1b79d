"""Format detection says what it found and why; recordings are decoded with their own channel."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from emulator.transmitter import Transmitter
from groundstation.decode import EXIT_DECODED, EXIT_FAULTS, EXIT_NOTHING_RECOGNISED, decode_file, exit_code
from groundstation.detect import detect
from groundstation.recorder import FsyncPolicy, RecordingWriter
from protocols.capture.zmq_framing import TOPIC_DOWNLINK, Envelope, Layer
from protocols.link.channel_config import FrameType, PhysicalChannelConfig
from protocols.link.channel_file import PRESETS, channel_to_dict
from tests.groundstation.test_decode import _packets

FOREIGN = PhysicalChannelConfig(
    frame_type=FrameType.AOS, spacecraft_id=0x2A, frame_length=1000, rs_e=0, fecf=False, ocf=False
)


@pytest.fixture(scope="module")
def packets() -> list[bytes]:
    return _packets()


def _transmit(config: PhysicalChannelConfig, packets: list[bytes], frames: bool = False) -> bytes:
    tx = Transmitter(config, {1: 0})
    for p in packets:
        tx.submit(1, p)
    if not frames:
        return tx.drain() + tx.next_cadu()
    out = []
    while tx.has_pending():
        out.append(tx.next_frame())
    return b"".join(out)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_cadus_and_frames_of_every_preset(name: str, packets) -> None:
    config = PRESETS[name]
    cadus = detect(os.urandom(50) + _transmit(config, packets), True)
    assert cadus.format == "cadu" and cadus.channel == config, cadus.reason
    frames = detect(_transmit(config, packets, frames=True), True)
    assert frames.format == "frames", frames.reason
    # presets that differ only in coding have the same frames: any of them decodes them
    assert frames.channel.frame_type is config.frame_type
    assert frames.channel.frame_length == config.frame_length


def test_packets_random_empty_and_a_recording(packets) -> None:
    found = detect(b"".join(packets), True)
    assert found.format == "packets" and "33 version-0 headers" in found.reason
    assert detect(os.urandom(20_000), True).format is None
    assert detect(b"", True).reason == "the file is empty"
    assert detect(b"\x89PBR" + bytes(40), True).format == "recording"
    # two packets only, but they are the whole file
    assert detect(b"".join(packets[:2]), True).format == "packets"
    assert detect(b"".join(packets[:2]), False).format is None


def test_a_foreign_channel_is_described_not_guessed(packets) -> None:
    cadus = detect(_transmit(FOREIGN, packets), True)
    assert cadus.format is None
    assert (
        "an ASM every 1004 octets" in cadus.reason
        and "AOS frames (randomized) of spacecraft 0x2A" in cadus.reason
    )
    frames = detect(_transmit(FOREIGN, packets, frames=True), True)
    assert frames.format is None and "AOS frames of 1000 octets, spacecraft 0x2A" in frames.reason
    given = detect(_transmit(FOREIGN, packets), True, FOREIGN, "mine.toml")
    assert given.format == "cadu" and "decode as mine.toml" in given.reason


def test_a_channel_given_whose_cadus_are_another_length_is_refused(packets) -> None:
    found = detect(_transmit(PRESETS["aos-rs-i4"], packets), True, PRESETS["tm-rs-i5"], "tm-rs-i5")
    assert found.format is None and "tried tm-rs-i5 (1279)" in found.reason


def test_exit_codes(packets, tmp_path: Path) -> None:
    source = tmp_path / "pass.cadu"
    source.write_bytes(_transmit(PRESETS["aos-rs-i4"], packets))
    assert exit_code(decode_file(source, tmp_path / "a", write_products=False)) == EXIT_DECODED
    source.write_bytes(os.urandom(10) + _transmit(PRESETS["aos-rs-i4"], packets))
    assert exit_code(decode_file(source, tmp_path / "b", write_products=False)) == EXIT_FAULTS
    source.write_bytes(os.urandom(10_000))
    summary = decode_file(source, tmp_path / "c", write_products=False)
    assert exit_code(summary) == EXIT_NOTHING_RECOGNISED and summary["packets_by_apid"] == {}


def _recording(path: Path, stream: bytes, config: dict) -> None:
    with RecordingWriter(path, scenario="t", config=config, fsync=FsyncPolicy.NEVER) as writer:
        for n, start in enumerate(range(0, len(stream), 5000)):
            envelope = Envelope(Layer.CADUS, 1, n).pack()
            writer.write("downlink", TOPIC_DOWNLINK, envelope, stream[start : start + 5000], n)


def test_a_recording_is_decoded_with_its_own_channel_unless_overridden(packets, tmp_path: Path) -> None:
    path = tmp_path / "pass.pbrec"
    _recording(
        path, _transmit(FOREIGN, packets), {"channel": "x.toml", "channel_config": channel_to_dict(FOREIGN)}
    )
    summary = decode_file(path, tmp_path / "own", write_products=False)
    assert summary["input"]["format"] == "recording"
    assert summary["input"]["channel_source"] == "channel x.toml from the recording's header"
    assert summary["packets_by_apid"] == {"CAMERA": len(packets)}
    overridden = decode_file(path, tmp_path / "given", channel=PRESETS["tm-rs-i5"], write_products=False)
    assert overridden["packets_by_apid"] == {}
    scid = decode_file(
        path, tmp_path / "scid", write_products=False, overrides=lambda c: c.with_changes(spacecraft_id=0x2B)
    )
    assert scid["packets_by_apid"] == {}  # the override applies to the recording's channel


def test_an_older_recording_naming_a_preset_uses_it(packets, tmp_path: Path) -> None:
    path = tmp_path / "old.pbrec"
    _recording(path, _transmit(PRESETS["aos-uncoded"], packets), {"channel": "aos-uncoded"})
    summary = decode_file(path, tmp_path / "out", write_products=False)
    assert summary["packets_by_apid"] == {"CAMERA": len(packets)}


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_recordings_of_every_preset_decode_with_auto_and_no_channel(
    name: str, packets, tmp_path: Path
) -> None:
    path = tmp_path / "pass.pbrec"
    config = PRESETS[name]
    _recording(path, _transmit(config, packets), {"channel": name, "channel_config": channel_to_dict(config)})
    summary = decode_file(path, tmp_path / "out", write_products=False)
    assert summary["input"]["format"] == "recording"
    assert summary["input"]["channel"] == channel_to_dict(config)
    assert summary["packets_by_apid"] == {"CAMERA": len(packets)} and exit_code(summary) == EXIT_DECODED


def test_a_recording_of_a_channel_with_another_marker_decodes_with_auto(packets, tmp_path: Path) -> None:
    """Issue 14: the marker travels in the recording header's channel (hex), so auto needs no flag."""
    config = PhysicalChannelConfig(asm=bytes.fromhex("034776C7272895B0"))
    path = tmp_path / "pass.pbrec"
    _recording(
        path, _transmit(config, packets), {"channel": "t.toml", "channel_config": channel_to_dict(config)}
    )
    summary = decode_file(path, tmp_path / "out", write_products=False)
    assert summary["input"]["format"] == "recording"
    assert summary["link"]["channel"]["asm"] == "034776C7272895B0"
    assert summary["packets_by_apid"] == {"CAMERA": len(packets)} and exit_code(summary) == EXIT_DECODED
