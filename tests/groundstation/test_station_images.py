"""The station under hostile image headers and restarted probes (issue 12, findings 4 and 5).

Forged headers cost neither memory nor product files, spoofed headers do not evict the image in
flight, and a restarted probe's image 1 is a new product under its own name, while the same image
sent again is a fault.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from emulator.imaging import image_packets
from groundstation.station import GroundStation, MessageBatch
from protocols.capture.zmq_framing import TOPIC_DOWNLINK, Envelope, Layer
from protocols.image.image_metadata import ImageMetadata
from protocols.image.image_transport import SERVICE_IMAGE, SUBTYPE_IMAGE_HEADER, ImageHeader
from protocols.packets.apids import Apid
from protocols.packets.space_packet import SequenceCounter, SequenceFlags
from protocols.packets.time_code import CucTime
from protocols.pus.packets import TmSecondaryHeader, pack_tm_packet

WHEN = datetime(2020, 7, 27, tzinfo=UTC)


def _image(seed: int, sequence: SequenceCounter, image_id: int = 1, when: datetime = WHEN) -> list[bytes]:
    """A 40 x 30 12-bit image of the scenario 'pass': a header and 40 segments of 60 octets."""
    pixels = np.random.default_rng(seed).integers(0, 4096, size=(30, 40), dtype=np.uint16)
    _, packets = image_packets(
        image_id, pixels, 12, 0.01, when, ImageMetadata(scenario="pass"), sequence, CucTime(9), 60
    )
    return packets


def _forged_header(
    sequence: SequenceCounter, image_id: int, width: int, height: int, bit_depth: int
) -> bytes:
    """A header packet that no segment follows, as a hostile sender writes it."""
    octets = width * height * (1 if bit_depth <= 8 else 2)
    header = ImageHeader(
        image_id, width, height, bit_depth, 1, CucTime(3), octets, 1000, -(-octets // 1000), 0, {}
    )
    return pack_tm_packet(
        Apid.CAMERA,
        sequence.next(Apid.CAMERA),
        TmSecondaryHeader(SERVICE_IMAGE, SUBTYPE_IMAGE_HEADER, CucTime(3)),
        header.pack(),
        SequenceFlags.UNSEGMENTED,
    )


def _decode(stream: bytes, out: Path, bulk: bool = True) -> dict:
    station = GroundStation(out)
    station.bulk_segments = bulk
    station.feed_stream(Layer.PACKETS, stream)
    return station.finish()


def _products(out: Path) -> list[str]:
    return sorted(
        path.name for path in out.iterdir() if path.suffix in (".png", ".json") and path.stem != "summary"
    )


def _image_faults(summary: dict) -> dict[str, int]:
    """The faults apart from sequence gaps (the hostile packets are not in the probe's count)."""
    return {kind: n for kind, n in summary["faults"].items() if kind != "packet sequence gap"}


@pytest.mark.parametrize(("width", "height", "depth", "fault"), [
    (8192, 8192, 8, "image header beyond the mission's limits"),  # 64 MiB: legal on the wire
    (2048, 2048, 16, "image header with no segments"),  # the largest legal image, never sent
])  # fmt: skip
def test_forged_headers_allocate_nothing_and_write_no_products(
    tmp_path: Path, width: int, height: int, depth: int, fault: str
) -> None:
    sequence = SequenceCounter()
    forged = [_forged_header(sequence, 100 + i, width, height, depth) for i in range(20)]
    real = _image(1, sequence)
    station = GroundStation(tmp_path)
    held = []
    for packet in [*forged[:10], *real[:20], *forged[10:], *real[20:]]:
        station.feed_stream(Layer.PACKETS, packet)
        held.append(station.reassembler.in_progress_octets)
    summary = station.finish()
    assert max(held) == 40 * 30 * 2  # the real image's buffer alone; today 64 MiB a forged header
    (image,) = summary["images"]
    assert image["complete"] and image["crc_ok"]
    assert _image_faults(summary) == {fault: 20}
    assert _products(tmp_path) == ["pass-001.json", "pass-001.png", "pass-001.raw.png"]


@pytest.mark.parametrize("bulk", [True, False])
def test_spoofed_headers_mid_image_do_not_evict_the_real_image(tmp_path: Path, bulk: bool) -> None:
    sequence = SequenceCounter()
    real = _image(2, sequence)
    spoofs = [_forged_header(sequence, 200 + i, 4, 4, 8) for i in range(4)]
    stream = b"".join([*real[:15], *spoofs, *real[15:]])
    summary = _decode(stream, tmp_path, bulk)
    (image,) = summary["images"]
    assert image["complete"] and image["crc_ok"] and image["files"]["quicklook"].endswith("pass-001.png")
    assert summary["image_reassembly"]["images_evicted"] == 0
    assert summary["image_reassembly"]["headers_unconfirmed"] == 4
    assert _image_faults(summary) == {"image header with no segments": 4}


def _message(session: int, sequence: int, payload: bytes) -> list[bytes]:
    return [TOPIC_DOWNLINK, Envelope(Layer.PACKETS, session, sequence).pack(), payload]


@pytest.mark.parametrize("joined", [False, True], ids=["live", "recording"])
def test_a_restarted_probes_image_1_is_delivered_under_its_own_name(tmp_path: Path, joined: bool) -> None:
    """Two passes of the same scenario: same image id, same capture time, other pixels; each pass
    is a new publisher session, numbering its messages and packets from 0 again."""
    station = GroundStation(tmp_path)
    batch = MessageBatch(station) if joined else None
    for session, seed in ((11, 1), (12, 2)):
        packets = _image(seed, SequenceCounter())
        for number, start in enumerate(range(0, len(packets), 10)):
            parts = _message(session, number, b"".join(packets[start : start + 10]))
            batch.add(parts) if batch is not None else station.handle_message(parts)
    if batch is not None:
        batch.flush()
    summary = station.finish()
    first, second = summary["images"]
    assert first["complete"] and first["crc_ok"] and second["complete"] and second["crc_ok"]
    assert first["sha256"] != second["sha256"]
    assert Path(first["files"]["quicklook"]).name == "pass-001.png"
    assert Path(second["files"]["quicklook"]).name == "pass-001-2.png"
    assert summary["image_reassembly"]["duplicate_segments"] == 0
    assert len(_products(tmp_path)) == 6


def test_a_raw_file_of_two_passes_gives_both_images(tmp_path: Path) -> None:
    """No session in a raw packet file: the capture time tells the two images 1 apart."""
    later = datetime(2020, 7, 28, tzinfo=UTC)
    stream = b"".join([*_image(1, SequenceCounter()), *_image(2, SequenceCounter(), when=later)])
    summary = _decode(stream, tmp_path)
    assert [(p["complete"], p["crc_ok"]) for p in summary["images"]] == [(True, True)] * 2
    assert [Path(p["files"]["quicklook"]).name for p in summary["images"]] == [
        "pass-001.png",
        "pass-001-2.png",
    ]


def test_the_same_image_sent_again_is_a_fault(tmp_path: Path) -> None:
    packets = _image(3, SequenceCounter())
    station = GroundStation(tmp_path)
    for number, packet in enumerate([*packets, *packets]):
        station.handle_message(_message(5, number, packet))
    summary = station.finish()
    assert len(summary["images"]) == 1
    assert summary["faults"]["duplicate image"] == 1
    assert summary["image_reassembly"]["duplicate_segments"] == len(packets) - 1


def test_a_partial_image_looks_the_same_by_image_packets_and_by_cfdp(tmp_path: Path) -> None:
    """Issue 15: both paths draw a partial image with one function (hatched gaps, levels from
    what was received), so the same loss gives the same quick-look."""
    from types import SimpleNamespace

    from PIL import Image

    from groundstation.file_reception import ImageFileReception
    from protocols.image.image_file import pack_image_file
    from protocols.image.image_transport import ImageSegment
    from protocols.packets.space_packet import SpacePacket
    from protocols.pus.packets import unpack_tm_packet

    packets = _image(4, SequenceCounter())
    lost = set(range(12, 30))  # segments of 60 octets: octets 720..1800 never come
    by_packets = GroundStation(tmp_path / "packets")
    for index, packet in enumerate(packets[1:]):
        if index not in lost:
            by_packets.feed_stream(Layer.PACKETS, packet)
    by_packets.feed_stream(Layer.PACKETS, packets[0])  # the header last: segments wait as orphans
    (product,) = by_packets.finish()["images"]
    assert not product["complete"] and product["missing_octets"] == 18 * 60

    header = ImageHeader.unpack(unpack_tm_packet(SpacePacket.unpack(packets[0])[0])[1])
    pixels = b"".join(
        ImageSegment.unpack(unpack_tm_packet(SpacePacket.unpack(p)[0])[1]).data for p in packets[1:]
    )
    file = bytearray(pack_image_file(header, pixels))
    start = len(file) - header.image_octets
    file[start + 720 : start + 1800] = bytes(1080)  # zeros in the gap, as a CFDP receiver holds them
    receiver = SimpleNamespace(
        ended=False,
        partial_bytes=lambda: bytes(file),
        received=SimpleNamespace(gaps=lambda a, b: [(start + 720, start + 1800)]),
    )
    by_cfdp = ImageFileReception(lambda pdu: None, tmp_path / "cfdp", lambda *args: None, 0.2)
    (tmp_path / "cfdp").mkdir()
    by_cfdp.entity.transactions[(1, 1)] = receiver
    by_cfdp._write_partial((1, 1))

    packet_look = np.asarray(Image.open(product["files"]["quicklook"]))
    cfdp_look = np.asarray(Image.open(tmp_path / "cfdp" / "pass-001-partial.png"))
    assert np.array_equal(packet_look, cfdp_look)
    gap = packet_look.reshape(-1)[720 // 2 : 1800 // 2]  # two octets a pixel
    assert set(np.unique(gap).tolist()) == {96, 160}  # hatched, not black
