"""Fuzzer throughput: executions per second per target, built-in engine beside a bare loop.

Run: ``.venv/bin/python benchmarks/bench_fuzz.py [seconds_per_target] [target ...]``.

For each target, the same run measures:

1. *bare*: the target called in a plain loop (``try``/``except DecodeError``) over a fixed set of
   mutated inputs, no tracing, no watchdog: what the decoder alone costs;
2. *builtin*: the built-in engine (mutation, ``sys.settrace`` coverage, ``SIGALRM`` watchdog,
   corpus bookkeeping) for the same time.

The ratio is the instrumentation's price; atheris figures come from a campaign
(``python -m fuzzing decoders --engine atheris``), whose libFuzzer does its own.
"""

from __future__ import annotations

import contextlib
import logging
import random
import sys
import tempfile
import time
from pathlib import Path

from fuzzing.engine import fuzz_target_builtin, quiet_station_logs
from fuzzing.mutators import Mutator
from fuzzing.targets import available_targets
from protocols.errors import DecodeError


def bare_rate(run, inputs: list[bytes], seconds: float) -> float:
    executions, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for data in inputs:
            with contextlib.suppress(DecodeError):
                run(data)
        executions += len(inputs)
    return executions / (time.perf_counter() - started)


def main(argv: list[str]) -> None:
    seconds = float(argv[1]) if len(argv) > 1 else 1.0
    wanted = set(argv[2:])
    logging.getLogger("paleblue").setLevel(logging.CRITICAL)
    targets, unavailable = available_targets()
    print(f"{'target':<20} {'bare exec/s':>12} {'builtin exec/s':>15} {'slowdown':>9} {'lines':>6}")
    with quiet_station_logs(), tempfile.TemporaryDirectory() as out:
        for name, target in targets.items():
            if wanted and name not in wanted:
                continue
            mutator = Mutator(random.Random(1), max_length=target.max_input)
            inputs = [mutator.mutate(target.seeds[i % len(target.seeds)]) for i in range(200)]
            bare = bare_rate(target.run, inputs, seconds)
            report = fuzz_target_builtin(target, seconds, Path(out), random.Random(1))
            built = report.executions_per_second
            print(f"{name:<20} {bare:>12.0f} {built:>15.0f} {bare / built:>8.1f}x {report.lines:>6}")
    for name, why in unavailable.items():
        print(f"{name:<20} unavailable: {why}")


if __name__ == "__main__":
    main(sys.argv)
