"""Probe and ground station as two real processes over ZeroMQ."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from emulator.downlink import Downlink
from emulator.imaging import image_packets
from protocols.capture.zmq_framing import Layer
from protocols.image.image_metadata import ImageMetadata
from protocols.packets.space_packet import SequenceCounter
from protocols.packets.time_code import CucTime
from tests.integration.conftest import PALEBLUE, SCENARIO, Processes, free_endpoint, run_pass

pytestmark = pytest.mark.slow


def _summary(out: Path) -> dict:
    return json.loads((out / "summary.json").read_text())


def test_run_delivers_the_tianwen1_image(tmp_path: Path) -> None:
    result, summary = run_pass(tmp_path / "out", "--seed", "3", "--timeout", "90")
    (image,) = summary["images"]
    assert image["complete"] and image["crc_ok"]
    assert summary["transport"]["messages_lost"] == 0
    assert summary["faults"] == {}
    quicklook = Image.open(image["files"]["quicklook"])
    assert quicklook.size == (image["width"], image["height"])
    raw = np.asarray(Image.open(image["files"]["raw"]))
    assert raw.max() > 0
    assert "products in" in result.stdout


@pytest.mark.parametrize("ground_first", [True, False], ids=["ground-first", "probe-first"])
def test_start_order_does_not_matter(tmp_path: Path, processes: Processes, endpoint: str, ground_first: bool):
    out = tmp_path / "out"
    ground_args = (
        "ground",
        "--downlink",
        endpoint,
        "-o",
        str(out),
        "--expect-images",
        "1",
        "--timeout",
        "90",
    )
    probe_args = ("probe", SCENARIO, "--downlink", endpoint, "--uplink", free_endpoint(), "--seed", "1")
    first, second = (ground_args, probe_args) if ground_first else (probe_args, ground_args)
    a = processes.start(*first, stdout=subprocess.DEVNULL)
    time.sleep(2.0)  # the second process joins late
    b = processes.start(*second, stdout=subprocess.DEVNULL)
    ground = a if ground_first else b
    assert ground.wait(120) == 0
    summary = _summary(out)
    assert summary["images"][0]["crc_ok"]
    assert summary["transport"]["messages_lost"] == 0  # the slow joiner lost nothing


def test_a_small_receive_queue_holds_the_probe_back_and_loses_nothing(
    tmp_path: Path, processes: Processes, endpoint: str
) -> None:
    """`--receive-queue 4` (octets): ZeroMQ may queue only one message for the station, so the probe
    (XPUB with NODROP) waits for it most of the pass; every message still arrives."""
    out = tmp_path / "out"
    ground = processes.start(
        "ground", "--downlink", endpoint, "-o", str(out), "--expect-images", "1", "--timeout", "90",
        "--receive-queue", "4", stdout=subprocess.DEVNULL,
    )  # fmt: skip
    processes.start("probe", SCENARIO, "--downlink", endpoint, "--uplink", free_endpoint(), "--seed", "2",
                    stdout=subprocess.DEVNULL)  # fmt: skip
    assert ground.wait(120) == 0
    summary = _summary(out)
    assert summary["images"][0]["complete"] and summary["images"][0]["crc_ok"]
    assert summary["transport"]["messages_lost"] == 0 and summary["faults"] == {}


@pytest.mark.parametrize("size", ["0", "-1M", "lots", "1.5M"])
def test_receive_queue_must_be_a_positive_size(tmp_path: Path, size: str) -> None:
    result = subprocess.run(
        [*PALEBLUE, "ground", "--receive-queue", size, "-o", str(tmp_path)],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode == 2 and "--receive-queue" in result.stderr


def test_live_ground_station_survives_garbage(tmp_path: Path, processes: Processes, endpoint: str) -> None:
    out = tmp_path / "out"
    ground = processes.start(
        "ground",
        "--downlink",
        endpoint,
        "-o",
        str(out),
        "--expect-images",
        "1",
        "--timeout",
        "60",
        stdout=subprocess.DEVNULL,
    )
    downlink = Downlink(endpoint)
    stop = threading.Event()
    try:
        assert downlink.wait_for_subscriber(_deadline(stop, 30))
        pixels = np.arange(64 * 48, dtype=np.uint16).reshape(48, 64)
        truth = ImageMetadata(scenario="garbage-test")
        _, packets = image_packets(
            5, pixels, 12, 0.1, datetime(2020, 7, 27, tzinfo=UTC), truth, SequenceCounter(), CucTime(1), 300
        )
        downlink.send(Layer.PACKETS, b"\x00" * 3 + b"\xff" * 100)  # garbage
        downlink.send(Layer.PACKETS, packets[1][:10])  # truncated packet
        downlink.send(Layer.CADUS, b"\x1a\xcf\xfc\x1d" * 4)  # markers with nothing after them
        downlink.send(Layer.CONTROL, b"\x80")  # a layer the station does not take from the downlink
        downlink.send(Layer.PACKETS, bytes.fromhex("0923c0000000") + b"\x00")  # unknown APID 0x123
        for packet in packets:
            downlink.send(Layer.PACKETS, packet)
        assert ground.wait(60) == 0
    finally:
        stop.set()
        downlink.close()
    summary = _summary(out)
    assert summary["images"][0]["crc_ok"]
    faults = summary["faults"]
    assert faults["bytes skipped in packet stream"] >= 2
    assert faults["unknown APID"] == 1
    assert faults["unsupported layer"] == 1


def _deadline(stop: threading.Event, seconds: float) -> threading.Event:
    timer = threading.Timer(seconds, stop.set)
    timer.daemon = True
    timer.start()
    return stop


def test_unknown_scenario_is_one_clear_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [*PALEBLUE, "render", "no-such-scenario", "-o", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "no-such-scenario" in lines[0]
    assert "Traceback" not in result.stderr


def test_malformed_scenario_file_is_one_clear_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[scenario\nname = 'x'\n")
    result = subprocess.run(
        [*PALEBLUE, "render", str(bad), "-o", str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "bad.toml" in result.stderr


def test_run_corrects_injected_bit_errors(tmp_path: Path) -> None:
    """BER 1e-4 on the CADU stream: Reed-Solomon corrects it and the image arrives intact."""
    _, summary = run_pass(tmp_path / "out", "--seed", "5", "--inject-ber", "1e-4", "--timeout", "90")
    assert summary["images"][0]["crc_ok"]
    physical = summary["link"]["cadu"]["physical"]
    assert physical["frames_corrected"] > 0 and physical["symbols_corrected"] > 0
    assert physical["uncorrectable"] == 0
    assert summary["link"]["channel"]["rs_interleave"] == 5


def test_run_with_bare_packets(tmp_path: Path) -> None:
    _, summary = run_pass(tmp_path / "out", "--channel", "none", "--timeout", "90")
    assert summary["images"][0]["crc_ok"]
    assert summary["link"]["cadu"]["physical"]["cadus"] == 0
