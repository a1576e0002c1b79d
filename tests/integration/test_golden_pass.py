"""The golden pass: what a seeded ``paleblue run`` and a ``paleblue decode`` of a fixed recording give.

Recorded before the ground was redesigned as a typed pipeline (issue 13) and kept since: a refactor
must leave every summary counter, every product's bytes and the events log exactly as they were.
The only things allowed to differ are the wall-clock time (``elapsed_s``, the report's "in N s")
and the folder products are written to.

After an intended change of output, write the goldens anew and say why in the commit:
``PALEBLUE_GOLDEN=write python -m pytest tests/integration/test_golden_pass.py``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import PALEBLUE

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "golden"
# made by `paleblue run longjiang2-2019-02-03 --seed 7 --compress ccsds121 --record FILE`
RECORDING = GOLDEN / "longjiang2-ccsds121.rec"
WRITE = os.environ.get("PALEBLUE_GOLDEN") == "write"


def _normalised(value: Any, out: Path) -> Any:
    """The summary with wall-clock time removed and paths made relative to the products folder."""
    if isinstance(value, dict):
        return {k: _normalised(v, out) for k, v in value.items() if k != "elapsed_s"}
    if isinstance(value, list):
        return [_normalised(v, out) for v in value]
    if isinstance(value, str) and value.startswith(str(out)):
        return Path(value).relative_to(out).as_posix()
    return value


# The PNGs as Pillow wrote them before issue 16 moved to paleblue's own writer (protocols.image.png),
# by zlib level: the new file's pixels, encoded by Pillow at that level, are the old file octet for
# octet. Level 6 (Pillow's default) until the quick-look went to level 1; level 1 until the writer.
_TW1, _LJ2 = "tianwen1-2020-07-27-001", "longjiang2-2019-02-03-001"
PILLOW_PNGS = {
    (f"{_TW1}.png", 6): "ccc2c6ea5d8549cf24b212db76dd025093e23fb6928b33353241be39a22b2473",
    (f"{_LJ2}.png", 6): "5295b49608cdd52e3dc946107e47ff8764a761cbd2f35273336a8d963b056c4d",
    (f"{_TW1}.png", 1): "3c099eee397ed58c0ede7694c0f60fc6a40985089ff6864a0e63827bdafa25c0",
    (f"{_TW1}.raw.png", 1): "0b305e9a780f9d4932d4f5d5b79ac76f0bf1cff786fac8fefb653cfa6c7bbfa1",
    (f"{_LJ2}.png", 1): "559a8bb9719417fb941eddb801d32f3d8e707467c9b03cccdf0319bb0438af5c",
    (f"{_LJ2}.raw.png", 1): "373aca47f722839bbfcbdaf4d351971dd396c63e116cf7830cc332ffd8d6eb21",
}


def _as_pillow_wrote_them(out: Path) -> None:
    import io

    from PIL import Image

    checked = 0
    for (name, level), sha256 in PILLOW_PNGS.items():
        if (out / name).exists():
            with Image.open(out / name) as image:
                encoded = io.BytesIO()
                image.save(encoded, format="PNG", compress_level=level)
            assert hashlib.sha256(encoded.getvalue()).hexdigest() == sha256, (name, level)
            checked += 1
    assert checked == 3


def png_pixels_sha256(path: Path) -> str:
    """The decoded image (mode, size, pixels): unchanged when only the PNG's compression changes."""
    from PIL import Image

    with Image.open(path) as image:
        image.load()
        described = f"{image.mode} {image.size}".encode()
        return hashlib.sha256(described + image.tobytes()).hexdigest()


def digest(out: Path) -> dict[str, Any]:
    """Everything a pass leaves in ``out`` that must not change: summary, product hashes, events."""
    summary = _normalised(json.loads((out / "summary.json").read_text()), out)
    summary.get("input", {}).pop("path", None)
    report = re.sub(r" in [0-9.]+ s\.", " in N s.", (out / "report.md").read_text())
    products = {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.iterdir())
        if p.is_file() and p.name not in ("summary.json", "report.md", "events.log")
    }
    events = out / "events.log"
    return {
        "summary": summary,
        "report_sha256": hashlib.sha256(report.encode()).hexdigest(),
        "products": products,
        "png_pixels": {p.name: png_pixels_sha256(p) for p in sorted(out.glob("*.png"))},
        "events": events.read_text().splitlines() if events.exists() else None,
    }


def _check(name: str, got: dict[str, Any]) -> None:
    path = GOLDEN / f"{name}.json"
    if WRITE:
        path.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n")
    want = json.loads(path.read_text())
    assert got["png_pixels"] == want["png_pixels"]  # first: a PNG's pixels, then its bytes
    assert got["products"] == want["products"]
    assert got["events"] == want["events"]
    assert got["summary"] == want["summary"]
    assert got["report_sha256"] == want["report_sha256"]


def test_seeded_run_is_the_golden_pass(tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = subprocess.run(
        [*PALEBLUE, "run", "tianwen1-2020-07-27", "--seed", "7", "-o", str(out)],
        capture_output=True, text=True, timeout=200,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    _check("run-tianwen1-seed7", digest(out))
    _as_pillow_wrote_them(out)


@pytest.mark.parametrize("extra", [[], ["--format", "recording"]], ids=["auto", "named"])
def test_decode_of_the_fixed_recording_is_golden(tmp_path: Path, extra: list[str]) -> None:
    out = tmp_path / "decode"
    result = subprocess.run(
        [*PALEBLUE, "decode", str(RECORDING), "-o", str(out), *extra],
        capture_output=True, text=True, timeout=200,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    got = digest(out)
    got["summary"].get("input", {}).pop("detection", None)  # says whether it was detected or named
    got["summary"].get("input", {}).pop("channel_source", None)
    _check("decode-longjiang2", got)
    _as_pillow_wrote_them(out)
