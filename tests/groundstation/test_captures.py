"""Colour captures on the ground: bands regrouped in any order, a composite only when every band is
whole, and a capture missing a band reported (summary.json and report.md), never composited."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from groundstation import captures as captures_module
from groundstation.captures import CaptureAssembler, CaptureRecord
from groundstation.fault_log import FaultLog
from groundstation.station import GroundStation
from protocols.image.image_metadata import ImageMetadata
from protocols.image.image_transport import ReassembledImage, make_image_header
from protocols.packets.time_code import CucTime

SIZE = 48
BANDS = ("red", "green", "blue")
BAND_NM = {"red": (590.0, 680.0), "green": (500.0, 590.0), "blue": (400.0, 500.0)}
DISC_DN = {"red": 300, "green": 400, "blue": 600}  # a blue disc at the same I/F scale in every band
PER_IF = 2000.0  # electrons of an I/F = 1 surface


def _pixels(band: str) -> np.ndarray:
    rows, cols = np.indices((SIZE, SIZE))
    disc = np.hypot(cols - 24, rows - 20) <= 8
    image = np.full((SIZE, SIZE), 100, dtype=np.uint16)
    image[disc] += DISC_DN[band]
    return image


def _metadata(band: str, image_id: int, capture: str = "sc-capture-001") -> dict:
    return {
        "scenario": "sc",
        "bodies": {
            "earth": {
                "centre_px": [24.0, 20.0],
                "in_frame": True,
                "apparent_radius_px": 8.0,
                "peak_expected_e": float(max(DISC_DN.values())),
            }
        },
        "capture": {"capture_id": capture, "band_index": BANDS.index(band), "bands": list(BANDS)},
        "sensor": {
            "band": band,
            "band_nm": list(BAND_NM[band]),
            "bit_depth": 12,
            "gain_e_per_dn": 1.0,
            "psf": None,
            "electrons_per_unit_radiance_factor": PER_IF,
        },
        "image_id": image_id,
    }


def _image(band: str, image_id: int, missing: list[tuple[int, int]] | None = None, **kw) -> ReassembledImage:
    pixels = _pixels(band).astype(">u2").tobytes()
    header = make_image_header(
        image_id, pixels, SIZE, SIZE, 12, 1000, CucTime(5), _metadata(band, image_id, **kw)
    )
    return ReassembledImage(header, pixels, missing or [])


def _station(tmp_path: Path) -> GroundStation:
    return GroundStation(tmp_path)


def test_bands_out_of_order_make_one_composite_in_which_the_disc_is_blue(tmp_path: Path) -> None:
    station = _station(tmp_path)
    for band, image_id in (("blue", 3), ("red", 1), ("green", 2)):
        station.images.write(_image(band, image_id))
    summary = station.finish()
    names = sorted(p.name for p in tmp_path.iterdir())
    for image_id, band in enumerate(BANDS, 1):
        assert f"sc-{image_id:03d}-{band}.png" in names and f"sc-{image_id:03d}-{band}.raw.png" in names
    (capture,) = summary["captures"]
    assert capture["complete"] and capture["images"] == {"red": 1, "green": 2, "blue": 3}
    assert capture["missing_bands"] == [] and capture["balance"].startswith("solar white")
    composite = Path(capture["composite"])
    assert composite.name == "sc-capture-001-rgb.png"
    rgb = np.asarray(Image.open(composite)).astype(float)
    rows, cols = np.indices((SIZE, SIZE))
    disc = rgb[np.hypot(cols - 24, rows - 20) <= 6].mean(axis=0)
    assert disc[2] > disc[1] > disc[0] > 50  # blue over green over red, as the I/F ratios
    assert rgb[np.hypot(cols - 24, rows - 20) > 12].max() == 0  # the sky stays black
    report = (tmp_path / "report.md").read_text()
    assert "## Colour captures" in report and "sc-capture-001-rgb.png" in report
    assert summary["faults"] == {}


def test_a_capture_missing_a_band_is_reported_and_gets_no_composite(tmp_path: Path) -> None:
    station = _station(tmp_path)
    station.images.write(_image("green", 2))
    station.images.write(_image("red", 1))  # blue never comes
    summary = station.finish()
    (capture,) = summary["captures"]
    assert not capture["complete"] and capture["composite"] is None
    assert capture["missing_bands"] == ["blue"] and capture["images"] == {"red": 1, "green": 2}
    assert "missing blue" in capture["why"] and "no composite written" in capture["why"]
    assert not list(tmp_path.glob("*rgb*"))
    assert summary["faults"] == {"colour capture incomplete": 1}
    report = (tmp_path / "report.md").read_text()
    assert "blue (MISSING)" in report and "not written: missing blue" in report
    assert json.loads((tmp_path / "summary.json").read_text())["captures"] == summary["captures"]


def test_an_incomplete_band_means_no_composite(tmp_path: Path) -> None:
    station = _station(tmp_path)
    station.images.write(_image("red", 1))
    station.images.write(_image("green", 2, missing=[(0, 640)]))
    station.images.write(_image("blue", 3))
    (capture,) = station.finish()["captures"]
    assert capture["damaged_bands"] == ["green"] and capture["composite"] is None
    assert (tmp_path / "sc-002-green-partial.png").exists()
    assert not list(tmp_path.glob("*rgb*"))


def test_a_band_arriving_again_starts_the_capture_anew(tmp_path: Path) -> None:
    """A restarted probe numbers its captures from 1 again: the first, unfinished, is closed."""
    station = _station(tmp_path)
    station.images.write(_image("red", 1))
    for band, image_id in (("red", 1), ("green", 2), ("blue", 3)):
        station.images.write(_image(band, image_id))
    first, second = station.finish()["captures"]
    assert first["missing_bands"] == ["green", "blue"] and "started anew" in first["why"]
    assert second["complete"] and Path(second["composite"]).exists()


def test_a_pass_without_colour_captures_has_no_captures_key(tmp_path: Path) -> None:
    station = _station(tmp_path)
    metadata = {"scenario": "pan", "sensor": {"band": "pan"}}
    pixels = bytes(SIZE * SIZE)
    station.images.write(
        ReassembledImage(make_image_header(1, pixels, SIZE, SIZE, 8, 1, CucTime(5), metadata), pixels, [])
    )
    summary = station.finish()
    assert "captures" not in summary and "Colour captures" not in (tmp_path / "report.md").read_text()
    assert (tmp_path / "pan-001.png").exists()


def test_pending_captures_are_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(captures_module, "MAX_PENDING_CAPTURES", 2)
    assembler = CaptureAssembler(tmp_path, FaultLog(logging.getLogger("test")))
    for n in range(1, 5):  # four captures, each only its red band
        metadata = ImageMetadata.from_map(_metadata("red", 3 * n - 2, capture=f"c{n}"))
        assembler.add(metadata, 3 * n - 2, _pixels("red"), 12, True)
    assert assembler.evicted == 2 and len(assembler._pending) == 2
    assert [r.capture_id for r in assembler.records] == ["c1", "c2"]
    assert all("evicted" in r.why for r in assembler.records)


def test_without_products_bands_are_counted_not_held(tmp_path: Path) -> None:
    assembler = CaptureAssembler(tmp_path, FaultLog(logging.getLogger("test")), write_products=False)
    for image_id, band in enumerate(BANDS, 1):
        record = assembler.add(
            ImageMetadata.from_map(_metadata(band, image_id)), image_id, _pixels(band), 12, True
        )
    assert record is not None and record.complete and record.composite is None
    assert list(tmp_path.iterdir()) == []


def test_a_record_round_trips_through_its_summary_form() -> None:
    record = CaptureRecord("c", ["red", "blue"], {"red": 1}, ["blue"], [], None, None, "missing blue")
    assert CaptureRecord.from_dict(record.as_dict()) == record
    assert record.as_dict()["complete"] is False
