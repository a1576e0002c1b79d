"""``paleblue watch``: the terminal view of a ground station's API (live pass or finished archive)."""

from __future__ import annotations

import argparse
import os
import sys

from paleblue.commands.common import CliError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "watch",
        help="a terminal view of a station's API: parameters, alarms, images, link, events",
    )
    p.add_argument(
        "--api",
        default="http://127.0.0.1:8080",
        metavar="URL",
        help="the API of `ground --api`, `run --api` or `serve` (default http://127.0.0.1:8080)",
    )
    p.add_argument(
        "--token",
        default=None,
        metavar="TOKEN",
        help="the operator token, to acknowledge alarms (default: $PALEBLUE_API_TOKEN)",
    )
    p.add_argument(
        "--poll", type=float, default=5.0, metavar="S", help="a finished archive's refresh period (5)"
    )
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    """Checks the URL and that the API answers (one line and exit 2 if not), then runs the view
    until ``q``."""
    from groundstation.watch.client import ApiClient, WatchError

    if not args.poll > 0:
        raise CliError(f"watch: --poll must be a positive number of seconds, not {args.poll}")
    token = args.token or os.environ.get("PALEBLUE_API_TOKEN") or None
    try:
        client = ApiClient(args.api, token)
        client.status()
    except WatchError as exc:
        raise CliError(f"watch: {exc}") from None
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise CliError("watch: needs a terminal (stdin and stdout); for scripts use the API itself")
    from groundstation.watch.app import WatchApp

    app = WatchApp(client, poll_s=args.poll)
    app.run()
    return app.return_code or 0
