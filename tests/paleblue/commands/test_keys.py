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
