"""`paleblue keys generate --downlink`, and the usage errors of --keys on the downlink."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from protocols.sdls.keystore import DOWNLINK_LINKS, load_context

PALEBLUE = [sys.executable, "-m", "paleblue"]


def paleblue(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*PALEBLUE, *args], capture_output=True, text=True, timeout=60)


def test_generate_with_downlink_sas_gives_each_sa_its_own_key(tmp_path: Path) -> None:
    result = paleblue("keys", "generate", str(tmp_path / "k"), "--downlink", "encryption")
    assert result.returncode == 0, result.stderr
    assert "11 AES-256 keys" in result.stdout  # TC 1-4, CFDP replies 5, downlink 6-11
    context = load_context(tmp_path / "k", "station", links=("tc", *DOWNLINK_LINKS))
    downlink = {spi: sa for spi, sa in context.sas.items() if sa.link != "tc"}
    assert {(sa.link, sa.vcid) for sa in downlink.values()} == {
        (link, vcid) for link in ("tm", "aos", "uslp") for vcid in (0, 1)
    }
    key_ids = [sa.key_id for sa in context.sas.values()]
    assert len(key_ids) == len(set(key_ids))  # no key protects two SAs: no GCM nonce twice under one key
    shown = paleblue("keys", "show", str(tmp_path / "k"))
    assert "SPI 11: tm VC 1, authenticated-encryption" in shown.stdout


def test_downlink_keys_on_a_channel_they_cannot_cover_are_one_line(tmp_path: Path) -> None:
    paleblue("keys", "generate", str(tmp_path / "k"), "--downlink", "authentication")
    result = paleblue(
        "run", "-o", str(tmp_path / "out"), "--keys", str(tmp_path / "k"), "--channel", "uslp-variable"
    )
    assert (
        result.returncode == 2
        and "variable-length USLP" in result.stderr
        and "Traceback" not in result.stderr
    )


def test_run_with_cfdp_needs_the_sa_of_the_cfdp_replies(tmp_path: Path) -> None:
    """A key directory without an SA on TC VC 1 (older, or edited) cannot carry CFDP replies: one line."""
    from protocols.sdls.keystore import default_associations, generate

    generate(tmp_path / "k", [sa for sa in default_associations() if sa.vcid == 0])
    result = paleblue("run", "-o", str(tmp_path / "out"), "--keys", str(tmp_path / "k"), "--link", "lossy")
    assert result.returncode == 2 and "CFDP replies" in result.stderr and "Traceback" not in result.stderr


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
