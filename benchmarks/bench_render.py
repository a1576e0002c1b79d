"""Render times beside a one-pass numpy baseline measured in the same run.

* the Tianwen-1 frame (1024 x 1024, every effect on): target median under 100 ms;
* a 3-band 1024 x 1024 colour capture, every effect on (Hayabusa2 ONC-T: the Earth and the
  Moon as small discs, a typical navigation frame): target median under 250 ms.  (A frame
  filled by a disc, such as DSCOVR's 409-px Earth, costs seconds: ray casting scales with the
  pixels the bodies cover, before and after the calibrated photometry.)

Run: ``.venv/bin/python benchmarks/bench_render.py [runs] [--cpu-time]``.  With ``--cpu-time``
each figure is the best of ``runs`` in CPU time of the process (``time.process_time``), which a
machine shared with other busy processes does not inflate the way it inflates wall-clock time;
the frame with every effect off is then also timed, as a second baseline.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from emulator.detector import Effects
from emulator.render import render_bands, render_scenario
from emulator.scenario import load_scenario

SCENARIO = "tianwen1-2020-07-27"
COLOUR_SCENARIO = "hayabusa2-onct-2015-11-26"


_CPU_TIME = False


def _median_ms(action, runs: int) -> float:
    """Median wall-clock time, or (``--cpu-time``) the best CPU time of the process, in ms."""
    clock = time.process_time if _CPU_TIME else time.perf_counter
    times = []
    for _ in range(runs):
        start = clock()
        action()
        times.append(clock() - start)
    return (min(times) if _CPU_TIME else statistics.median(times)) * 1e3


def main(runs: int = 15) -> None:
    how = f"best CPU time of {runs}" if _CPU_TIME else f"median of {runs}"
    scenario = load_scenario(SCENARIO)
    render_scenario(scenario, effects=Effects.all())  # warm caches: textures, fixed patterns, kernel
    a = np.zeros((1024, 1024))
    b = np.empty_like(a)
    baseline = _median_ms(lambda: np.add(a, 1.0, out=b), runs)
    render = _median_ms(lambda: render_scenario(scenario, effects=Effects.all()), runs)
    print(f"baseline np.add over 1024x1024 float64: {baseline:.2f} ms ({how})")
    if _CPU_TIME:
        render_scenario(scenario, effects=Effects.none())
        plain = _median_ms(lambda: render_scenario(scenario, effects=Effects.none()), runs)
        print(f"baseline render {SCENARIO} 1024x1024, every effect off: {plain:.1f} ms ({how})")
    print(f"render {SCENARIO} 1024x1024, all effects: {render:.1f} ms ({how})")
    verdict = "met" if render < 100 else "NOT met"
    print(f"ratio: {render / baseline:.0f}x baseline; target < 100 ms: {verdict}")
    colour = load_scenario(COLOUR_SCENARIO)
    render_bands(colour)  # warm this date's cloud field and each band's tables
    runs_colour = max(3, runs // 3)
    three = _median_ms(lambda: render_bands(colour, effects=Effects.all()), runs_colour)
    how = f"best CPU time of {runs_colour}" if _CPU_TIME else f"median of {runs_colour}"
    print(f"render {COLOUR_SCENARIO} 3 bands 1024x1024, all effects: {three:.1f} ms ({how})")
    verdict = "met" if three < 250 else "NOT met"
    print(f"ratio: {three / baseline:.0f}x baseline; target < 250 ms: {verdict}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="?", type=int, default=15)
    parser.add_argument("--cpu-time", action="store_true", help="best CPU time of the process per figure")
    arguments = parser.parse_args()
    _CPU_TIME = arguments.cpu_time
    main(arguments.runs)
