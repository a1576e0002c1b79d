"""Products are whole or absent: a writer killed mid-write leaves no complete-looking truncated file."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from protocols.atomic_file import append_line, write_atomically

# A child that writes the products of one 2048x2048 16-bit noise frame again and again, and says
# when each round is done; the test kills it with SIGKILL part-way through a later round.
_WRITER = """
import sys
import numpy as np
from protocols.image.image_products import write_image_products
pixels = np.random.default_rng(1).integers(0, 65535, (2048, 2048), dtype=np.uint16)
for round in range(1000):
    write_image_products(pixels, 16, {"scenario": "kill-test", "round": round}, sys.argv[1], "frame-001")
    print("done", flush=True)
"""


def _complete(path: Path) -> bool:
    try:
        if path.suffix == ".png":
            with Image.open(path) as image:
                image.load()
        else:
            json.loads(path.read_text())
    except Exception:
        return False
    return True


@pytest.mark.parametrize("fraction", [0.2, 0.5, 0.8])
def test_sigkill_while_writing_an_image_leaves_no_truncated_product(tmp_path: Path, fraction: float) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        started = time.monotonic()
        assert child.stdout.readline() == "done\n"  # one round complete: the products exist
        round_s = time.monotonic() - started
        time.sleep(fraction * round_s)  # somewhere inside the next round's writing
        child.send_signal(signal.SIGKILL)
        child.wait(30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(30)
    products = sorted(p for p in tmp_path.iterdir() if not p.name.startswith("."))
    assert [p.name for p in products] == ["frame-001.json", "frame-001.png", "frame-001.raw.png"]
    assert [p.name for p in products if not _complete(p)] == []


def test_write_atomically_replaces_whole_and_cleans_up_after_a_failure(tmp_path: Path) -> None:
    path = tmp_path / "summary.json"
    write_atomically(path, '{"a": 1}\n')
    assert path.read_text() == '{"a": 1}\n'

    def fail_half_way(file) -> None:
        file.write(b'{"b": ')
        raise OSError("disk full")

    with pytest.raises(OSError):
        write_atomically(path, fail_half_way)
    assert path.read_text() == '{"a": 1}\n'  # the previous complete file, not half of the new one
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]  # no temporary left behind
    write_atomically(path, b"\x00\x01")
    assert path.read_bytes() == b"\x00\x01"


def test_append_line_appends_whole_lines(tmp_path: Path) -> None:
    path = tmp_path / "events.log"
    for n in range(3):
        append_line(path, f"event {n}")
    assert path.read_text() == "event 0\nevent 1\nevent 2\n"
