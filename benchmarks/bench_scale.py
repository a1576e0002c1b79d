"""A scenario of many images through `paleblue probe` and `paleblue ground`: peak memory of each.

The Tianwen-1 seed with ``--images N`` images of ``--size`` pixels square (default 1,000 of
1024x1024 10-bit, 2.1 GB of pixels), the probe at ``--rate`` bit/s (default 1 Gbit/s: as fast as
it can), the ground with its products on. Each process's peak resident memory is its VmHWM,
read from /proc every half second (it only grows, so the last reading before exit is the peak);
the RSS of each after 10 %, 50 % and 90 % of the images shows whether memory is flat. The ground's
product processes (``--product-processes``, its children) are each a process of their own: the
largest of their peaks is given as "products". The baseline of the same run: the peak of a
10-image scenario, the same way.

    .venv/bin/python benchmarks/bench_scale.py [--images 1000] [--size 1024] [--rate 1e9]
"""

from __future__ import annotations

import argparse
import json
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PALEBLUE = [sys.executable, "-m", "paleblue"]


def scenario_file(directory: Path, images: int, size: int) -> Path:
    text = (ROOT / "emulator" / "seeds" / "tianwen1-2020-07-27.toml").read_text()
    pitch = 5.5 * 1024 / size  # the same field of view
    for old, new in [
        ("image_count = 1", f"image_count = {images}"),
        ("width_px = 1024", f"width_px = {size}"),
        ("height_px = 1024", f"height_px = {size}"),
        ("pixel_pitch_um = 5.5", f"pixel_pitch_um = {pitch}"),
        ('name = "tianwen1-2020-07-27"', f'name = "scale-{images}"'),
    ]:
        text = text.replace(old, new, 1)
    path = directory / f"scale-{images}.toml"
    path.write_text(text)
    return path


def free_endpoint() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{s.getsockname()[1]}"


def status_kib(pid: int, field: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def children(pid: int) -> list[int]:
    """The processes ``pid`` started (any of its threads), from /proc."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def run(directory: Path, images: int, size: int, rate: float) -> dict:
    scenario = scenario_file(directory, images, size)
    out = directory / f"out-{images}"
    endpoint = free_endpoint()
    ground = subprocess.Popen(
        [*PALEBLUE, "ground", "--downlink", endpoint, "-o", str(out), "--expect-images", str(images),
         "--timeout", str(max(600, images * 3))],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    probe = subprocess.Popen(
        [*PALEBLUE, "probe", str(scenario), "--downlink", endpoint, "--uplink", free_endpoint(),
         "--seed", "1", "--rate", str(rate)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    peak = {"probe": 0, "ground": 0, "products": 0}
    samples: dict[str, list[tuple[int, int]]] = {"probe": [], "ground": [], "products": []}
    started = time.monotonic()
    try:
        while ground.poll() is None:
            done = len(list(out.glob("scale-*.json"))) if out.exists() else 0
            for name, process in (("probe", probe), ("ground", ground)):
                hwm, rss = status_kib(process.pid, "VmHWM"), status_kib(process.pid, "VmRSS")
                if hwm is not None and rss is not None:
                    peak[name] = max(peak[name], hwm)
                    samples[name].append((done, rss))
            product_rss = [
                (status_kib(child, "VmHWM") or 0, status_kib(child, "VmRSS") or 0)
                for child in children(ground.pid)
            ]
            if product_rss:
                peak["products"] = max(peak["products"], *(hwm for hwm, _ in product_rss))
                samples["products"].append((done, max(rss for _, rss in product_rss)))
            time.sleep(0.5)
    finally:
        for process in (probe, ground):
            if process.poll() is None:
                process.terminate()
            process.wait(30)
    elapsed = time.monotonic() - started
    summary = json.loads((out / "summary.json").read_text())
    delivered = sum(1 for image in summary["images"] if image["complete"] and image["crc_ok"])

    def rss_at(name: str, fraction: float) -> float:
        eligible = [rss for done, rss in samples[name] if done >= fraction * images]
        return eligible[0] / 1024 if eligible else float("nan")

    return {
        "images": images,
        "delivered": delivered,
        "seconds": elapsed,
        "peak_mb": {name: kib / 1024 for name, kib in peak.items()},
        "rss_mb": {name: [rss_at(name, f) for f in (0.1, 0.5, 0.9)] for name in peak},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--rate", type=float, default=1e9)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stopped: the probe and ground stop too
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        for images in (10, args.images):
            r = run(Path(tmp), images, args.size, args.rate)
            label = "baseline: " if images == 10 else ""
            print(
                f"{label}{images} images of {args.size}x{args.size}: {r['delivered']} delivered complete "
                f"in {r['seconds']:.0f} s; peak RSS (VmHWM) probe {r['peak_mb']['probe']:.0f} MB, ground "
                f"{r['peak_mb']['ground']:.0f} MB; RSS at 10/50/90 % of the images: probe "
                + "/".join(f"{v:.0f}" for v in r["rss_mb"]["probe"])
                + " MB, ground "
                + "/".join(f"{v:.0f}" for v in r["rss_mb"]["ground"])
                + f" MB; its product processes: peak {r['peak_mb']['products']:.0f} MB, RSS "
                + "/".join(f"{v:.0f}" for v in r["rss_mb"]["products"])
                + " MB",
                flush=True,
            )


if __name__ == "__main__":
    main()
