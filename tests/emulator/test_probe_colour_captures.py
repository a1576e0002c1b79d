"""A colour camera's capture leaves the probe whole: one image per band, each with its own image id
and the capture's id, by image packets and by CFDP alike (issue 21)."""

from __future__ import annotations

import pytest

from emulator.probe import Probe, ProbeOptions
from emulator.scenario import load_scenario
from protocols.image.image_file import unpack_image_file
from protocols.image.image_metadata import ImageMetadata
from protocols.image.image_transport import SUBTYPE_IMAGE_HEADER, ImageHeader
from protocols.mdb.mission_db import load_mission_db
from protocols.pus.packets import TmPacket

MDB = load_mission_db()
COLOUR = "hayabusa2-onct-2015-11-26"


class _Link:
    def __init__(self) -> None:
        self.packets: list[bytes] = []

    def submit(self, _vc: int, packet: bytes) -> None:
        self.packets.append(packet)

    def payload_octets(self) -> int:
        return 0  # always room: the probe feeds every waiting capture


class _Files:
    def __init__(self) -> None:
        self.files: dict[int, bytes] = {}

    def put(self, image_id: int, data: bytes) -> None:
        self.files[image_id] = data


@pytest.fixture(scope="module")
def probe() -> Probe:
    probe = Probe(load_scenario(COLOUR), ProbeOptions(downlink="inproc://unused", seed=5), MDB)
    probe.made = dict(probe._packetize(1, probe._capture(1)))  # type: ignore[attr-defined]
    return probe


def test_every_band_is_an_image_with_its_own_id_and_the_shared_capture(probe: Probe) -> None:
    assert probe.bands == ("red", "green", "blue")
    assert probe.captures == {1: (1, 2, 3)}
    seen = []
    for image_id, band in zip((1, 2, 3), probe.bands, strict=True):
        header = probe.made[image_id].header
        metadata = ImageMetadata.from_map(header.metadata)
        assert header.image_id == metadata.image_id == image_id
        assert metadata.capture is not None and metadata.sensor is not None
        assert metadata.capture.capture_id == f"{COLOUR}-capture-001"
        assert metadata.capture.band_index == image_id - 1 and metadata.capture.bands == probe.bands
        assert metadata.sensor.band == band == metadata.band_of_capture
        low, high = metadata.sensor.band_nm
        seen.append((low + high) / 2)
    assert seen == sorted(seen, reverse=True)  # red, green, blue: each band's own passband
    assert len({probe.made[i].header.crc32 for i in (1, 2, 3)}) == 3  # three different frames


def test_the_bands_of_capture_n_are_images_after_those_of_capture_n_minus_1(probe: Probe) -> None:
    assert [probe.band_image_id(2, k) for k in range(3)] == [4, 5, 6]
    mono = Probe(load_scenario("tianwen1-2020-07-27"), ProbeOptions(downlink="inproc://unused"), MDB)
    assert len(mono.bands) == 1 and [mono.band_image_id(n, 0) for n in (1, 2, 7)] == [1, 2, 7]


def test_image_packets_carry_every_band(probe: Probe) -> None:
    link = _Link()
    probe._link = link  # type: ignore[assignment]
    try:
        probe._queue_image(1)  # DOWNLINK_IMAGE names a capture: all its bands go
        probe._feed(link)  # type: ignore[arg-type]
    finally:
        probe._link = None
    assert len(link.packets) == sum(len(probe.made[i].packets) for i in (1, 2, 3))
    tms = [TmPacket.unpack(p) for p in link.packets]
    headers = [ImageHeader.unpack(tm.app_data) for tm in tms if tm.subtype == SUBTYPE_IMAGE_HEADER]
    assert [h.image_id for h in headers] == [1, 2, 3]


def test_cfdp_carries_every_band_as_its_own_file(probe: Probe) -> None:
    files = _Files()
    probe._link, probe._files = _Link(), files  # type: ignore[assignment]
    try:
        probe._queue_image(1)
    finally:
        probe._link, probe._files = None, None
    assert sorted(files.files) == [1, 2, 3]
    for image_id, data in files.files.items():
        header, pixels = unpack_image_file(data)
        assert header.image_id == image_id and pixels == probe.made[image_id].pixels
        assert ImageMetadata.from_map(header.metadata).capture.band_index == image_id - 1


def test_an_image_not_on_board_is_refused(probe: Probe) -> None:
    probe._link = _Link()  # type: ignore[assignment]
    try:
        with pytest.raises(KeyError):
            probe._queue_image(2)
    finally:
        probe._link = None
