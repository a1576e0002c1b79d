"""`paleblue keys generate --downlink`, and the usage errors of --keys on the downlink."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from protocols.sdls.keystore import load_context

PALEBLUE = [sys.executable, "-m", "paleblue"]


def paleblue(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*PALEBLUE, *args], capture_output=True, text=True, timeout=60)


def test_generate_with_downlink_sas_gives_each_sa_its_own_key(tmp_path: Path) -> None:
    result = paleblue("keys", "generate", str(tmp_path / "k"), "--downlink", "encryption")
    assert result.returncode == 0, result.stderr
    assert "8 AES-256 keys" in result.stdout
    context = load_context(tmp_path / "k", "station", links=("tc", "tm", "aos"))
    downlink = {spi: sa for spi, sa in context.sas.items() if sa.link != "tc"}
    assert {(sa.link, sa.vcid) for sa in downlink.values()} == {("tm", 0), ("tm", 1), ("aos", 0), ("aos", 1)}
    key_ids = [sa.key_id for sa in context.sas.values()]
    assert len(key_ids) == len(set(key_ids))  # no key protects two SAs: no GCM nonce twice under one key
    shown = paleblue("keys", "show", str(tmp_path / "k"))
    assert "SPI 11: tm VC 1, authenticated-encryption" in shown.stdout


def test_downlink_keys_on_a_channel_they_cannot_cover_are_one_line(tmp_path: Path) -> None:
    paleblue("keys", "generate", str(tmp_path / "k"), "--downlink", "authentication")
    result = paleblue(
        "run", "-o", str(tmp_path / "out"), "--keys", str(tmp_path / "k"), "--channel", "uslp-rs-i5"
    )
    assert result.returncode == 2 and "not uslp" in result.stderr and "Traceback" not in result.stderr
    result = paleblue("run", "-o", str(tmp_path / "out"), "--keys", str(tmp_path / "k"), "--link", "lossy")
    assert result.returncode == 2 and "CFDP" in result.stderr and "Traceback" not in result.stderr


def test_decode_with_keys_opens_a_recorded_encrypted_downlink(tmp_path: Path) -> None:
    import json
    from datetime import UTC, datetime

    import numpy as np

    from emulator.imaging import image_packets
    from emulator.transmitter import Transmitter
    from protocols.coding.cadu import CaduCodec
    from protocols.image.image_metadata import ImageMetadata
    from protocols.link.channel_file import preset
    from protocols.packets.space_packet import SequenceCounter
    from protocols.packets.time_code import CucTime
    from protocols.sdls.downlink import DownlinkSecurity

    keys = tmp_path / "k"
    assert paleblue("keys", "generate", str(keys), "--downlink", "encryption").returncode == 0
    config = preset("tm-rs-i5")
    sender = DownlinkSecurity(load_context(keys, "probe-downlink", links=("tm", "aos")), config)
    tx = Transmitter(config, {0: 1, 1: 0}, security=sender)
    pixels = np.arange(64 * 48, dtype=np.uint16).reshape(48, 64)
    _, packets = image_packets(
        3, pixels, 12, 0.1, datetime(2020, 7, 27, tzinfo=UTC), ImageMetadata(scenario="k"),
        SequenceCounter(), CucTime(1), 300,
    )  # fmt: skip
    for p in packets:
        tx.submit(1, p)
    (tmp_path / "pass.cadu").write_bytes(tx.drain() + CaduCodec(config).encode_many([tx.next_frame()]))
    opened = paleblue("decode", str(tmp_path / "pass.cadu"), "--format", "cadu", "--keys", str(keys),
                      "-o", str(tmp_path / "open"))  # fmt: skip
    assert opened.returncode == 0, opened.stderr
    summary = json.loads((tmp_path / "open" / "summary.json").read_text())
    assert summary["images"][0]["crc_ok"] and summary["link"]["sdls"]["frames_rejected"] == 0
    paleblue("decode", str(tmp_path / "pass.cadu"), "--format", "cadu", "-o", str(tmp_path / "shut"))
    assert json.loads((tmp_path / "shut" / "summary.json").read_text())["images"] == []  # ciphertext
