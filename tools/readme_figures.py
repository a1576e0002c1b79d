"""README figures computed, not typed: ``python tools/readme_figures.py [--write]``.

Each figure table in README.md stands between ``<!-- figures:NAME -->`` and ``<!-- /figures:NAME -->``
and is produced by a function here. Without ``--write`` the script checks that README.md holds
what the code computes today and prints the difference (exit 1 when it does not); ``make
docs-figures`` writes them, and a test runs the check so the README cannot go stale silently.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"


def optical_navigation_table() -> str:
    """Every seed rendered with every effect, each body measured as the ground station measures it."""
    from emulator.probe import json_ready
    from emulator.render import render_scenario
    from emulator.scenario import load_scenario, scenario_names
    from groundstation.optical_navigation import measure_bodies
    from protocols.image.image_metadata import ImageMetadata

    rows = [
        "| seed | body | radius | centroid | limb circle | horizon fix | free range |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in scenario_names():
        frame = render_scenario(load_scenario(name))
        metadata = ImageMetadata.from_map(json_ready(frame.truth))  # as the ground reads it off the link
        for body, entry in sorted(measure_bodies(frame.pixels, metadata).items()):
            if entry.get("status") != "detected":
                continue
            limb, horizon = entry.get("limb"), entry.get("horizon")
            range_error = (horizon or {}).get("range_error_percent")
            rows.append(
                f"| `{name}` | {body} | {entry['truth_radius_px']:.1f} px | {entry['error_px']:.2f} px | "
                + (f"{limb['error_px']:.2f} px" if limb else "no fit")
                + " | "
                + (f"{horizon['error_px']:.2f} px" if horizon else "no fix")
                + " | "
                + (f"{range_error:+.2f} %" if range_error is not None else "-")
                + " |"
            )
    return "\n".join(rows)


def fuzz_target_count() -> str:
    """How many decoder targets ``paleblue fuzz list`` shows."""
    from fuzzing.targets import available_targets

    loaded, unavailable = available_targets()
    return f"{len(loaded) + len(unavailable)}"


FIGURES: dict[str, Callable[[], str]] = {
    "optical-navigation": optical_navigation_table,
    "fuzz-targets": fuzz_target_count,
}

_BLOCK = re.compile(r"(<!-- figures:(?P<name>[a-z-]+) -->)(?P<body>.*?)(<!-- /figures:(?P=name) -->)", re.S)


def regenerate(text: str) -> str:
    """``text`` with every figure block replaced by what its function computes now."""

    def replace(match: re.Match[str]) -> str:
        name = match["name"]
        if name not in FIGURES:
            raise KeyError(f"README.md: no function computes the figures {name!r}")
        body = FIGURES[name]()
        inner = f"\n{body}\n" if "\n" in match["body"] else body
        return f"{match[1]}{inner}{match[4]}"

    return _BLOCK.sub(replace, text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite README.md instead of checking it")
    args = parser.parse_args(argv)
    text = README.read_text()
    fresh = regenerate(text)
    if args.write:
        README.write_text(fresh)
        return 0
    if fresh == text:
        print("README.md figures are current")
        return 0
    diff = difflib.unified_diff(text.splitlines(), fresh.splitlines(), "README.md", "computed", lineterm="")
    print("\n".join(diff))
    print("README.md figures are stale: run `make docs-figures`", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
