"""The merger through a real nats-server: three stations with independent 10 % frame loss, bad
input on the subject, and per-station and merged figures side by side."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from emulator.imaging import image_packets
from emulator.transmitter import Transmitter
from groundstation.bus_reporter import FrameReporter
from groundstation.merge.bus_merge import merge_table, run_merger
from groundstation.station import GroundStation
from protocols.bus.frame_report import FrameReport
from protocols.capture.zmq_framing import Layer
from protocols.image.image_metadata import ImageMetadata
from protocols.link.channel_file import preset
from protocols.packets.space_packet import SequenceCounter
from protocols.packets.time_code import CucTime
from transport.nats_bus import FrameConsumer, FramePublisher

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

STATIONS = ("gds", "cbr", "mad")
SCID = preset().spacecraft_id


def pass_frames(width: int = 720, height: int = 540, images: int = 1) -> list[bytes]:
    """The transfer frames of an image pass (VC 1, several wraps of the 8-bit VC count)."""
    config = preset()
    tx = Transmitter(config, {1: 0})
    sequence = SequenceCounter()
    for image_id in range(1, images + 1):
        pixels = np.random.default_rng(4 + image_id).integers(0, 4096, size=(height, width), dtype=np.uint16)
        _, packets = image_packets(
            image_id, pixels, 12, 0.01, datetime(2020, 7, 27, tzinfo=UTC), ImageMetadata(scenario="unit"),
            sequence, CucTime(image_id), 200,
        )  # fmt: skip
        for packet in packets:
            tx.submit(1, packet)
    frames = []
    while tx.has_pending():
        frames.append(tx.next_frame())
    return frames


def stations_pass(
    frames: list[bytes], lost: dict[str, set[int]], out: Path, url: str, late: tuple[str, ...] = ()
) -> dict[str, dict]:
    """The stations hear the pass at the same time, each without the frames it lost, reduce it
    themselves and report each frame as it comes (live: the bus sees them interleaved). The
    ``late`` stations report their whole pass after the others (a station far behind)."""
    stations = {name: GroundStation(out / name, channel=preset()) for name in lost}
    publishers = {name: FramePublisher(url) for name in lost}
    try:
        for name, station in stations.items():
            FrameReporter(name, publishers[name].publish, station.channel).attach(station.frames)
        for group in ([n for n in stations if n not in late], [n for n in stations if n in late]):
            for k, frame in enumerate(frames):
                for name in group:
                    if k not in lost[name]:
                        stations[name].feed_stream(Layer.FRAMES, frame)
                if k % 64 == 63:
                    time.sleep(0.005)  # the link's pace, roughly: what the bus holds stays interleaved
    finally:
        for publisher in publishers.values():
            publisher.close()
    for name, publisher in publishers.items():
        assert publisher.counters.stored == len(frames) - len(lost[name]) and publisher.counters.failed == 0
    return {name: station.finish() for name, station in stations.items()}


def merge(url: str, out: Path, **options) -> tuple[dict, dict]:
    with FrameConsumer(url) as consumer:
        return run_merger(consumer.fetch, out, threading.Event(), idle_exit_s=1.5, timeout_s=60, **options)


@pytest.mark.parametrize("seed", [0, 19], ids=["no-frame-lost-by-all", "two-frames-lost-by-all"])
def test_three_lossy_stations_merge_into_one_complete_image(tmp_path: Path, nats_server, seed: int) -> None:
    frames = pass_frames()
    assert len(frames) > 600  # the VC count wraps
    rng = np.random.default_rng(seed)
    lost = {name: set(np.flatnonzero(rng.random(len(frames)) < 0.10).tolist()) for name in STATIONS}
    singles = stations_pass(frames, lost, tmp_path, nats_server.url)
    summary, figures = merge(nats_server.url, tmp_path / "merged")
    every_station_lost = set.intersection(*lost.values())
    merged = figures["merged"]
    # the merged stream lacks only the frames every station lost
    assert merged["frames_out"] == len(frames) - len(every_station_lost)
    assert merged["frames_missed"] == len(every_station_lost)
    assert merged["duplicates"] == sum(len(frames) - len(x) for x in lost.values()) - merged["frames_out"]
    for name in STATIONS:
        assert figures["missing_by_station"][name] == len(lost[name])
        assert not singles[name]["images"][0]["complete"]  # each station alone lost image data
    (image,) = summary["images"]
    assert len(every_station_lost) == {0: 0, 19: 2}[seed]
    assert image["complete"] == image["crc_ok"] == (not every_station_lost)
    table = merge_table(figures)
    assert all(name in table for name in STATIONS) and "merged" in table
    print(table)


def test_a_station_behind_the_others_is_merged_and_counted_after_the_images_are_done(
    tmp_path: Path, nats_server
) -> None:
    """gds and cbr together hold every frame: the expected image is done (the window is short,
    yet longer than the two publishers' jitter) while they report the pass's next images and
    before mad's reports come, over a wrap behind; mad's are still merged at their own counts (as
    duplicates) and counted, none left on the bus."""
    frames = pass_frames(360, 270, images=3)
    lost = {"gds": set(range(0, len(frames), 2)), "cbr": set(range(1, len(frames), 2)), "mad": {7, 300}}
    stations_pass(frames, lost, tmp_path, nats_server.url, late=("mad",))
    summary, figures = merge(nats_server.url, tmp_path / "merged", expect_images=1, window=128)
    assert summary["images"][0]["complete"] and summary["images"][0]["crc_ok"]
    assert figures["stations"]["mad"]["reports"] == len(frames) - 2  # every one it stored
    assert figures["missing_by_station"] == {name: len(x) for name, x in lost.items()}
    merged = figures["merged"]
    assert merged["reports"] == len(frames) + len(frames) - 2  # gds and cbr: one copy of each; mad
    assert merged["duplicates"] + merged["late_duplicates"] == len(frames) - 2  # mad's, all behind
    assert merged["frames_missed"] == merged["window_exceeded"] == 0


def test_bad_input_on_the_bus_is_counted_and_never_stops_the_merge(tmp_path: Path, nats_server) -> None:
    frames = pass_frames(40, 30)
    with FramePublisher(nats_server.url) as bus:
        bus.publish_raw("paleblue.frames.gds", b"\x01garbage", "g1")  # not a frame report
        bus.publish_raw("paleblue.frames.gds", b"", "g2")
        foreign = FrameReport("gds", 1, 99, 1, 0, frames[0])
        bus.publish(foreign)  # another spacecraft
        liar = FrameReport("mad", 1, SCID, 1, 0, frames[0])
        bus.publish_raw("paleblue.frames.gds", liar.pack(), "liar")  # its subject names another station
        bus.publish(FrameReport("evil", 1, SCID, 1, 0, frames[0]))  # not in --stations
        bus.publish(FrameReport("mad", 1, SCID, 1, 5, frames[0]))  # its frame's own count is 0
        bus.publish(FrameReport("mad", 1, SCID, 1, 0, frames[0][:-9]))  # not the channel's frame length
        storm = FrameReport("cbr", 1, SCID, 1, 0, frames[0]).pack()
        for k in range(5000):  # a retry storm from one station, each under a new message id
            bus.publish_raw("paleblue.frames.cbr", storm, f"storm-{k}")
    stations_pass(frames, {"gds": set()}, tmp_path, nats_server.url)
    started = time.monotonic()
    summary, figures = merge(nats_server.url, tmp_path / "merged", stations=["gds", "cbr", "mad"])
    assert time.monotonic() - started < 60
    assert figures["refused"] == {
        "not a frame report": 2, "station id not its subject's": 1, "unknown station": 1,
        "inconsistent header": 2,
    }  # fmt: skip
    assert figures["merged"]["foreign_spacecraft"] == 1
    assert figures["stations"]["cbr"]["reports"] == 5000
    assert figures["stations"]["cbr"]["repeats"] == 4999 and figures["stations"]["gds"]["repeats"] == 0
    assert summary["images"] and summary["images"][0]["crc_ok"]  # the good station's image still came
