"""A worker thread for image products, off the receive path, with a bounded queue.

The ground station hands each reassembled image's product work (optical navigation, the PNGs and
the truth JSON) to one thread: jobs run in the order given and their results come back in that
order. At most ``depth`` jobs wait; a further :meth:`ProductWorker.submit` blocks until one is
taken (back-pressure on the receive loop, and so on the probe: nothing is dropped), and each such
wait is counted (``waits``). The PNG encoder (zlib) and numpy release the GIL, so on two cores the
products are written while the next image is received.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

DEFAULT_DEPTH = 4  # images waiting for their products: 4 x 2 MiB of 1024x1024 10-bit pixels


class ProductWorker:
    """Runs ``fn(*args)`` jobs in order on one thread; a job's exception is its result."""

    def __init__(self, depth: int = DEFAULT_DEPTH) -> None:
        self._jobs: queue.Queue[tuple[Callable[..., Any], tuple[Any, ...]] | None] = queue.Queue(depth)
        self._results: deque[object] = deque()
        self.waits = 0  # submits that found the queue full and waited
        self._thread = threading.Thread(target=self._run, name="paleblue-products", daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        """Queue a job; blocks while ``depth`` jobs wait."""
        try:
            self._jobs.put_nowait((fn, args))
        except queue.Full:
            self.waits += 1
            self._jobs.put((fn, args))

    def results(self) -> list[object]:
        """The results of the jobs finished since the last call, in submission order."""
        out = []
        while self._results:
            out.append(self._results.popleft())
        return out

    def wait(self) -> None:
        """Until every job submitted so far has run."""
        self._jobs.join()

    def close(self) -> None:
        self.wait()
        self._jobs.put(None)
        self._thread.join()

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                self._jobs.task_done()
                return
            fn, args = job
            try:
                result: object = fn(*args)
            except BaseException as exc:  # handed back to the station, which counts it
                result = exc
            self._results.append(result)
            self._jobs.task_done()
