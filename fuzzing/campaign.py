"""``fuzz decoders``: a campaign over every registered decoder target, with either engine.

The built-in engine (:func:`fuzzing.engine.fuzz_target_builtin`) or atheris
(:func:`fuzzing.atheris_engine.fuzz_target_atheris`) runs each target in turn; the campaign keeps
to its time budget, merges the coverage and writes one report. :func:`reproduce` re-runs a finding.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from fuzzing.atheris_engine import fuzz_target_atheris
from fuzzing.coverage import PROJECT_ROOT, CoverageTracer, executable_lines
from fuzzing.engine import (
    DEFAULT_TIME_LIMIT_S,
    Finding,
    TargetReport,
    fuzz_target_builtin,
    quiet_station_logs,
    watchdog,
)
from fuzzing.targets import Target, TargetUnavailable, available_targets, load_target
from protocols.errors import DecodeError


@dataclass
class FuzzReport:
    targets: dict[str, TargetReport]
    unavailable: dict[str, str]
    lines: int  # distinct project lines reached over all targets
    files: dict[str, int]  # lines reached per project file
    file_totals: dict[str, int] = field(default_factory=dict)  # lines inside functions, per file
    interrupted: bool = False  # the campaign was stopped early; targets not reached are absent
    not_reached: list[str] = field(default_factory=list)

    @property
    def executions(self) -> int:
        return sum(t.executions for t in self.targets.values())

    @property
    def findings(self) -> list[Finding]:
        return [f for t in self.targets.values() for f in t.findings]

    def as_dict(self) -> dict:
        return {
            "interrupted": self.interrupted,
            "not_reached": self.not_reached,
            "executions": self.executions,
            "lines": self.lines,
            "files": {
                f: {"reached": n, "in_functions": self.file_totals.get(f)} for f, n in self.files.items()
            },
            "unavailable": self.unavailable,
            "targets": {
                name: {**asdict(t), "executions_per_second": round(t.executions_per_second, 1)}
                for name, t in self.targets.items()
            },
        }

    def render(self) -> str:
        """A table for the terminal and the report."""
        rows = [
            f"{'target':<20} {'engine':<8} {'execs':>9} {'exec/s':>8} {'lines':>6} {'arcs':>6} "
            f"{'corpus':>6} {'findings':>8}"
        ]
        for t in self.targets.values():
            rows.append(
                f"{t.name:<20} {t.engine:<8} {t.executions:>9} {t.executions_per_second:>8.0f} "
                f"{t.lines:>6} {t.arcs:>6} {t.corpus_size:>6} {len(t.findings):>8}"
            )
        rows.append(
            f"total: {self.executions} executions, {self.lines} project lines reached, "
            f"{len(self.findings)} finding(s)"
        )
        rows += [f"unavailable: {name}: {why}" for name, why in self.unavailable.items()]
        if self.interrupted:
            rows.append(f"interrupted: {len(self.not_reached)} target(s) not reached")
        for file, reached in self.files.items():
            total = self.file_totals.get(file) or 0
            share = f"{100 * reached / total:5.1f} %" if total else "      "
            rows.append(f"  {file:<44} {reached:>5} / {total:<5} lines {share}")
        rows += [f"FINDING {f.target} {f.kind}: {f.signature} -> {f.input_path}" for f in self.findings]
        return "\n".join(rows)


def atheris_available() -> bool:
    try:
        import atheris  # noqa: F401
    except ImportError:
        return False
    return True


def fuzz_decoders(
    targets: list[str] | None,
    seconds: float,
    out_dir: Path,
    seed: int | None,
    *,
    engine: str = "builtin",
    time_limit: float = DEFAULT_TIME_LIMIT_S,
    max_executions: int | None = None,
    total: bool = False,
    progress: Callable[[str], None] | None = None,
) -> FuzzReport:
    """Fuzz each named target (all available ones when None).

    ``seconds`` is each target's time, or with ``total`` the whole campaign's: each target then
    gets an equal share of what is left when it starts, so the campaign ends on time even when
    one target's seeds take longer than its share. ``progress`` is called with one line per
    target as it ends. ``engine`` is ``"builtin"``, ``"atheris"`` or ``"auto"`` (atheris when
    installed). Unknown or unavailable target names are reported, not raised, so a campaign over
    "everything" survives a decoder that is still being written. Ctrl-C ends the campaign with
    the report of what ran (``interrupted``; targets not reached listed).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if engine == "auto":
        engine = "atheris" if atheris_available() else "builtin"
    if engine not in ("builtin", "atheris"):
        raise ValueError(f"unknown engine {engine!r}")
    if targets is None:
        loaded, unavailable = available_targets()
    else:
        loaded, unavailable = {}, {}
        for name in targets:
            try:
                loaded[name] = load_target(name)
            except TargetUnavailable as exc:
                unavailable[name] = str(exc)
    rng = random.Random(seed)
    reports: dict[str, TargetReport] = {}
    all_lines: set[tuple[str, int]] = set()
    campaign_deadline = time.monotonic() + seconds
    interrupted = False
    names = list(loaded)
    with quiet_station_logs():
        try:
            for index, (name, target) in enumerate(loaded.items()):
                share = (campaign_deadline - time.monotonic()) / (len(names) - index) if total else seconds
                tracer = CoverageTracer()
                reports[name] = report = _fuzz_one(
                    target, engine, max(share, 0.0), out_dir, rng, time_limit, max_executions, tracer
                )
                all_lines |= tracer.lines
                if progress is not None:
                    progress(
                        f"[{index + 1}/{len(names)}] {name}: {report.executions} executions in "
                        f"{report.seconds:.1f} s, {len(report.findings)} finding(s)"
                        + (" (interrupted)" if report.interrupted else "")
                    )
                if report.interrupted:
                    interrupted = True
                    break
        except KeyboardInterrupt:  # between targets (a progress line, the coverage merge)
            interrupted = True
    by_file: dict[str, set[int]] = {}
    for filename, line in all_lines:
        by_file.setdefault(filename, set()).add(line)
    files = {str(Path(f).relative_to(PROJECT_ROOT)): len(v) for f, v in sorted(by_file.items())}
    totals = {f: len(executable_lines(PROJECT_ROOT / f)) for f in files}
    not_reached = [name for name in names if name not in reports]
    return FuzzReport(reports, unavailable, len(all_lines), files, totals, interrupted, not_reached)


def _fuzz_one(
    target: Target,
    engine: str,
    seconds: float,
    out_dir: Path,
    rng: random.Random,
    time_limit: float,
    max_executions: int | None,
    tracer: CoverageTracer,
) -> TargetReport:
    """One target with the chosen engine; Ctrl-C ends it with the report of what ran."""
    try:
        if engine == "atheris":
            return fuzz_target_atheris(target, seconds, out_dir, rng.getrandbits(31), time_limit, tracer)
        target_rng = random.Random(rng.getrandbits(64))
        return fuzz_target_builtin(target, seconds, out_dir, target_rng, time_limit, max_executions, tracer)
    except KeyboardInterrupt:
        return TargetReport(target.name, engine, interrupted=True, notes=["interrupted"])


def reproduce(path: Path, time_limit: float = DEFAULT_TIME_LIMIT_S) -> None:
    """Re-run a finding (``<out>/findings/<target>/<sha1>.bin``); the target is its folder's name.

    Raises what the decoder raises (so the traceback shows), :class:`Hang` on a hang, and
    prints "does not reproduce" when the input now decodes or is rejected cleanly.
    """
    path = Path(path)
    target = load_target(path.parent.name)
    data = path.read_bytes()
    print(f"{target.name}: {len(data)} octets from {path}", file=sys.stderr)
    with watchdog(time_limit):
        try:
            target.run(data)
        except DecodeError:
            if target.total:
                raise
            print("does not reproduce: rejected with DecodeError (the contract holds)", file=sys.stderr)
            return
    print("does not reproduce: decoded without error", file=sys.stderr)
