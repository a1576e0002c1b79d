"""Shared test settings: hypothesis profiles keep `make test` inside its time budget.

``ci`` (the default under `make test`) runs a bounded number of examples with no deadline, since
two cores are shared by the whole suite, and derandomized: hypothesis itself loads a derandomized
profile when it sees a CI variable, and CI's fixed examples once found a hang that random local
runs did not (see tests/groundstation/test_link_receiver.py). Derandomized here too, every
`make test` runs exactly the examples CI runs. ``dev`` explores new random examples on each run
(``HYPOTHESIS_PROFILE=dev``); ``fuzz`` is for long local campaigns (`make fuzz`).
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

from tests.hang_guard import pytest_timeout_set_timer  # noqa: F401 -- a hook, found by name

settings.register_profile(
    "ci",
    max_examples=60,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile("dev", max_examples=100, derandomize=False, deadline=None)
settings.register_profile(
    "fuzz",
    max_examples=20_000,
    derandomize=False,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    print_blob=True,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def nats_server(tmp_path):
    """A real nats-server with JetStream on a free loopback port and its own storage dir; always stopped."""
    from transport.nats_server import NatsServer

    server = NatsServer(tmp_path / "nats-store").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def nats_cluster(tmp_path):
    """Three nats-servers as one JetStream cluster (free ports, own storage dirs); always stopped."""
    from transport.nats_server import start_cluster

    servers = start_cluster(tmp_path / "nats-cluster", 3)
    try:
        yield servers
    finally:
        for server in servers:
            server.stop()
