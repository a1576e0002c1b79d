"""`run_merger`'s way out once the expected images are done, with the bus fed in memory (the
merger's ``fetch`` is a function: no server needed to drive its loop)."""

from __future__ import annotations

import threading
import time
from collections import namedtuple
from pathlib import Path

import pytest

import groundstation.merge.bus_merge as bus_merge
from groundstation.merge.bus_merge import run_merger
from protocols.bus.frame_report import FrameReport
from protocols.link.channel_file import preset
from protocols.link.tm_frame import unpack_routing_fast
from tests.groundstation.merge.test_bus_merge import pass_frames

pytestmark = pytest.mark.timeout(120)

Message = namedtuple("Message", "subject data")


def reports(station: str, frames: list[bytes]) -> list[Message]:
    out = []
    for k, frame in enumerate(frames):
        _, scid, vcid, _, count, _ = unpack_routing_fast(frame)
        report = FrameReport(station, 1_000 * k, scid, vcid, count, frame, count_epoch=k // 256)
        out.append(Message(report.subject, report.pack()))
    return out


def test_a_station_still_reporting_after_the_images_is_drained_then_left(tmp_path: Path, monkeypatch) -> None:
    """gds brings the whole image; mad then repeats a frame for ever (a station stuck replaying):
    the merger merges and counts mad's reports for DRAIN_AFTER_DONE_S, then stops and writes
    everything; every fetched message is handled."""
    monkeypatch.setattr(bus_merge, "DRAIN_AFTER_DONE_S", 0.5)
    frames = pass_frames(120, 90)
    queue = reports("gds", frames)
    stuck = reports("mad", frames[-1:])[0]
    fetched = 0

    def fetch(most: int, timeout_s: float) -> list[Message]:
        nonlocal fetched
        batch = queue[:most] if queue else [stuck] * 10
        del queue[: len(batch)]
        fetched += len(batch)
        time.sleep(0.001)
        return batch

    started = time.monotonic()
    summary, figures = run_merger(
        fetch, tmp_path, threading.Event(), expect_images=1, timeout_s=60, channel=preset()
    )
    assert time.monotonic() - started < 10  # drained for 0.5 s, not until the timeout
    assert summary["images"][0]["complete"]
    assert figures["messages"] == fetched  # none fetched and left unhandled
    assert figures["stations"]["mad"]["reports"] == fetched - len(frames) > 10
    assert (tmp_path / "merge.json").exists() and (tmp_path / "summary.json").exists()


def test_the_merger_stops_once_the_images_are_done_and_the_bus_is_quiet(tmp_path: Path) -> None:
    frames = pass_frames(120, 90)
    queue = reports("gds", frames)

    def fetch(most: int, timeout_s: float) -> list[Message]:
        batch = queue[:most]
        del queue[: len(batch)]
        if not batch:
            time.sleep(timeout_s)
        return batch

    started = time.monotonic()
    summary, figures = run_merger(
        fetch, tmp_path, threading.Event(), expect_images=1, timeout_s=60, channel=preset()
    )
    assert time.monotonic() - started < 10
    assert summary["images"][0]["complete"] and figures["stations"]["gds"]["reports"] == len(frames)
