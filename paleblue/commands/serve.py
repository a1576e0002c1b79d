"""``paleblue serve``: the API over a finished pass's archive."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from paleblue.commands.common import CliError, mission_db_or_default, stop_on_signals, web_console
from paleblue.commands.options import mdb_option, web_option


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="serve a finished pass's archive over the API (history, images, alarms)")
    p.add_argument("archive", metavar="ARCHIVE")
    p.add_argument("--api", default="127.0.0.1:8080", metavar="[HOST:]PORT", help="where to listen")
    p.add_argument(
        "--products",
        default=None,
        metavar="DIR",
        help="where the pass's products are (default: beside ARCHIVE)",
    )
    mdb_option(p)
    web_option(p)
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    """``paleblue serve ARCHIVE``: the API over a finished (or replayed) pass, until Ctrl-C."""
    from groundstation.api.app import ApiContext
    from groundstation.api.dictionary import build_dictionary
    from groundstation.api.server import ApiServer, parse_address
    from groundstation.archive import Archive, ArchiveError

    web = web_console(args)  # without Open MCT: one line naming `make web`
    try:
        host, port = parse_address(args.api)
    except ValueError as exc:
        raise CliError(f"serve: --api: {exc}") from None
    try:
        with Archive(args.archive) as archive:
            station_parameters = [p.name for p in archive.parameters("station.*")]
    except ArchiveError as exc:
        raise CliError(f"serve: {exc}") from None
    products = Path(args.products) if args.products else Path(args.archive).resolve().parent
    context = ApiContext(
        dictionary=build_dictionary(mission_db_or_default(args), station_parameters),
        archive_path=Path(args.archive),
        products_dir=products,
        web=web,
    )
    stop = stop_on_signals()
    server = ApiServer(context, host, port)
    url = server.start()
    print(f"serving {args.archive} on {url} (Ctrl-C to stop)", file=sys.stderr, flush=True)
    if web is not None:
        print(f"console on {url}/ (Open MCT)", file=sys.stderr, flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
    return 0
