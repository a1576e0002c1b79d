"""Shared test settings: hypothesis profiles keep `make test` inside its time budget.

``ci`` (the default under `make test`) runs a bounded number of examples with no
deadline, since two cores are shared by the whole suite; ``fuzz`` is for long
local campaigns (`make fuzz`).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.register_profile(
    "fuzz", max_examples=20_000, deadline=None, suppress_health_check=list(HealthCheck), print_blob=True
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
