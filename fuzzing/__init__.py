"""Fuzz-testing the decoders: a coverage-guided in-process fuzzer and a live-stream mutator.

``fuzz_decoders`` drives every registered decoder entry point (:mod:`.targets`) with mutated
inputs and keeps what reaches new code; ``fuzz_stream`` mutates a valid downlink and replays it
into a running ground station over ZeroMQ. Both are pure library code: the CLI wires them.
"""

from __future__ import annotations
