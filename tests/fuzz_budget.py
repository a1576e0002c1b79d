"""How many examples a heavy property runs: its own small number normally, a stated larger one under
`make fuzz`.

A property whose examples cost tens of milliseconds keeps `make test` in its budget with an explicit
``@settings(max_examples=N)``. Explicit settings win over the profile, so under ``HYPOTHESIS_PROFILE=fuzz``
(20,000 examples, tests/conftest.py) such a property would still run its N. ``examples(ci, fuzz=M)`` gives
``ci`` under every other profile and ``M`` under the fuzz profile: M is chosen per property, from its
measured cost per example, so that it finishes in minutes of one core (20,000 only where that fits), and
the property's comment says so.
"""

from __future__ import annotations

import os

FUZZ = os.environ.get("HYPOTHESIS_PROFILE") == "fuzz"


def examples(ci: int, *, fuzz: int) -> int:
    """``ci`` examples normally, ``fuzz`` under the fuzz profile."""
    return fuzz if FUZZ else ci
