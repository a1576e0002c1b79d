"""Progress bars for the long commands (``run``, ``decode``, ``replay``, ``fuzz``).

One line on standard error, redrawn at most ten times a second: a bar, the percent done, the rate
and the time remaining. Only on a terminal: when standard error is not a tty (a pipe, a file, CI)
or ``TERM=dumb``, :class:`Progress` prints nothing at all, so logs and captured output stay clean.

A line printed while a bar is shown goes through :meth:`Progress.write` (or a stream wrapped by
:meth:`Progress.lines_above`): the bar is wiped, the line written, the bar drawn again under it.

``paleblue run`` gets its figures from the ground-station process: started with the hidden
``--progress-lines`` option, the station prints one :data:`MARK` line a few times a second
(:class:`StationProgress`), which ``run`` reads from the child's stderr and draws as its bar.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TextIO

BAR_WIDTH = 24
REDRAW_S = 0.1
MARK = "\x1epaleblue-progress "  # a ground station's progress line for `paleblue run` (record separator)


def on_terminal(stream: TextIO | None = None) -> bool:
    """Whether a progress bar belongs on ``stream`` (standard error by default): a tty, not dumb."""
    stream = sys.stderr if stream is None else stream
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or closed
        return False
    return tty and os.environ.get("TERM", "") != "dumb"


def _duration(seconds: float) -> str:
    if seconds != seconds or seconds < 0 or seconds == float("inf"):
        return "--:--"
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60:02d}:{rest % 60:02d}"


def _quantity(value: float, unit: str) -> str:
    """``12.3 MB`` for octets, ``4.5k msg`` otherwise: decimal prefixes, as rates are quoted."""
    for prefix, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:.1f} {prefix}B" if unit == "B" else f"{value / scale:.1f}{prefix} {unit}"
    return f"{value:.0f} {unit}" if unit == "B" or value >= 10 else f"{value:.1f} {unit}"


class Progress:
    """A bar for ``label``: :meth:`update` with how much is done of ``total`` (in ``unit``).

    ``rate_of`` turns (done, elapsed seconds) into the rate shown (default: ``done / elapsed``
    in ``unit``/s); ``note`` is extra text after the figures (a target's name, a pass count).
    ``enabled`` defaults to :func:`on_terminal`; a disabled bar does nothing.
    """

    def __init__(
        self,
        label: str,
        total: float | None = None,
        unit: str = "B",
        *,
        stream: TextIO | None = None,
        enabled: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.label = label
        self.total = total
        self.unit = unit
        self.stream = sys.stderr if stream is None else stream
        self.enabled = on_terminal(self.stream) if enabled is None else enabled
        self._clock = clock
        self._started = clock()
        self._last_draw = float("-inf")
        self._shown = False
        self._lock = threading.RLock()
        self.done = 0.0
        self.note = ""
        self.rate: float | None = None  # the caller's own rate (unit/s) for the time left
        self.rate_text: str | None = None  # the caller's own words for the rate ("1.2k exec/s")

    # ------------------------------------------------------------------ figures

    def elapsed(self) -> float:
        return self._clock() - self._started

    def line(self) -> str:
        """The bar as text (without the carriage return)."""
        elapsed = max(self._clock() - self._started, 1e-9)
        rate = self.rate if self.rate is not None else self.done / elapsed
        parts = [self.label]
        if self.total:
            fraction = min(max(self.done / self.total, 0.0), 1.0)
            filled = int(fraction * BAR_WIDTH)
            full, half = ("█", "▌") if _unicode(self.stream) else ("#", "")
            bar = full * filled + (half if fraction * BAR_WIDTH - filled >= 0.5 else "")
            parts.append(f"|{bar:<{BAR_WIDTH}}| {fraction:6.1%}")
            remaining = (self.total - self.done) / rate if rate > 0 else float("nan")
            if fraction >= 1.0:
                remaining = 0.0
            figures = f"{_duration(remaining)} left"
        else:
            parts.append(_quantity(self.done, self.unit))
            figures = f"{_duration(elapsed)} elapsed"
        rate_text = _quantity(rate, self.unit) + "/s" if self.rate_text is None else self.rate_text
        parts.append(f"{rate_text}, {figures}" if rate_text else figures)
        if self.note:
            parts.append(self.note)
        return "  ".join(parts)

    # ------------------------------------------------------------------ drawing

    def update(self, done: float, total: float | None = None, note: str | None = None) -> None:
        """How far it has come; drawn at most ten times a second (and always when complete)."""
        self.done = done
        if total is not None:
            self.total = total
        if note is not None:
            self.note = note
        if not self.enabled:
            return
        now = self._clock()
        complete = bool(self.total) and done >= self.total
        if now - self._last_draw < REDRAW_S and not complete:
            return
        self._last_draw = now
        self._draw()

    def _draw(self) -> None:
        with self._lock:
            width = _columns(self.stream)
            text = self.line()[: width - 1]
            self.stream.write(f"\r{text}\x1b[K")
            self.stream.flush()
            self._shown = True

    def _wipe(self) -> None:
        if self._shown:
            self.stream.write("\r\x1b[K")
            self._shown = False

    def write(self, text: str, to: TextIO | None = None) -> None:
        """Text (whole lines) above the bar, on ``to`` (the bar's stream by default): the bar is
        wiped, the text written, the bar redrawn under it."""
        to = self.stream if to is None else to
        with self._lock:
            if self.enabled:
                self._wipe()
                self.stream.flush()
            to.write(text)
            to.flush()
            if self.enabled and text.endswith("\n"):
                self._draw()

    def close(self) -> None:
        """Take the bar off the terminal (the line is left clean for what follows)."""
        with self._lock:
            if self.enabled:
                self._wipe()
                self.stream.flush()
            self.enabled = False

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def lines_above(self) -> Iterator[None]:
        """While inside, what is printed on ``sys.stdout`` and ``sys.stderr`` goes above the bar,
        a whole line at a time (for code that prints as it goes)."""
        if not self.enabled:
            yield
            return
        originals = sys.stdout, sys.stderr
        proxies = _LinesAbove(self, sys.stdout), _LinesAbove(self, sys.stderr)
        sys.stdout, sys.stderr = proxies  # type: ignore[assignment]
        try:
            yield
        finally:
            sys.stdout, sys.stderr = originals
            for proxy in proxies:
                proxy.finish()

    def tick_every(self, seconds: float, poll: Callable[[], tuple[float, float | None, str]]):
        """A daemon thread calling ``poll() -> (done, total, note)`` and drawing it; returns its stop
        event (set it, then :meth:`close`)."""
        stop = threading.Event()

        def loop() -> None:
            while not stop.wait(seconds):
                with contextlib.suppress(Exception):  # a figure read mid-change is skipped, not raised
                    self.update(*poll())

        if self.enabled:
            threading.Thread(target=loop, name=f"progress-{self.label}", daemon=True).start()
        return stop


class _LinesAbove:
    """A text stream whose complete lines go above a :class:`Progress` bar."""

    def __init__(self, progress: Progress, stream: TextIO) -> None:
        self._progress = progress
        self._stream = stream
        self.pending = ""

    def write(self, text: str) -> int:
        self.pending += text
        if "\n" in self.pending:
            whole, _, self.pending = self.pending.rpartition("\n")
            self._progress.write(whole + "\n", self._stream)
        return len(text)

    def finish(self) -> None:
        if self.pending:
            self._progress.write(self.pending, self._stream)
            self.pending = ""

    def flush(self) -> None:
        self._stream.flush()

    def isatty(self) -> bool:
        return self._stream.isatty()

    def fileno(self) -> int:
        return self._stream.fileno()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _unicode(stream: TextIO) -> bool:
    return "utf" in (getattr(stream, "encoding", None) or "").lower()


def _columns(stream: TextIO) -> int:
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):
        return 100


# ---------------------------------------------------------------------- a station's figures for `run`


class StationProgress:
    """In the ground-station process: prints a :data:`MARK` line with the pass's figures every
    ``interval_s`` (images done, the fraction of the images in flight received, octets received),
    for ``paleblue run`` to draw. Reads the station's counters from its own thread: a figure read
    while the station changes it is skipped until the next line."""

    def __init__(self, expect_images: int | None, interval_s: float = 0.25, stream: TextIO | None = None):
        self.expect_images = expect_images
        self.interval_s = interval_s
        self.stream = stream
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def attach(self, station: Any) -> None:
        self._thread = threading.Thread(
            target=self._loop, args=(station,), name="paleblue-progress", daemon=True
        )
        self._thread.start()

    def _loop(self, station: Any) -> None:
        stopped = False
        while not stopped:  # and one last line once stopped: the bar ends on the pass's figures
            stopped = self._stop.wait(self.interval_s)
            try:
                line = self.line(station)
            except Exception:  # a dict changed size under us: try again next time
                continue
            stream = self.stream or sys.stderr
            stream.write(line + "\n")
            stream.flush()

    @staticmethod
    def line(station: Any) -> str:
        in_flight = sum(p.segments_received / p.segment_count for p in station.reassembler.progress)
        for receiver in station.files.open_receivers():
            progress = receiver.progress()
            if progress.file_size:
                in_flight += progress.bytes_done / progress.file_size
        return f"{MARK}{station.images_done} {in_flight:.4f} {station.octets_received}"

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2.0)


def parse_station_line(line: str) -> tuple[int, float, int] | None:
    """(images done, fraction of images in flight, octets received) of a :data:`MARK` line, else None."""
    if not line.startswith(MARK):
        return None
    try:
        done, in_flight, octets = line[len(MARK) :].split()
        return int(done), float(in_flight), int(octets)
    except ValueError:
        return None


class PassProgress(Progress):
    """``paleblue run``'s bar: images received of those expected, from the ground station's
    :data:`MARK` lines (:meth:`take_line`), with the octets' rate."""

    def __init__(self, images_expected: int, **kwargs: Any) -> None:
        super().__init__("run", images_expected, unit="images", **kwargs)
        self._first: tuple[float, float, int] | None = None  # (time, done, octets) when data began

    def take_line(self, line: str) -> bool:
        """True for a station's progress line (then drawn, not printed). Rates are measured from
        the first octet received, not from the start (the probe renders its images first)."""
        figures = parse_station_line(line)
        if figures is None:
            return False
        images, in_flight, octets = figures
        done = min(images + in_flight, self.total or 0.0)
        now = self.elapsed()
        if self._first is None and octets:
            self._first = (now, done, octets)
        if self._first is not None and now > self._first[0]:
            span = now - self._first[0]
            self.rate = (done - self._first[1]) / span
            self.rate_text = f"{_quantity((octets - self._first[2]) / span, 'B')}/s"
        else:
            self.rate, self.rate_text = 0.0, "waiting for data"
        self.update(done, note=f"{_quantity(octets, 'B')} received")
        return True
