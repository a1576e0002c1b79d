"""Render times beside a one-pass numpy baseline measured in the same run.

* the Tianwen-1 frame (1024 x 1024, every effect on): target median under 100 ms;
* a 3-band 1024 x 1024 colour capture, every effect on (Hayabusa2 ONC-T: the Earth and the
  Moon as small discs, a typical navigation frame): target median under 250 ms.  (A frame
  filled by a disc, such as DSCOVR's 409-px Earth, costs seconds: ray casting scales with the
  pixels the bodies cover, before and after the calibrated photometry.)

Run: ``.venv/bin/python benchmarks/bench_render.py [runs]``.
"""

from __future__ import annotations

import statistics
import sys
import time

import numpy as np

from emulator.detector import Effects
from emulator.render import render_bands, render_scenario
from emulator.scenario import load_scenario

SCENARIO = "tianwen1-2020-07-27"
COLOUR_SCENARIO = "hayabusa2-onct-2015-11-26"


def _median_ms(action, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def main(runs: int = 15) -> None:
    scenario = load_scenario(SCENARIO)
    render_scenario(scenario, effects=Effects.all())  # warm caches: textures, fixed patterns, kernel
    a = np.zeros((1024, 1024))
    b = np.empty_like(a)
    baseline = _median_ms(lambda: np.add(a, 1.0, out=b), runs)
    render = _median_ms(lambda: render_scenario(scenario, effects=Effects.all()), runs)
    print(f"baseline np.add over 1024x1024 float64: {baseline:.2f} ms (median of {runs})")
    print(f"render {SCENARIO} 1024x1024, all effects: {render:.1f} ms (median of {runs})")
    verdict = "met" if render < 100 else "NOT met"
    print(f"ratio: {render / baseline:.0f}x baseline; target < 100 ms: {verdict}")
    colour = load_scenario(COLOUR_SCENARIO)
    render_bands(colour)  # warm this date's cloud field and each band's tables
    runs_colour = max(3, runs // 3)
    three = _median_ms(lambda: render_bands(colour, effects=Effects.all()), runs_colour)
    print(
        f"render {COLOUR_SCENARIO} 3 bands 1024x1024, all effects: {three:.1f} ms (median of {runs_colour})"
    )
    verdict = "met" if three < 250 else "NOT met"
    print(f"ratio: {three / baseline:.0f}x baseline; target < 250 ms: {verdict}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 15)
