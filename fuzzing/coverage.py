"""Line and arc coverage of the project's decoders from ``sys.settrace``, cheap enough to fuzz with.

Only code under ``protocols/`` and ``groundstation/`` counts (the fuzzer's own package does not):
a library's internals reaching new lines is not progress in *our* decoder. An *arc* is a pair
(previous line, line) inside one function: every taken branch is an arc, so arcs bound branch
coverage from above and are what the fuzzer uses as its feedback signal.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from types import CodeType, FrameType
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_ROOTS = (PROJECT_ROOT / "protocols", PROJECT_ROOT / "groundstation")
EXCLUDED = (PROJECT_ROOT / "fuzzing",)

Arc = tuple[CodeType, int, int]  # (function, previous line or -1 at entry, line)


class CoverageTracer:
    """Collects the arcs of one call at a time; remembers every arc seen so far."""

    def __init__(
        self, roots: tuple[Path, ...] = DEFAULT_ROOTS, excluded: tuple[Path, ...] = EXCLUDED
    ) -> None:
        self._roots = tuple(str(r) + "/" for r in roots)
        self._excluded = tuple(str(e) + "/" for e in excluded)
        self._wanted: dict[CodeType, bool] = {}
        self.current: set[Arc] = set()
        self.seen: set[Arc] = set()

    def _is_wanted(self, code: CodeType) -> bool:
        name = code.co_filename
        return name.startswith(self._roots) and not name.startswith(self._excluded)

    def _on_call(self, frame: FrameType, event: str, arg: Any) -> Callable | None:
        code = frame.f_code
        wanted = self._wanted.get(code)
        if wanted is None:
            wanted = self._wanted[code] = self._is_wanted(code)
        if not wanted:
            return None
        add = self.current.add
        previous = -1

        def on_line(frame: FrameType, event: str, arg: Any) -> Callable:
            nonlocal previous
            if event == "line":
                line = frame.f_lineno
                add((code, previous, line))
                previous = line
            return on_line

        return on_line

    def call(self, fn: Callable[[bytes], object], data: bytes) -> object:
        """Run ``fn(data)`` traced; its arcs land in :attr:`current` (cleared first)."""
        self.current = set()
        sys.settrace(self._on_call)
        try:
            return fn(data)
        finally:
            sys.settrace(None)

    def commit(self) -> int:
        """Merge :attr:`current` into :attr:`seen`; returns how many arcs were new."""
        new = self.current - self.seen
        if new:
            self.seen |= new
        return len(new)

    @property
    def lines(self) -> set[tuple[str, int]]:
        return {(code.co_filename, line) for code, _, line in self.seen}

    @property
    def branch_arcs(self) -> int:
        """Arcs between two lines of one function (entry arcs excluded)."""
        return sum(1 for _, previous, _ in self.seen if previous >= 0)

    def files(self) -> dict[str, int]:
        """Lines reached per project file, relative to the project root."""
        out: dict[str, int] = {}
        for filename, _ in self.lines:
            rel = (
                str(Path(filename).relative_to(PROJECT_ROOT))
                if filename.startswith(str(PROJECT_ROOT))
                else filename
            )
            out[rel] = out.get(rel, 0) + 1
        return dict(sorted(out.items()))


def executable_lines(path: Path) -> set[int]:
    """Lines inside the functions of a source file (module-level lines run at import, not under fuzzing)."""
    module = compile(Path(path).read_text(), str(path), "exec")
    lines: set[int] = set()
    pending = [c for c in module.co_consts if isinstance(c, CodeType)]
    while pending:
        code = pending.pop()
        lines.update(
            line for _, _, line in code.co_lines() if line is not None and line != code.co_firstlineno
        )
        pending += [c for c in code.co_consts if isinstance(c, CodeType)]
    return lines
