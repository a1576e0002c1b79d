"""``paleblue scenarios``: the seed scenarios, one line each."""

from __future__ import annotations

import argparse

from paleblue.commands.common import list_scenarios


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("scenarios", help="list the seed scenarios")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    rows = [
        (s.name, s.epoch_utc.date().isoformat(), s.spacecraft, s.camera_name, f"{s.range_km:,.0f} km")
        for s in list_scenarios()
    ]
    header = ("name", "date", "spacecraft", "camera", "range to Earth")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    return 0
