"""Image progress updates for the live feed: one per image per tick that added segments, in order,
and a last one (``done``) when the image is handed over, complete or not."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from emulator.imaging import image_packets
from groundstation.image_progress import ImageProgressUpdates
from groundstation.station import GroundStation
from protocols.capture.zmq_framing import TOPIC_DOWNLINK, Envelope, Layer
from protocols.image.image_metadata import ImageMetadata
from protocols.image.image_transport import ImageHeader, ReassembledImage, segments_received
from protocols.packets.space_packet import SequenceCounter
from protocols.packets.time_code import CucTime

SEGMENTS = 40  # a 40 x 30 12-bit image in segments of 60 octets


def _packets() -> list[bytes]:
    from datetime import UTC, datetime

    pixels = np.random.default_rng(1).integers(0, 4096, size=(30, 40), dtype=np.uint16)
    _, packets = image_packets(
        7, pixels, 12, 0.01, datetime(2020, 7, 27, tzinfo=UTC), ImageMetadata(scenario="pass"),
        SequenceCounter(), CucTime(9), 60,
    )  # fmt: skip
    return packets


def _pass(tmp_path: Path, lost: set[int], per_tick: int, bulk: bool) -> list[dict]:
    station = GroundStation(tmp_path, write_products=False)
    station.bulk_segments = bulk
    updates: list[dict] = []
    progress = ImageProgressUpdates(station, updates.append, lambda: 1.0)
    header, *segments = _packets()
    kept = [header, *(p for k, p in enumerate(segments) if k not in lost)]
    for start in range(0, len(kept), per_tick):
        payload = b"".join(kept[start : start + per_tick])
        station.handle_message([TOPIC_DOWNLINK, Envelope(Layer.PACKETS, 1, start).pack(), payload])
        progress.tick()
        progress.tick()  # nothing new: nothing published
    station.finish()
    progress.tick()
    return updates


@pytest.mark.parametrize("bulk", [True, False], ids=["bulk", "one-by-one"])
def test_a_complete_image_goes_up_to_100_in_order(tmp_path: Path, bulk: bool) -> None:
    updates = _pass(tmp_path, set(), per_tick=6, bulk=bulk)
    received = [u["segments_received"] for u in updates]
    assert received == [5, 11, 17, 23, 29, 35, 40]  # the first message holds the header
    assert [u["done"] for u in updates] == [False] * 6 + [True]
    assert updates[-1]["complete"] and updates[-1]["percent"] == 100.0
    assert all(u["segments_total"] == SEGMENTS and u["image_id"] == 7 for u in updates)
    assert all(u["delivery"] == "packets" and u["percent"] < 100 for u in updates[:-1])


def test_an_incomplete_image_ends_done_below_100(tmp_path: Path) -> None:
    lost = set(range(12, 30))
    updates = _pass(tmp_path, lost, per_tick=10, bulk=True)
    last = updates[-1]
    assert last["done"] and not last["complete"] and not any(u["done"] for u in updates[:-1])
    assert last["segments_received"] == SEGMENTS - len(lost)
    assert last["percent"] == pytest.approx(100 * 22 / 40)
    assert [u["segments_received"] for u in updates] == sorted(u["segments_received"] for u in updates)


def test_segments_received_of_a_reassembled_image() -> None:
    header = ImageHeader(1, 10, 10, 8, 1, CucTime(3), 100, 30, 4, 0, {})  # segments of 30, 30, 30, 10
    assert segments_received(ReassembledImage(header, bytes(100), [])) == 4
    assert segments_received(ReassembledImage(header, bytes(100), [(30, 60), (90, 100)])) == 2
    assert segments_received(ReassembledImage(header, bytes(100), [(0, 100)])) == 0
