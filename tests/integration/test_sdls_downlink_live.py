"""SDLS on the live downlink: a whole `paleblue run --keys` with the downlink encrypted delivers the
image; a live station refuses tampered, replayed and foreign frames, counts them by reason in
summary.json and report.md, logs them, and decodes the genuine frames around them."""

from __future__ import annotations

import binascii
import json
import subprocess
import threading
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from emulator.downlink import Downlink
from emulator.imaging import image_packets
from emulator.transmitter import Transmitter
from protocols.capture.zmq_framing import Layer
from protocols.coding.cadu import CaduCodec
from protocols.image.image_metadata import ImageMetadata
from protocols.link.channel_file import preset
from protocols.packets.space_packet import SequenceCounter
from protocols.packets.time_code import CucTime
from protocols.sdls import ServiceType
from protocols.sdls.downlink import DownlinkSecurity, security_offset
from protocols.sdls.keystore import default_associations, downlink_associations, generate, load_context
from tests.integration.conftest import Processes, free_endpoint, run_pass

pytestmark = pytest.mark.slow


def keys_with_downlink(directory: Path, service: ServiceType) -> Path:
    generate(directory, default_associations() + downlink_associations(service))
    return directory


def test_run_with_the_downlink_encrypted_delivers_the_image(tmp_path: Path) -> None:
    keys = keys_with_downlink(tmp_path / "keys", ServiceType.AUTHENTICATED_ENCRYPTION)
    _, summary = run_pass(tmp_path / "out", "--seed", "3", "--timeout", "120", "--keys", str(keys))
    (image,) = summary["images"]
    assert image["complete"] and image["crc_ok"]
    sdls = summary["link"]["sdls"]
    assert sdls["link"] == "tm" and sdls["virtual_channels"] == [0, 1]
    assert sdls["frames_verified"] > 100 and sdls["frames_rejected"] == 0
    assert summary["faults"] == {}
    assert "Space data link security on TM VCs 0, 1" in (tmp_path / "out" / "report.md").read_text()
    # the probe saved a leased ARSN, the station the ARSNs it accepted: both move on next time
    saved = json.loads((keys / "arsn-station.json").read_text())["arsn"]
    assert int(saved["11"]) > 65536  # the probe started its ARSNs a lease on


def test_run_on_fixed_length_uslp_with_the_downlink_encrypted_delivers_the_image(tmp_path: Path) -> None:
    keys = keys_with_downlink(tmp_path / "keys", ServiceType.AUTHENTICATED_ENCRYPTION)
    _, summary = run_pass(
        tmp_path / "out", "--seed", "3", "--timeout", "120", "--keys", str(keys), "--channel", "uslp-rs-i5"
    )
    assert summary["images"] and all(i["complete"] and i["crc_ok"] for i in summary["images"])
    sdls = summary["link"]["sdls"]
    assert sdls["link"] == "uslp" and sdls["virtual_channels"] == [0, 1]
    assert sdls["frames_verified"] > 100 and sdls["frames_rejected"] == 0 and summary["faults"] == {}
    assert "Space data link security on USLP VCs 0, 1" in (tmp_path / "out" / "report.md").read_text()


def refit(frame: bytes) -> bytes:
    return frame[:-2] + binascii.crc_hqx(frame[:-2], 0xFFFF).to_bytes(2, "big")


def test_live_station_refuses_bad_frames_by_reason_and_decodes_the_rest(
    tmp_path: Path, processes: Processes
) -> None:
    keys = keys_with_downlink(tmp_path / "keys", ServiceType.AUTHENTICATION)
    endpoint, out = free_endpoint(), tmp_path / "out"
    ground = processes.start(
        "ground", "--downlink", endpoint, "-o", str(out), "--expect-images", "1", "--timeout", "60",
        "--keys", str(keys), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    config = preset("tm-rs-i5")
    sender = DownlinkSecurity(load_context(keys, "probe-downlink", links=("tm", "aos")), config)
    tx = Transmitter(config, {0: 1, 1: 0}, security=sender)
    pixels = np.arange(64 * 48, dtype=np.uint16).reshape(48, 64)
    _, packets = image_packets(
        5, pixels, 12, 0.1, datetime(2020, 7, 27, tzinfo=UTC), ImageMetadata(scenario="sdls-test"),
        SequenceCounter(), CucTime(1), 300,
    )  # fmt: skip
    for p in packets:
        tx.submit(1, p)
    frames = []
    while tx.has_pending():
        frames.append(tx.next_frame())
    assert len(frames) > 6
    offset = security_offset(config)
    tampered = bytearray(frames[2])
    tampered[offset + 30] ^= 0x04  # data in clear (authentication only): an attacker edits it
    foreign = bytearray(frames[4])
    foreign[offset : offset + 2] = (77).to_bytes(2, "big")
    stream = [
        *frames[:3],
        refit(bytes(tampered)),
        frames[1],
        *frames[3:5],
        refit(bytes(foreign)),
        *frames[5:],
    ]
    downlink = Downlink(endpoint)
    stop = threading.Event()
    timer = threading.Timer(30, stop.set)
    timer.start()
    try:
        assert downlink.wait_for_subscriber(stop)
        codec = CaduCodec(config)
        for frame in stream:
            downlink.send(Layer.CADUS, codec.encode_many([frame]))
        assert ground.wait(60) == 0
    finally:
        timer.cancel()
        downlink.close()
    log = ground.stderr.read()
    summary = json.loads((out / "summary.json").read_text())
    (image,) = summary["images"]
    assert image["complete"] and image["crc_ok"]  # every genuine frame came through
    sdls = summary["link"]["sdls"]
    assert sdls["rejected_by_reason"] == {"bad-spi": 1, "bad-mac": 1, "replayed": 1}
    assert sdls["frames_rejected"] == 3 and sdls["frames_verified"] == len(frames)
    assert summary["faults"] == {"sdls bad-mac": 1, "sdls bad-spi": 1, "sdls replayed": 1}
    for reason in ("bad-mac", "bad-spi", "replayed"):
        assert log.count(f"kind 'sdls {reason}'") == 1  # logged once each
    report = (out / "report.md").read_text()
    assert "3 refused (bad-spi 1, bad-mac 1, replayed 1)" in report
