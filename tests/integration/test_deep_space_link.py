"""Images by CFDP across the simulated deep-space link, in every profile, byte-identical to capture."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.conftest import run_pass

pytestmark = pytest.mark.slow


def _run(out: Path, *options: str) -> dict:
    _, summary = run_pass(out, "--seed", "3", "--time-scale", "0.1", "--timeout", "120", *options)
    return summary


@pytest.mark.parametrize("profile", ["nominal", "lossy", "outage"])
def test_every_image_arrives_identical_to_capture(tmp_path: Path, profile: str) -> None:
    compress = ["--compress", "ccsds121"] if profile == "nominal" else []
    summary = _run(tmp_path / profile, "--link", profile, *compress)
    (image,) = summary["images"]
    assert image["crc_ok"] and image["identical_to_onboard"] is True
    delivery = image["delivery"]
    assert delivery["method"] == "CFDP class 2 file" and delivery["complete"]
    assert 0 < delivery["goodput_fraction_of_link_rate"] <= 1.0
    cfdp = summary["cfdp"]
    if not compress:
        assert cfdp["partial_images_written"] >= 1  # the image was shown as it filled
    if profile == "nominal":
        assert delivery["compression_ratio"] > 2  # CCSDS 121 on a mostly dark frame
    if profile == "lossy":
        assert delivery["nak_rounds"] >= 1 and delivery["retransmitted_octets"] > 0
        assert summary["link"]["cadu"]["physical"]["frames_corrected"] > 0  # BER 1e-5 corrected by RS
    if profile == "outage":
        assert cfdp["outages_detected"] >= 1
        assert delivery["retransmitted_octets"] > 0  # what the outage swallowed was asked for again
