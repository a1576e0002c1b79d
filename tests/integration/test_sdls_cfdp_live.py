"""`paleblue run --keys DIR --link PROFILE`: images by CFDP with SDLS on the uplink and the downlink.

The probe takes telecommands only through secured TC frames; the ground station's CFDP replies
(Finished ACKs, NAKs) go up under their own SA (SPI 3 on TC VC 1, written by `keys generate`), so the
file deliveries complete, with retransmissions on the lossy link, and the probe refuses nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from protocols.sdls import ServiceType
from protocols.sdls.keystore import CFDP_SPI, default_associations, downlink_associations, generate
from tests.integration.conftest import run_pass

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("profile", ["nominal", "lossy"])
def test_run_with_keys_delivers_images_by_cfdp_with_secured_replies(tmp_path: Path, profile: str) -> None:
    keys = tmp_path / "keys"
    generate(keys, default_associations() + downlink_associations(ServiceType.AUTHENTICATED_ENCRYPTION))
    _, summary = run_pass(
        tmp_path / "out", "--seed", "3", "--time-scale", "0.1", "--timeout", "120", "--keys", str(keys),
        "--link", profile,
    )  # fmt: skip
    assert summary["images"]
    for image in summary["images"]:
        assert image["complete"] and image["crc_ok"] and image["identical_to_onboard"] is True
        assert image["delivery"]["method"] == "CFDP class 2 file" and image["delivery"]["complete"]
        if profile == "lossy":
            assert image["delivery"]["nak_rounds"] >= 1  # NAKs went up, secured, and were acted on
    replies = summary["cfdp"]["replies_sent"]
    sent = json.loads((keys / "arsn-station-uplink.json").read_text())["arsn"][str(CFDP_SPI)]
    accepted = json.loads((keys / "arsn-probe.json").read_text())["arsn"][str(CFDP_SPI)]
    assert sent == replies > 0  # every reply secured, one ARSN each
    assert 0 < accepted <= sent  # the last replies may still be on their way when the probe stops
    latest = summary["telemetry"]["latest"]  # the probe's SECURITY_HK: it refused nothing
    assert all(latest[name] == 0 for name in latest if name.startswith("REJ_")), latest
    assert summary["link"]["sdls"]["frames_verified"] > 100
