"""The atheris engine, parent side: runs libFuzzer per target in a child and folds its results in.

libFuzzer stops at the first crash, so the child is restarted with the remaining time and the
signatures found so far (which it then ignores) until the target's time is used up.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from fuzzing.corpus import Corpus
from fuzzing.coverage import PROJECT_ROOT, CoverageTracer
from fuzzing.engine import (
    Outcome,
    TargetReport,
    classify,
    record_finding,
    replay_coverage,
)
from fuzzing.targets import Target, prepare_input

_STAT = re.compile(r"stat::(\w+):\s+(\d+)")
MAX_REPLAY = 3000  # corpus entries replayed to measure coverage in our units


def fuzz_target_atheris(
    target: Target,
    seconds: float,
    out_dir: Path,
    seed: int,
    time_limit: float,
    tracer: CoverageTracer | None = None,
) -> TargetReport:
    """Fuzz one target with atheris/libFuzzer for ``seconds`` (whole seconds, at least 1)."""
    report = TargetReport(target.name, "atheris")
    corpus = Corpus(Path(out_dir) / "corpus" / target.name)
    for data in target.seeds:
        corpus.add(data)
    artifacts = Path(out_dir) / "atheris" / target.name
    artifacts.mkdir(parents=True, exist_ok=True)
    signatures: set[str] = set()
    started = time.monotonic()
    launches = 0
    while (remaining := seconds - (time.monotonic() - started)) >= 1 and launches < 50:
        launches += 1
        before = set(artifacts.iterdir())
        command = [
            sys.executable,
            "-m",
            "fuzzing.atheris_driver",
            target.name,
            str(corpus.directory),
            f"-max_total_time={int(remaining)}",
            f"-timeout={max(1, math.ceil(time_limit))}",
            f"-artifact_prefix={artifacts}/",
            f"-seed={seed + launches}",
            "-print_final_stats=1",
            f"-max_len={target.max_input}",
            "-rss_limit_mb=2048",
        ]
        env = {**os.environ, "PALEBLUE_FUZZ_KNOWN": "\n".join(signatures)}
        done = subprocess.run(
            command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=remaining + 120
        )
        stats = {k: int(v) for k, v in _STAT.findall(done.stderr)}
        report.executions += stats.get("number_of_executed_units", 0)
        new_artifacts = sorted(set(artifacts.iterdir()) - before)
        if done.returncode != 0 and not new_artifacts:
            report.notes.append(f"libFuzzer exited {done.returncode}: {done.stderr[-400:]}")
            break
        for path in new_artifacts:
            data = prepare_input(target, path.read_bytes())  # what the driver actually ran
            outcome = classify(target, data, time_limit=time_limit)
            if outcome.status in ("ok", "rejected"):
                kind = "hang" if path.name.startswith(("timeout-", "slow-unit-")) else "crash"
                outcome = Outcome(
                    kind, f"{kind} under libFuzzer only ({path.name.split('-')[0]})", done.stderr[-2000:]
                )
            if outcome.signature not in signatures:
                signatures.add(outcome.signature)
                report.findings.append(record_finding(out_dir, target, data, outcome, time_limit))
        if not new_artifacts:
            break
    report.seconds = time.monotonic() - started
    entries = sorted(corpus.directory.iterdir())[:MAX_REPLAY]
    inputs = [prepare_input(target, p.read_bytes()) for p in entries if p.is_file()]
    report.corpus_size = len(list(corpus.directory.iterdir()))
    tracer = replay_coverage(target, inputs, time_limit, tracer)
    report.arcs, report.branch_arcs, report.lines = len(tracer.seen), tracer.branch_arcs, len(tracer.lines)
    return report
