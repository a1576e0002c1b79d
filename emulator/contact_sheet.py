"""A labelled grid of quick-looks, one tile per rendered scenario (``paleblue render --all``).

Tiles are in colour: a colour camera's capture (a mapping band → frame) is shown as its RGB
composite (``emulator.colour.colour_quicklook``), a single-band frame as grey; both stretched
from the bodies' expected signal.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from emulator.render import RenderedFrame
from protocols.atomic_file import write_atomically

TILE_PX = 384
LABEL_PX = 18
GAP_PX = 6
COLUMNS = 3

Capture = RenderedFrame | Mapping[str, RenderedFrame]


def _display(capture: Capture) -> np.ndarray:
    """(H, W, 3) uint8 quick-look of one capture."""
    from emulator.colour import quicklook_rgb

    if isinstance(capture, RenderedFrame):
        return quicklook_rgb({capture.band: capture})
    return quicklook_rgb(capture)


def _caption(name: str, capture: Capture) -> str:
    if isinstance(capture, RenderedFrame):
        return f"{name}  {capture.band}  {capture.exposure_s * 1e3:.3g} ms"
    bands = "/".join(capture)
    longest = max(f.exposure_s for f in capture.values())
    return f"{name}  RGB {bands}  {longest * 1e3:.3g} ms"


def _tile(capture: Capture) -> np.ndarray:
    from PIL import Image

    image = Image.fromarray(_display(capture))
    image.thumbnail((TILE_PX, TILE_PX), Image.Resampling.BOX)  # box filter keeps point sources visible
    tile = np.zeros((TILE_PX, TILE_PX, 3), dtype=np.uint8)
    h, w = image.height, image.width
    r0, c0 = (TILE_PX - h) // 2, (TILE_PX - w) // 2
    tile[r0 : r0 + h, c0 : c0 + w] = np.asarray(image)
    return tile


def contact_sheet(frames: list[tuple[str, Capture]]) -> np.ndarray:
    """Grid of quick-looks (uint8 RGB), each tile captioned with its scenario, bands and exposure."""
    from PIL import Image, ImageDraw, ImageFont

    if not frames:
        raise ValueError("contact_sheet: no frames")
    columns = min(COLUMNS, len(frames))
    rows = math.ceil(len(frames) / columns)
    cell_h, cell_w = TILE_PX + LABEL_PX + GAP_PX, TILE_PX + GAP_PX
    sheet = Image.new("RGB", (columns * cell_w + GAP_PX, rows * cell_h + GAP_PX), color=(40, 40, 40))
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default()
    for i, (name, capture) in enumerate(frames):
        row, col = divmod(i, columns)
        x, y = GAP_PX + col * cell_w, GAP_PX + row * cell_h
        sheet.paste(Image.fromarray(_tile(capture)), (x, y + LABEL_PX))
        draw.text((x + 2, y + 3), _caption(name, capture), fill=(255, 255, 255), font=font)
    return np.asarray(sheet)


def write_contact_sheet(frames: list[tuple[str, Capture]], path: str | Path) -> Path:
    """Write the contact sheet as a PNG and return its path."""
    from PIL import Image

    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet = Image.fromarray(contact_sheet(frames))
    write_atomically(out, lambda file: sheet.save(file, format="PNG"))
    return out
