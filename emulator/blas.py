"""Single-threaded BLAS for the renderer's small matrix products.

The ray caster multiplies (pixels x 3) by (3 x 3) matrices; OpenBLAS splits such a product over
every core, and on a machine whose other core is busy the threads wait for each other: DSCOVR's
frame took 1.2-1.5 s instead of 0.23 s (issue 16). :func:`single_threaded` runs a function with the
BLAS thread pools limited to one thread (threadpoolctl, whose controller is made once), and
restores them after. The products are the same numbers either way (each output element is one
thread's dot product of length 3), so the frames are bit for bit those of the threaded BLAS.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

_controller: Any = None


def _limits() -> Any:
    global _controller
    if _controller is None:
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
    return _controller.limit(limits=1, user_api="blas")


def single_threaded(function: F) -> F:
    """``function`` run with one BLAS thread."""

    @functools.wraps(function)
    def limited(*args: Any, **kwargs: Any) -> Any:
        with _limits():
            return function(*args, **kwargs)

    return limited  # type: ignore[return-value]
