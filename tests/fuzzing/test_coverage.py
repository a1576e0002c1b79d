"""The coverage tracer sees our decoders' lines only."""

from __future__ import annotations

from fuzzing.coverage import CoverageTracer
from fuzzing.targets import load_target


def test_coverage_tracer_sees_decoder_lines_only() -> None:
    tracer = CoverageTracer()
    target = load_target("space-packet")
    tracer.call(target.run, target.seeds[0])
    assert tracer.commit() > 0
    files = tracer.files()
    assert "protocols/packets/space_packet.py" in files
    assert not any("fuzzing" in f for f in files), "the fuzzer's own code is not coverage"
    tracer.call(target.run, target.seeds[0])
    assert tracer.commit() == 0, "the same input reaches nothing new"
