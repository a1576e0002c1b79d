"""A labelled grid of quick-looks, one tile per rendered scenario (``paleblue render --all``)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from emulator.render import RenderedFrame
from protocols.atomic_file import write_atomically
from protocols.image_products import quicklook

TILE_PX = 384
LABEL_PX = 18
GAP_PX = 6
COLUMNS = 3


def _tile(frame: RenderedFrame) -> np.ndarray:
    from PIL import Image

    image = Image.fromarray(quicklook(frame.pixels, frame.bit_depth))
    image.thumbnail((TILE_PX, TILE_PX), Image.Resampling.BOX)  # box filter keeps point sources visible
    tile = np.zeros((TILE_PX, TILE_PX), dtype=np.uint8)
    h, w = image.height, image.width
    r0, c0 = (TILE_PX - h) // 2, (TILE_PX - w) // 2
    tile[r0 : r0 + h, c0 : c0 + w] = np.asarray(image)
    return tile


def contact_sheet(frames: list[tuple[str, RenderedFrame]]) -> np.ndarray:
    """Grid of quick-looks (uint8, grey), each tile captioned with its scenario name and exposure."""
    from PIL import Image, ImageDraw, ImageFont

    if not frames:
        raise ValueError("contact_sheet: no frames")
    columns = min(COLUMNS, len(frames))
    rows = math.ceil(len(frames) / columns)
    cell_h, cell_w = TILE_PX + LABEL_PX + GAP_PX, TILE_PX + GAP_PX
    sheet = Image.new("L", (columns * cell_w + GAP_PX, rows * cell_h + GAP_PX), color=40)
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default()
    for i, (name, frame) in enumerate(frames):
        row, col = divmod(i, columns)
        x, y = GAP_PX + col * cell_w, GAP_PX + row * cell_h
        sheet.paste(Image.fromarray(_tile(frame)), (x, y + LABEL_PX))
        caption = f"{name}  {frame.band}  {frame.exposure_s * 1e3:.3g} ms"
        draw.text((x + 2, y + 3), caption, fill=255, font=font)
    return np.asarray(sheet)


def write_contact_sheet(frames: list[tuple[str, RenderedFrame]], path: str | Path) -> Path:
    """Write the contact sheet as a PNG and return its path."""
    from PIL import Image

    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet = Image.fromarray(contact_sheet(frames))
    write_atomically(out, lambda file: sheet.save(file, format="PNG"))
    return out
