"""``paleblue render``: a scenario's frames and products without any link; ``--all`` adds a contact sheet."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from paleblue.commands.common import (
    CliError,
    Interrupted,
    Interrupts,
    json_ready,
    list_scenarios,
    load_scenario,
)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("render", help="render a scenario's frame without any link")
    p.add_argument("scenario", nargs="?", metavar="SCENARIO", help="seed name or path to a scenario file")
    p.add_argument("--all", action="store_true", help="render every seed and write a contact sheet")
    p.add_argument("-o", "--output", required=True, metavar="DIR")
    p.add_argument("--seed", type=int, default=None, help="noise seed (default: the scenario's)")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    interrupts = Interrupts()  # first: Ctrl-C even during the imports below is one line
    try:
        return _render(args, interrupts)
    except Interrupted as exc:
        print(f"paleblue: render: interrupted by {exc}; {interrupts.progress}", file=sys.stderr)
        return 128 + exc.signum


def _render(args: argparse.Namespace, interrupts: Interrupts) -> int:
    """Render, write each scenario's products whole (a signal waits for the files), then the sheet."""
    from emulator.colour import write_capture_products
    from emulator.render import render_bands

    if args.all:
        scenarios = list_scenarios()
    elif args.scenario:
        scenarios = [load_scenario(args.scenario)]
    else:
        raise CliError("render: name a SCENARIO or give --all")
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    rendered = []
    for scenario in scenarios:
        frames = render_bands(scenario, seed=args.seed)
        with interrupts.hold():
            files = write_capture_products(frames, out, scenario.name, json_ready)
            rendered.append((scenario.name, frames if len(frames) > 1 else next(iter(frames.values()))))
            interrupts.progress = f"{len(rendered)} of {len(scenarios)} scenario(s) written whole to {out}"
            print(f"{scenario.name}: " + ", ".join(str(p) for p in files.values()), flush=True)
    if args.all:
        from emulator.contact_sheet import write_contact_sheet

        with interrupts.hold():
            sheet = write_contact_sheet(rendered, out / "contact-sheet.png")
            print(f"contact sheet: {sheet}")
    return 0
