"""Workers for image products, off the receive path, each with a bounded queue.

The ground station hands each reassembled image's product work (optical navigation, the PNGs and
the truth JSON) to a worker: jobs run in the order given and their results come back in that
order. At most ``depth`` jobs wait; a further ``submit`` blocks until one is taken (back-pressure
on the receive loop, and so on the probe: nothing is dropped), and each such wait is counted
(``waits``). A job's exception is its result, for the station to count.

- :class:`ProductWorker`: one thread. The PNG encoder and numpy release the GIL only in parts, so
  the products still share the receive loop's core for most of their time.
- :class:`ProductProcesses`: a pool of processes (spawned, so they share no lock or socket with the
  station's threads), started with the first job: the products of several images are made at once
  on the other cores. A job and its result cross by pickle (an image's pixels: ~2 MiB). The
  processes ignore Ctrl-C (the station ends the pass and waits for the products it gave them) and
  end by themselves if the station is killed.
"""

from __future__ import annotations

import importlib
import os
import queue
import signal
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future
from concurrent.futures import wait as wait_for
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # multiprocessing is imported by a station that starts processes (8 ms)
    from concurrent.futures import ProcessPoolExecutor

DEFAULT_DEPTH = 4  # images waiting for their products: 4 x 2 MiB of 1024x1024 10-bit pixels
PARENT_CHECK_S = 0.5  # how often a product process looks whether the station is still there


class Worker(Protocol):
    """What the product writer needs of a worker."""

    waits: int

    def submit(self, fn: Callable[..., Any], *args: Any) -> None: ...

    def results(self) -> list[object]: ...

    def wait(self) -> None: ...

    def close(self) -> None: ...


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


def _in_each_process(parent: int, preload: tuple[str, ...]) -> None:
    """In each product process: Ctrl-C reaches the whole process group, and the station, not its
    product processes, decides how the pass ends (it waits for the jobs it gave them). A station
    killed outright (SIGKILL) cannot stop them: they notice it gone and end (an orphan would keep
    the station's output pipes open for ever)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_end_with, args=(parent,), name="paleblue-parent-watch", daemon=True).start()
    for module in preload:
        importlib.import_module(module)


def _end_with(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_S)
    os._exit(1)


class ProductProcesses:
    """Runs ``fn(*args)`` jobs on ``processes`` processes, results in submission order.

    ``fn`` and its arguments must pickle (a module-level function, plain data). At most ``depth``
    jobs are unfinished at once; ``submit`` then waits for one (counted in ``waits``). A process
    that dies (killed, out of memory) makes the result of each job then unfinished a
    ``BrokenProcessPool`` error, and the next job starts new processes."""

    def __init__(self, processes: int = 2, depth: int = DEFAULT_DEPTH, preload: tuple[str, ...] = ()) -> None:
        if processes < 1 or depth < 1:
            raise ValueError(f"product processes: need processes and depth >= 1, got {processes}, {depth}")
        self.processes, self.depth, self.preload = processes, depth, preload
        self.waits = 0
        self._pool: ProcessPoolExecutor | None = None  # started with the first job
        self._futures: deque[Future[Any]] = deque()

    def start(self) -> None:
        """Start the processes now, each importing ``preload`` (otherwise the first job starts them,
        and the first images wait for the imports)."""
        pool = self._started()
        for _ in range(self.processes):
            pool.submit(int)  # a process is started for each job while none is idle

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        """Give a job to the processes; blocks while ``depth`` jobs are unfinished."""
        from concurrent.futures.process import BrokenProcessPool

        unfinished = [f for f in self._futures if not f.done()]
        if len(unfinished) >= self.depth:
            self.waits += 1
            while len(unfinished) >= self.depth:
                wait_for(unfinished, return_when=FIRST_COMPLETED)
                unfinished = [f for f in unfinished if not f.done()]
        try:
            future = self._started().submit(fn, *args)
        except BrokenProcessPool:  # a process died (its jobs' results say so): start anew
            self._stop(wait=False)
            future = self._started().submit(fn, *args)
        self._futures.append(future)

    def results(self) -> list[object]:
        """The results of the jobs finished since the last call, in submission order (a job that
        finished after a later one waits for it)."""
        out: list[object] = []
        while self._futures and self._futures[0].done():
            future = self._futures.popleft()
            error = future.exception()
            out.append(error if error is not None else future.result())
        return out

    def wait(self) -> None:
        """Until every job submitted so far has run."""
        wait_for(list(self._futures))

    def close(self) -> None:
        self.wait()
        self._stop(wait=True)

    def _stop(self, wait: bool) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=wait)
            self._pool = None

    def _started(self) -> ProcessPoolExecutor:
        if self._pool is None:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            spawn = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(
                self.processes,
                mp_context=spawn,
                initializer=_in_each_process,
                initargs=(os.getpid(), self.preload),
            )
        return self._pool
