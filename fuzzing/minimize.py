"""Delta debugging (Zeller's ddmin) of a failing input, then a pass that simplifies octets.

``still_fails(candidate)`` must say whether a candidate shows the *same* failure (the engine
compares exception type and failing line), so minimization never wanders to another bug.
"""

from __future__ import annotations

from collections.abc import Callable


def ddmin(data: bytes, still_fails: Callable[[bytes], bool], max_tests: int = 5000) -> bytes:
    """A 1-minimal sub-sequence of ``data`` that still fails (up to ``max_tests`` trials)."""
    tests = 0
    granularity = 2
    while len(data) >= 2 and tests < max_tests:
        size = max(1, len(data) // granularity)
        chunks = [(i, min(len(data), i + size)) for i in range(0, len(data), size)]
        reduced = False
        for start, end in chunks:  # try each complement: drop one chunk
            candidate = data[:start] + data[end:]
            tests += 1
            if still_fails(candidate):
                data = candidate
                granularity = max(granularity - 1, 2)
                reduced = True
                break
            if tests >= max_tests:
                break
        if not reduced:
            if granularity >= len(data):
                break
            granularity = min(len(data), granularity * 2)
    if len(data) == 1 and still_fails(b""):
        return b""
    return data


def simplify_octets(data: bytes, still_fails: Callable[[bytes], bool], max_tests: int = 2000) -> bytes:
    """Replace octets by 0x00 where the failure survives: the bytes that matter stand out."""
    out = bytearray(data)
    tests = 0
    for i in range(len(out)):
        if out[i] == 0 or tests >= max_tests:
            continue
        saved = out[i]
        out[i] = 0
        tests += 1
        if not still_fails(bytes(out)):
            out[i] = saved
    return bytes(out)


def minimize(data: bytes, still_fails: Callable[[bytes], bool]) -> bytes:
    """Shortest failing input ddmin finds, with irrelevant octets zeroed."""
    if not still_fails(data):
        return data
    return simplify_octets(ddmin(data, still_fails), still_fails)
