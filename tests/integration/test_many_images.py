"""A scenario of many images runs through probe and ground: every image arrives (issue 16).

The probe renders and packetizes images as its link drains them; small frames keep the test fast
(the memory figure of a 1,000-image 1024x1024 scenario is in BENCHMARKS.md).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.emulator.test_probe_streaming import many_small_images
from tests.integration.conftest import PALEBLUE

pytestmark = pytest.mark.slow


def test_forty_images_all_arrive(tmp_path: Path) -> None:
    out = tmp_path / "out"
    scenario = many_small_images(tmp_path, 40)
    result = subprocess.run(
        [*PALEBLUE, "run", str(scenario), "--seed", "1", "-o", str(out), "--timeout", "120"],
        capture_output=True, text=True, timeout=200,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert [image["image_id"] for image in summary["images"]] == list(range(1, 41))
    assert all(image["complete"] and image["crc_ok"] for image in summary["images"])
    assert summary["transport"]["messages_lost"] == 0 and summary["faults"] == {}
