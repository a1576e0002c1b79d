"""Offline decoding of CADU, frame and packet files through the live station's chain."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import msgpack
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emulator.imaging import image_packets
from emulator.transmitter import Transmitter
from groundstation.decode import decode_file, detect_format
from groundstation.station import GroundStation
from protocols.capture.zmq_framing import Layer
from protocols.image.image_metadata import ImageMetadata
from protocols.link.channel_file import preset
from protocols.packets.space_packet import SequenceCounter
from protocols.packets.time_code import CucTime


def _packets() -> list[bytes]:
    pixels = np.random.default_rng(4).integers(0, 4000, size=(60, 80), dtype=np.uint16)
    _, packets = image_packets(
        1,
        pixels,
        12,
        0.01,
        datetime(2020, 7, 27, tzinfo=UTC),
        ImageMetadata(scenario="t"),
        SequenceCounter(),
        CucTime.from_utc(datetime(2020, 7, 27, tzinfo=UTC)),
        300,
    )
    return packets


def _cadus(packets: list[bytes]) -> bytes:
    tx = Transmitter(preset(), {1: 0})
    for p in packets:
        tx.submit(1, p)
    return tx.drain() + tx.next_cadu()  # one idle CADU flushes the last frame


@pytest.fixture(scope="module")
def packets() -> list[bytes]:
    return _packets()


def test_cadu_file_with_leading_garbage_decodes_and_exports_packets(tmp_path: Path, packets) -> None:
    source = tmp_path / "pass.cadu"
    source.write_bytes(os.urandom(333) + _cadus(packets))
    exported = tmp_path / "packets.bin"
    summary = decode_file(source, tmp_path / "out", "auto", export_packets=exported)
    assert summary["input"]["format"] == "cadu"
    assert summary["images"][0]["crc_ok"]
    assert exported.read_bytes() == b"".join(packets)
    assert summary["packets_by_apid"] == {"CAMERA": len(packets)}
    assert summary["packet_time_span_by_apid"]["CAMERA"][0].startswith("2020-07-27")


def test_packet_file_decodes(tmp_path: Path, packets) -> None:
    source = tmp_path / "pass.bin"
    source.write_bytes(b"".join(packets))
    summary = decode_file(source, tmp_path / "out", "auto")
    assert summary["input"]["format"] == "packets"
    assert summary["images"][0]["crc_ok"] and summary["faults"] == {}


PACKET_DAMAGE = {
    "length-0": lambda p: p[:4] + b"\x00\x00" + p[6:],
    "version-bit": lambda p: bytes([p[0] ^ 0x20]) + p[1:],
    "octet-inserted": lambda p: p[:40] + b"\x5a" + p[40:],
    "octet-deleted": lambda p: p[:40] + p[41:],
}


@pytest.mark.parametrize("damage", PACKET_DAMAGE)
def test_a_damaged_packet_in_a_packet_file_loses_only_itself(tmp_path: Path, packets, damage: str) -> None:
    """Issue 12, finding 1: one length field set to 0 used to lose every packet after it."""
    victim = len(packets) // 2
    damaged = PACKET_DAMAGE[damage](packets[victim])
    source = tmp_path / "damaged.bin"
    source.write_bytes(b"".join([*packets[:victim], damaged, *packets[victim + 1 :]]))
    exported = tmp_path / "packets.bin"
    summary = decode_file(source, tmp_path / "out", "packets", export_packets=exported)
    assert exported.read_bytes() == b"".join(packets[:victim] + packets[victim + 1 :])
    assert summary["packets_by_apid"] == {"CAMERA": len(packets) - 1}
    assert summary["faults"]["bytes skipped in packet stream"] == 1
    assert summary["faults"]["packet sequence gap"] == 1  # the one packet lost, counted as a gap
    (image,) = summary["images"]
    assert not image["complete"] and 0 < image["missing_octets"] <= len(packets[victim])


@pytest.mark.parametrize("content", [b"", os.urandom(5000), b"\x1a\xcf\xfc\x1d" * 500])
@pytest.mark.parametrize("fmt", ["auto", "cadu", "frames", "packets"])
def test_bad_files_never_raise(tmp_path: Path, content: bytes, fmt: str) -> None:
    source = tmp_path / "bad.bin"
    source.write_bytes(content)
    summary = decode_file(source, tmp_path / "out", fmt)
    assert summary["images"] == []
    assert "internal error" not in summary["faults"]


def test_truncated_cadu_file_keeps_everything_before_the_cut(tmp_path: Path, packets) -> None:
    stream = _cadus(packets)
    source = tmp_path / "cut.cadu"
    source.write_bytes(stream[: len(stream) // 2])
    summary = decode_file(source, tmp_path / "out", "cadu")
    (image,) = summary["images"]
    assert not image["complete"] and image["missing_octets"] < 80 * 60 * 2


@settings(max_examples=15, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(st.lists(st.integers(1, 5000), min_size=1, max_size=30))
def test_any_chunking_gives_the_same_products(tmp_path_factory, sizes: list[int]) -> None:
    stream = _cadus(_packets())
    results = []
    for chunking in ([len(stream)], sizes):
        station = GroundStation(tmp_path_factory.mktemp("chunks"))
        position, i = 0, 0
        while position < len(stream):
            size = chunking[i % len(chunking)]
            station.feed_stream(Layer.CADUS, stream[position : position + size])
            position += size
            i += 1
        summary = station.finish()
        results.append(([p["sha256"] for p in summary["images"]], summary["packets_by_apid"]))
    assert results[0] == results[1]
    assert len(results[0][0]) == 1


def test_detect_format() -> None:
    channel = preset()
    assert detect_format(b"\x89PBR....", channel) == "recording"
    assert detect_format(b"\x00" * 10, channel) == "packets"


def _newer_recording(path: Path, packets: list[bytes]) -> Path:
    """A recording whose header says a newer format version, then units that version 1 could read."""
    from protocols.capture.recording import FORMAT_VERSION, Direction, UnitRecord, encode_record, frame_body

    header = {
        "magic": "paleblue-recording", "format_version": FORMAT_VERSION + 1, "paleblue_version": "9.0",
        "scenario": "future", "config": {}, "start_ns": 0, "index_interval_bytes": 1 << 20,
    }  # fmt: skip
    body = msgpack.packb([0, header], use_bin_type=True)
    units = [UnitRecord(n, Direction.DOWNLINK, Layer.PACKETS, 1, n, p) for n, p in enumerate(packets)]
    path.write_bytes(frame_body(body) + body + b"".join(encode_record(u) for u in units))
    return path


def test_decode_refuses_a_recording_from_a_newer_format_version(tmp_path: Path, packets) -> None:
    """Issue 12, finding 9: replay refused it, decode read it as version 1."""
    from protocols.capture.recording import RecordingVersionError

    source = _newer_recording(tmp_path / "future.pbrec", packets)
    for fmt in ("auto", "recording"):
        with pytest.raises(RecordingVersionError, match="newer"):
            decode_file(source, tmp_path / "out", fmt)


@pytest.mark.parametrize("command", ["decode", "replay"])
def test_decode_and_replay_refuse_a_newer_recording_alike(tmp_path: Path, packets, command: str) -> None:
    """One line on stderr, exit status 2, from both commands."""
    from tests.integration.conftest import PALEBLUE, free_endpoint

    source = _newer_recording(tmp_path / "future.pbrec", packets)
    options = ["-o", str(tmp_path / "out")] if command == "decode" else ["--to", free_endpoint()]
    result = subprocess.run(
        [*PALEBLUE, command, str(source), *options], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"paleblue: {command}: ") and "format version 2 is newer" in line
    assert not (tmp_path / "out" / "summary.json").exists()


def test_a_cadu_file_decoded_with_the_wrong_channel_hints_at_the_channel(tmp_path: Path, packets) -> None:
    from groundstation.pass_report import PassReport

    source = tmp_path / "pass.cadu"
    source.write_bytes(_cadus(packets) * 3)
    out = tmp_path / "out"
    summary = decode_file(source, out, "cadu", preset("aos-rs-i4"), channel_name="aos-rs-i4")
    assert summary["link"]["cadu"]["physical"]["bytes_skipped"] > source.stat().st_size / 2
    assert "tm-rs-i5" in summary["input"]["looked_like"]
    hint = PassReport(summary).channel_hint()
    assert hint.startswith("most bytes were skipped (") and "check --channel" in hint
    assert "this file looked like CADUs" in hint and "tm-rs-i5" in hint
    assert f"hint: {hint}" in PassReport(summary).decode_table().splitlines()
    assert "check --channel (this file looked like CADUs" in (out / "report.md").read_text()


def test_a_cadu_file_decoded_with_its_channel_gives_no_hint(tmp_path: Path, packets) -> None:
    from groundstation.pass_report import PassReport

    source = tmp_path / "pass.cadu"
    source.write_bytes(_cadus(packets))
    summary = decode_file(source, tmp_path / "out", "cadu", preset())
    assert "looked_like" not in summary["input"]
    assert PassReport(summary).channel_hint() is None
    assert "skipped" not in (tmp_path / "out" / "report.md").read_text()


@pytest.mark.parametrize("damage", ["torn", "corrupt"])
def test_a_damaged_recording_says_where_and_why_without_verbose(tmp_path: Path, damage: str) -> None:
    from groundstation.pass_report import PassReport

    golden = Path(__file__).resolve().parents[1] / "fixtures" / "golden" / "longjiang2-ccsds121.rec"
    data = bytearray(golden.read_bytes())
    if damage == "torn":
        data = data[:300_000]
    else:
        data[100_000:100_050] = b"\xff" * 50
    source = tmp_path / "damaged.rec"
    source.write_bytes(bytes(data))
    summary = decode_file(source, tmp_path / "out")
    found = summary["input"]["recording_damage"]
    assert found["stretches"] == 1 and found["octets_skipped"] == found["first"][0]["length"] > 0
    first = found["first"][0]
    reason = "torn" if damage == "torn" else "CRC-32 mismatch"
    assert reason in first["reason"]
    where = f"octets at offset {first['offset']:,}: {first['reason']}"
    assert any(where in line for line in PassReport(summary).decode_table().splitlines())
    assert where in (tmp_path / "out" / "report.md").read_text()
