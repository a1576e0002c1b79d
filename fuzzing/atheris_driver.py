"""Child process of the atheris engine.

Run as ``python -m fuzzing.atheris_driver TARGET [libFuzzer args]``.

The decoder modules are imported inside ``atheris.instrument_imports`` so libFuzzer sees their
branches. Findings already recorded in this campaign (``PALEBLUE_FUZZ_KNOWN``: one signature per
line) are let through, so one shallow bug does not end the search for the others.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str]) -> None:
    import atheris

    name = argv[1]
    with atheris.instrument_imports(include=["protocols", "groundstation"]):
        from fuzzing.engine import _signature, quiet_station_logs
        from fuzzing.targets import load_target, prepare_input
        from protocols.errors import DecodeError

        target = load_target(name)
    known = set(filter(None, os.environ.get("PALEBLUE_FUZZ_KNOWN", "").split("\n")))

    def test_one_input(data: bytes) -> None:
        data = prepare_input(target, data)
        try:
            target.run(data)
        except DecodeError as exc:
            if target.total and _signature(exc) not in known:
                raise
        except Exception as exc:
            if _signature(exc) not in known:
                raise

    with quiet_station_logs():
        atheris.Setup([argv[0], *argv[2:]], test_one_input)
        atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
