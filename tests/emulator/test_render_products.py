"""Image products and the contact sheet: round trips and display stretch."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
from PIL import Image

from emulator.contact_sheet import TILE_PX, contact_sheet, write_contact_sheet
from emulator.render import RenderedFrame
from protocols.image.image_products import quicklook, write_image_products


def _frame(seed: int) -> RenderedFrame:
    rng = np.random.default_rng(seed)
    pixels = (32 + rng.poisson(3.0, (200, 300))).astype(np.uint16)
    pixels[50:90, 40:80] = 1000  # a bright "Earth"
    pixels[120:124, 200:204] = 80  # a faint "Moon"
    return RenderedFrame(pixels, 10, 0.002, datetime(2020, 7, 27, tzinfo=UTC), {"exposure_s": 0.002}, "pan")


def test_quicklook_shows_the_faint_body_without_clipping_the_bright_one() -> None:
    frame = _frame(1)
    look = quicklook(frame.pixels, 10)
    assert look.dtype == np.uint8 and look.shape == frame.pixels.shape
    assert look[60, 60] == 255
    assert look[121, 201] > 60  # 1/20 of the Earth's level yet clearly visible
    assert np.median(look) == 0


def test_products_round_trip(tmp_path) -> None:
    frame = _frame(2)
    paths = write_image_products(frame.pixels, 10, {"exposure_s": 0.002, "bodies": {}}, tmp_path, "tw")
    raw = np.asarray(Image.open(paths["raw"]))
    assert np.array_equal(raw, frame.pixels)
    record = json.loads(paths["truth"].read_text())
    assert record["bit_depth"] == 10 and record["exposure_s"] == 0.002
    assert Image.open(paths["quicklook"]).mode == "L"


def test_contact_sheet_has_a_tile_per_frame(tmp_path) -> None:
    frames = [(f"scenario-{i}", _frame(i)) for i in range(4)]
    sheet = contact_sheet(frames)
    assert sheet.dtype == np.uint8
    assert sheet.shape[1] >= 3 * TILE_PX and sheet.shape[0] >= 2 * TILE_PX
    path = write_contact_sheet(frames, tmp_path / "sheet.png")
    assert np.array_equal(np.asarray(Image.open(path)), sheet)
