"""Coverage-guided in-process fuzzing of one decoder target: the engines and what they share.

Two engines share targets, corpus, findings and report (:mod:`fuzzing.campaign` runs them):

* ``builtin`` (always there): a mutational loop whose feedback is the set of line arcs the
  input reached in ``protocols/`` and ``groundstation/`` (:mod:`.coverage`); an input that
  reaches a new arc joins the corpus. Each input runs under a ``SIGALRM`` watchdog
  (``signal.setitimer``, main thread only), so a hang is caught and reported like a crash.
* ``atheris`` (optional extra ``fuzz``): libFuzzer driving each target in a child process
  (:mod:`.atheris_driver`); its crashes are re-run here for the traceback and minimized alike,
  and its corpus is replayed through the same tracer so both engines report coverage alike.

Every finding (any exception but ``DecodeError``, a broken invariant, a hang) is minimized by
delta debugging and written to ``<out>/findings/<target>/<sha1>.bin`` with a ``.txt`` holding
the traceback and the one-line command that reproduces it.
"""

from __future__ import annotations

import contextlib
import logging
import random
import signal
import threading
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from fuzzing.corpus import Corpus, finding_path
from fuzzing.coverage import EXCLUDED, PROJECT_ROOT, CoverageTracer
from fuzzing.minimize import minimize
from fuzzing.mutators import Mutator
from fuzzing.targets import (
    ContractViolation,
    Target,
)
from protocols.errors import DecodeError

DEFAULT_TIME_LIMIT_S = 2.0
REPRODUCE_COMMAND = "paleblue fuzz reproduce {path}"
REPRODUCE_FALLBACK = ".venv/bin/python -m fuzzing reproduce {path}"


class Hang(BaseException):  # BaseException: a decoder's `except Exception` must not swallow it
    """The per-input time limit ran out."""


@dataclass
class Finding:
    target: str
    kind: str  # "crash", "hang", "contract" (a broken invariant) or "raised" (total target raised)
    signature: str  # exception type and the failing project line: findings dedupe on it
    traceback: str
    input_path: str
    input_length: int
    original_length: int


@dataclass
class TargetReport:
    name: str
    engine: str
    executions: int = 0
    seconds: float = 0.0
    rejected: int = 0  # inputs the decoder rejected with DecodeError
    corpus_size: int = 0
    lines: int = 0
    arcs: int = 0
    branch_arcs: int = 0
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    interrupted: bool = False  # stopped by Ctrl-C or SIGTERM: the figures cover what ran

    @property
    def executions_per_second(self) -> float:
        return self.executions / self.seconds if self.seconds else 0.0


# ------------------------------------------------------------------------------------ one execution


@dataclass(frozen=True, slots=True)
class Outcome:
    status: str  # "ok", "rejected" or a finding kind
    signature: str = ""
    traceback: str = ""


def _signature(exc: BaseException) -> str:
    """Exception type plus the innermost project line (outside the fuzzer) it passed through."""
    if isinstance(exc, ContractViolation):
        return f"ContractViolation: {str(exc)[:120]}"
    frames = traceback.extract_tb(exc.__traceback__)
    place = frames[-1] if frames else None
    excluded = tuple(str(e) for e in EXCLUDED)
    for frame in reversed(frames):
        if frame.filename.startswith(str(PROJECT_ROOT)) and not frame.filename.startswith(excluded):
            place = frame
            break
    if place is None:
        return type(exc).__name__
    where = Path(place.filename)
    with contextlib.suppress(ValueError):
        where = where.relative_to(PROJECT_ROOT)
    return f"{type(exc).__name__} at {where}:{place.lineno}"


@contextlib.contextmanager
def watchdog(seconds: float) -> Iterator[None]:
    """Raise :class:`Hang` in the main thread after ``seconds`` (no-op in other threads).

    Nests inside an alarm already running (pytest-timeout's, a caller's): that alarm keeps its handler
    and is re-armed with the time it had left, and if it is due first, it stays the one that fires."""
    if threading.current_thread() is not threading.main_thread() or seconds <= 0:
        yield
        return
    outer_remaining, outer_interval = signal.getitimer(signal.ITIMER_REAL)
    if outer_remaining and outer_remaining <= seconds:
        yield
        return

    def on_alarm(signum: int, frame: object) -> None:
        raise Hang(f"input ran longer than {seconds} s")

    started = time.monotonic()
    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer_remaining:
            left = outer_remaining - (time.monotonic() - started)
            signal.setitimer(signal.ITIMER_REAL, max(left, 1e-6), outer_interval)


def classify(
    target: Target,
    data: bytes,
    tracer: CoverageTracer | None = None,
    time_limit: float = DEFAULT_TIME_LIMIT_S,
) -> Outcome:
    """Run one input and say what happened. Raises only what is not an ``Exception`` (KeyboardInterrupt,
    SystemExit, an outer time limit such as pytest-timeout's): those stop the campaign, not the input."""
    started = time.monotonic()
    try:
        with watchdog(time_limit):
            if tracer is None:
                target.run(data)
            else:
                tracer.call(target.run, data)
    except DecodeError as exc:
        if target.total:
            return Outcome("raised", _signature(exc), traceback.format_exc())
        return Outcome("rejected")
    except Hang as exc:
        return Outcome("hang", _signature(exc), traceback.format_exc())
    except AssertionError as exc:  # ContractViolation and assertions inside decoders
        return Outcome("contract", _signature(exc), traceback.format_exc())
    except Exception as exc:
        return Outcome("crash", _signature(exc), traceback.format_exc())
    if threading.current_thread() is not threading.main_thread() and time.monotonic() - started > time_limit:
        return Outcome("hang", "slow input (no watchdog outside the main thread)", "")
    return Outcome("ok")


def record_finding(
    out_dir: Path, target: Target, data: bytes, outcome: Outcome, time_limit: float = DEFAULT_TIME_LIMIT_S
) -> Finding:
    """Minimize (keeping the same signature) and write ``.bin`` + ``.txt``."""

    def same(candidate: bytes) -> bool:
        again = classify(target, candidate, time_limit=time_limit)
        return again.status == outcome.status and again.signature == outcome.signature

    small = data if outcome.status == "hang" else minimize(data, same)
    final = classify(target, small, time_limit=time_limit)
    path = finding_path(out_dir, target.name, small)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(small)
    command = REPRODUCE_COMMAND.format(path=path)
    path.with_suffix(".txt").write_text(
        f"target: {target.name}\nkind: {outcome.status}\nsignature: {outcome.signature}\n"
        f"input: {len(small)} octets (minimized from {len(data)}): {small[:64].hex()}\n"
        f"reproduce: {command}\n"
        f"      or: {REPRODUCE_FALLBACK.format(path=path)}\n\n"
        f"{final.traceback or outcome.traceback}"
    )
    return Finding(
        target.name,
        outcome.status,
        outcome.signature,
        final.traceback or outcome.traceback,
        str(path),
        len(small),
        len(data),
    )


# ------------------------------------------------------------------------------------- built-in


@contextlib.contextmanager
def quiet_station_logs() -> Iterator[None]:
    """The station logs every fault: under a fuzzer that is millions of lines."""
    logger = logging.getLogger("paleblue")
    level = logger.level
    logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        logger.setLevel(level)


def fuzz_target_builtin(
    target: Target,
    seconds: float,
    out_dir: Path,
    rng: random.Random,
    time_limit: float = DEFAULT_TIME_LIMIT_S,
    max_executions: int | None = None,
    tracer: CoverageTracer | None = None,
) -> TargetReport:
    """Fuzz one target with the built-in engine for ``seconds`` (or ``max_executions``).

    ``seconds`` bounds the seeds too: a target whose seeds alone outlast it stops after them
    (noted). ``tracer`` (optional) collects the coverage, so a caller can merge it over targets.
    Ctrl-C (``KeyboardInterrupt``) ends the target at once with the report of what ran,
    ``interrupted`` set, so the caller can still write it.
    """
    report = TargetReport(target.name, "builtin")
    tracer = tracer if tracer is not None else CoverageTracer()
    corpus = Corpus(Path(out_dir) / "corpus" / target.name)
    mutator = Mutator(rng, max_length=target.max_input)
    signatures: set[str] = set()
    started = time.monotonic()

    def run(data: bytes, always_keep: bool = False) -> None:
        outcome = classify(target, data, tracer, time_limit)
        report.executions += 1
        if outcome.status == "rejected":
            report.rejected += 1
        new_arcs = tracer.commit()
        if outcome.status not in ("ok", "rejected"):
            if outcome.signature not in signatures:
                signatures.add(outcome.signature)
                report.findings.append(record_finding(out_dir, target, data, outcome, time_limit))
            return
        if new_arcs or always_keep:
            corpus.add(data)

    deadline = started + seconds
    try:
        for data in [*target.seeds, *corpus.load()]:
            run(data, always_keep=True)
        if not corpus.entries:
            corpus.add(b"")
        if time.monotonic() >= deadline:
            report.notes.append(f"the seeds alone took {time.monotonic() - started:.1f} s of {seconds:.1f} s")
        while time.monotonic() < deadline and (max_executions is None or report.executions < max_executions):
            entries = corpus.entries
            parent = entries[-1] if rng.random() < 0.2 else rng.choice(entries)  # favour the newest find
            child = mutator.mutate(parent, entries)
            if target.fixup is not None and rng.random() < 0.5:
                child = target.fixup(child)
            run(child)
    except KeyboardInterrupt:
        report.interrupted = True
        report.notes.append("interrupted")
    report.seconds = time.monotonic() - started
    report.corpus_size = len(corpus)
    report.arcs = len(tracer.seen)
    report.branch_arcs = tracer.branch_arcs
    report.lines = len(tracer.lines)
    return report


def replay_coverage(
    target: Target,
    inputs: list[bytes],
    time_limit: float = DEFAULT_TIME_LIMIT_S,
    tracer: CoverageTracer | None = None,
) -> CoverageTracer:
    """Coverage of a set of inputs (atheris's corpus) measured with our tracer."""
    tracer = tracer if tracer is not None else CoverageTracer()
    for data in inputs:
        classify(target, data, tracer, time_limit)
        tracer.commit()
    return tracer


# --------------------------------------------------------------------------------------- the API
