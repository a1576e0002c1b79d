"""pytest-timeout's "signal" method, with an exception that hypothesis lets through.

pytest-timeout fails a hung test with ``pytest.fail``. Inside a hypothesis test that is a failing
example like any other: hypothesis catches it and starts shrinking, re-running the example that hung
with no timer left, so the test hangs again and for good (a CI run stalled so). ``TestHung`` is a
``BaseException`` that hypothesis does not take for a failure: it ends the test at once, pytest
reports the test as failed with the stack where it hung, and the worker goes on.

Imported by ``tests/conftest.py``; the hook below takes over pytest-timeout's timer for the
"signal" method and leaves its other methods alone.
"""

from __future__ import annotations

import faulthandler
import signal
import sys
import threading

import pytest


class TestHung(BaseException):
    """A test ran past its time limit."""

    __test__ = False  # not a test class, despite the name


@pytest.hookimpl(tryfirst=True)
def pytest_timeout_set_timer(item: pytest.Item, settings) -> bool | None:
    if settings.method != "signal" or threading.current_thread() is not threading.main_thread():
        return None  # pytest-timeout's own implementation

    def expire(signum: int, frame: object) -> None:
        if sys.__stderr__ is not None:  # the real stderr: under xdist it reaches the CI log
            faulthandler.dump_traceback(file=sys.__stderr__, all_threads=True)
        raise TestHung(f"{item.nodeid} ran past its time limit of {settings.timeout:g} s")

    def cancel() -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, signal.SIG_DFL)

    item.cancel_timeout = cancel  # pytest-timeout's cancel hook calls it
    signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, settings.timeout)
    return True
