"""A colour camera's pass: ``paleblue run`` of Hayabusa2's ONC-T capture delivers every band, each
whole (CRC ok, the very pixels captured on board), and the ground's RGB composite shows a blue Earth
(mean B > R over the Earth's disc from the truth) and a Moon that is not blue, by image packets and
by CFDP alike (issue 21)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.integration.conftest import PALEBLUE

pytestmark = pytest.mark.slow

SCENARIO = "hayabusa2-onct-2015-11-26"


def _disc_mean(image: np.ndarray, body: dict) -> np.ndarray:
    centre = body.get("photocentre_px") or body["centre_px"]
    radius = max(body["apparent_radius_px"], 1.5)
    rows, cols = np.indices(image.shape[:2])
    inside = np.hypot(cols - centre[0], rows - centre[1]) <= radius
    return image[inside].astype(float).mean(axis=0)


@pytest.mark.parametrize("delivery", ["packets", "cfdp"])
def test_every_band_arrives_and_the_composite_earth_is_blue(tmp_path: Path, delivery: str) -> None:
    out = tmp_path / delivery
    record = ["--record", str(tmp_path / "pass.rec")] if delivery == "packets" else []
    result = subprocess.run(
        [*PALEBLUE, "run", SCENARIO, "--seed", "3", "--delivery", delivery, "-o", str(out), *record],
        capture_output=True, text=True, timeout=200,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    images = summary["images"]
    assert [p["image_id"] for p in images] == [1, 2, 3]
    assert all(p["complete"] and p["crc_ok"] and p["identical_to_onboard"] for p in images)
    if delivery == "cfdp":
        assert all(p["delivery"]["method"] == "CFDP class 2 file" for p in images)
    truths = {}
    for p in images:
        truth = json.loads(Path(p["files"]["truth"]).read_text())
        band = truth["sensor"]["band"]
        assert Path(p["files"]["quicklook"]).name == f"{SCENARIO}-{p['image_id']:03d}-{band}.png"
        assert truth["capture"]["capture_id"] == f"{SCENARIO}-capture-001"
        truths[band] = truth
    assert list(truths) == ["red", "green", "blue"]
    (capture,) = summary["captures"]
    assert capture["complete"] and capture["images"] == {"red": 1, "green": 2, "blue": 3}
    composite = np.asarray(Image.open(capture["composite"]))
    assert composite.shape == (1024, 1024, 3)
    bodies = truths["red"]["bodies"]
    earth = _disc_mean(composite, bodies["earth"])
    assert earth[2] > earth[0] and earth.mean() > 60, f"Earth mean RGB {earth}"
    moon = _disc_mean(composite, bodies["moon"])
    assert not moon[2] > moon[0], f"Moon mean RGB {moon}"
    report = (out / "report.md").read_text()
    assert "## Colour captures" in report and Path(capture["composite"]).name in report
    assert "colour capture" in result.stderr and summary["faults"] == {}
    if record:
        _decode_and_render_give_the_same_composite(tmp_path, Path(capture["composite"]))


def _decode_and_render_give_the_same_composite(tmp_path: Path, composite: Path) -> None:
    """The recorded pass decoded offline, and ``paleblue render`` of the same seed, give the very
    composite the live ground wrote: one balance, shared (protocols/image/colour_composite.py)."""
    decoded = tmp_path / "decoded"
    result = subprocess.run(
        [*PALEBLUE, "decode", str(tmp_path / "pass.rec"), "-o", str(decoded)],
        capture_output=True, text=True, timeout=200,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"colour capture {SCENARIO}-capture-001: bands red, green, blue" in result.stdout
    assert (decoded / composite.name).read_bytes() == composite.read_bytes()
    rendered = tmp_path / "rendered"
    result = subprocess.run(
        [*PALEBLUE, "render", SCENARIO, "--seed", "3", "-o", str(rendered)],
        capture_output=True, text=True, timeout=200,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert (rendered / f"{SCENARIO}-rgb.png").read_bytes() == composite.read_bytes()
