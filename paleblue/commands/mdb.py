"""``paleblue mdb check DIR`` and ``paleblue mdb export``: a mission database checked, or exported as
XTCE 1.2 (Yamcs, space_packet_parser) and ccsdspy packet definitions (one CSV per housekeeping packet)."""

from __future__ import annotations

import argparse
from pathlib import Path

from paleblue.commands.common import CliError, mission_db_or_default
from paleblue.commands.options import mdb_option


def add_parser(sub: argparse._SubParsersAction) -> None:
    top = sub.add_parser("mdb", help="check a mission database (check DIR) or export it (export --xtce FILE)")
    actions = top.add_subparsers(dest="mdb_command", required=True, metavar="SUBCOMMAND")
    p = actions.add_parser("check", help="load and validate DIR; a mistake is file:line: field: reason")
    p.add_argument("mdb", metavar="DIR", help="the database directory (mission, housekeeping, events, ...)")
    p.set_defaults(func=check)
    p = actions.add_parser("export", help="write the database as XTCE and/or ccsdspy definitions")
    mdb_option(p)
    p.add_argument("--xtce", default=None, metavar="FILE", help="XTCE 1.2 document (telemetry and commands)")
    p.add_argument(
        "--ccsdspy", default=None, metavar="DIR", help="one ccsdspy CSV per housekeeping packet (NAME.csv)"
    )
    p.set_defaults(func=export)


def check(args: argparse.Namespace) -> int:
    mdb = mission_db_or_default(args)
    parameters = sum(len(p.layout.values) for p in mdb.packets)
    print(
        f"{args.mdb}: mission {mdb.name}, spacecraft {mdb.spacecraft_id} (0x{mdb.spacecraft_id:X}): "
        f"{len(mdb.packets)} housekeeping packets ({parameters} parameters), {len(mdb.events)} events, "
        f"{len(mdb.commands)} commands: valid"
    )
    return 0


def export(args: argparse.Namespace) -> int:
    from protocols.atomic_file import write_atomically
    from protocols.mdb.ccsdspy_export import to_csv
    from protocols.mdb.xtce import to_xtce

    if args.xtce is None and args.ccsdspy is None:
        raise CliError("mdb export: say what to write: --xtce FILE and/or --ccsdspy DIR")
    mdb = mission_db_or_default(args)
    if args.xtce is not None:
        write_atomically(Path(args.xtce), to_xtce(mdb))
        print(f"xtce: {args.xtce}")
    if args.ccsdspy is not None:
        directory = Path(args.ccsdspy)
        directory.mkdir(parents=True, exist_ok=True)
        for packet in mdb.packets:
            path = write_atomically(directory / f"{packet.name}.csv", to_csv(packet))
            print(f"ccsdspy: {path} (APID {packet.apid}, structure id {packet.structure_id})")
    return 0
