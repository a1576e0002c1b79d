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
    _assert_link_reconciles(summary, tmp_path / profile, profile)


def _assert_link_reconciles(summary: dict, out: Path, profile: str) -> None:
    """Issue 14, item 5, across two processes: the probe's simulator counters beside the ground's,
    and they add up over what the ground read (tests/integration/test_link_reconciliation.py does
    it in process over many seeds)."""
    simulator, result = summary["link"]["simulator"], summary["link"]["reconciliation"]
    assert result["adds_up"] is True, result
    assert (
        result["expected"]["missing"] == result["lost"]
        and result["expected"]["reordered"] == result["reordered"]
    )
    assert simulator["sent"] == result["sent"] > 0
    read = result["received"] - result["duplicated"]
    assert result["sent"] == read + result["dropped_by_link"] + result["after_ground_stopped"]
    if profile == "lossy":
        assert simulator["dropped_random"] > 0 and simulator["corrupted"] > 0 and simulator["reordered"] > 0
        assert 0 < result["lost"] < simulator["sent"] // 5  # a late frame is not 255 missing
    if profile == "outage":
        assert simulator["dropped_outside_pass"] > 0
    if profile == "nominal":
        assert simulator["dropped_by_link"] == result["lost"] == 0
    report = (out / "report.md").read_text()
    assert "Simulated link:" in report and "adds up." in report
