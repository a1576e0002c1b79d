"""The ground station's processing chain survives and counts every fault."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emulator.imaging import image_packets
from groundstation.station import GroundStation
from protocols.capture.zmq_framing import TOPIC_DOWNLINK, Envelope, Layer
from protocols.image.image_metadata import BodyTruth, ImageMetadata
from protocols.packets.space_packet import SequenceCounter
from protocols.packets.time_code import CucTime
from protocols.pus.packets import TmSecondaryHeader, pack_tm_packet


class Sender:
    """Wraps payloads in envelopes as the probe's downlink does."""

    def __init__(self, session: int = 7) -> None:
        self.session = session
        self.sequence = 0

    def message(self, payload: bytes, layer: Layer = Layer.PACKETS) -> list[bytes]:
        envelope = Envelope(layer, self.session, self.sequence).pack()
        self.sequence += 1
        return [TOPIC_DOWNLINK, envelope, payload]


def _image(seed: int = 1, width: int = 40, height: int = 30) -> tuple[np.ndarray, list[bytes]]:
    pixels = np.random.default_rng(seed).integers(0, 4096, size=(height, width), dtype=np.uint16)
    truth = ImageMetadata(
        scenario="unit", bodies={"earth": BodyTruth(centre_px=(20.0, 15.0), apparent_radius_px=5.0)}
    )
    _, packets = image_packets(
        1, pixels, 12, 0.01, datetime(2020, 7, 27, tzinfo=UTC), truth, SequenceCounter(), CucTime(1), 200
    )
    return pixels, packets


def test_clean_image_is_written_with_products(tmp_path: Path) -> None:
    _, packets = _image()
    station = GroundStation(tmp_path, expect_images=1)
    sender = Sender()
    for packet in packets:
        station.handle_message(sender.message(packet))
    assert station.finished
    summary = station.finish()
    (image,) = summary["images"]
    assert image["complete"] and image["crc_ok"]
    assert summary["faults"] == {}
    assert Path(image["files"]["quicklook"]).exists()
    raw = Path(image["files"]["raw"])
    assert raw.exists()
    assert json.loads((tmp_path / "summary.json").read_text())["images"][0]["sha256"] == image["sha256"]
    assert (tmp_path / "report.md").read_text().startswith("# paleblue")


def test_garbage_truncation_and_unknown_apids_are_counted_and_survived(tmp_path: Path) -> None:
    _, packets = _image()
    station = GroundStation(tmp_path)
    sender = Sender()
    station.handle_message(sender.message(b"\xff" * 50))  # garbage
    station.handle_message(sender.message(packets[1][:-3]))  # truncated packet
    unknown = pack_tm_packet(0x123, 0, TmSecondaryHeader(3, 25, CucTime(0)), b"x")
    station.handle_message(sender.message(unknown))
    station.handle_message([b"tm", b"short", b"x"])  # bad envelope
    station.handle_message([b"only one frame"])
    station.handle_message([b"zz", Envelope(Layer.PACKETS, 7, 99).pack(), b""])  # unknown topic
    for packet in packets:
        station.handle_message(sender.message(packet))
    summary = station.finish()
    faults = summary["faults"]
    assert faults["bytes skipped in packet stream"] >= 2
    assert faults["unknown APID"] == 1
    assert faults["bad envelope"] == 1
    assert faults["malformed message"] == 1
    assert faults["unknown topic"] == 1
    assert summary["images"][0]["crc_ok"]  # good data after bad data is not lost


def test_transport_loss_is_counted_and_image_marked_incomplete(tmp_path: Path) -> None:
    _, packets = _image()
    station = GroundStation(tmp_path)
    sender = Sender()
    for i, packet in enumerate(packets):
        message = sender.message(packet)
        if i not in (3, 4):
            station.handle_message(message)
    summary = station.finish()
    assert summary["transport"]["messages_lost"] == 2
    (image,) = summary["images"]
    assert not image["complete"]
    assert image["missing_octets"] == 400
    assert "partial" in Path(image["files"]["quicklook"]).name


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.binary(max_size=300), max_size=20))
def test_station_never_raises_on_any_payloads(tmp_path: Path, payloads: list[bytes]) -> None:
    station = GroundStation(tmp_path / "fuzz")
    sender = Sender()
    for payload in payloads:
        station.handle_message(sender.message(payload))
    summary = station.summary()
    assert "internal error" not in summary["faults"]
