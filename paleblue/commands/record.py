"""``paleblue record``: a passive tap that records a downlink (and uplink) as received."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from paleblue.commands.common import (
    DEFAULT_DOWNLINK,
    CliError,
    channel_overrides,
    resolve_channel,
    setup_logging,
    stop_on_signals,
)
from paleblue.commands.options import channel_options


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("record", help="record a downlink (and uplink) as a passive tap")
    p.add_argument("--downlink", default=DEFAULT_DOWNLINK, metavar="ENDPOINT")
    p.add_argument(
        "--uplink", default=None, metavar="ENDPOINT", help="also record this uplink (a PUB to tap)"
    )
    p.add_argument("-o", "--output", required=True, metavar="FILE")
    p.add_argument("--scenario", default=None, help="scenario name for the recording's header")
    channel_options(p, default=None)  # written into the header, for decode; the tap itself decodes nothing
    p.add_argument("-v", "--verbose", action="store_true")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    """A passive tap beside a running ground station: every message, exactly as received."""
    from groundstation.recorder import record

    setup_logging("record", args.verbose)
    path = Path(args.output)
    if path.exists():
        raise CliError(f"record: {path} exists; a recording is never overwritten")
    config = {"downlink": args.downlink, "uplink": args.uplink}
    if args.channel is not None or channel_overrides(args) is not None:  # the tap does not decode: only noted
        from protocols.link.channel_file import channel_to_dict

        channel = resolve_channel(args)
        config["channel"] = args.channel or "tm-rs-i5"
        if channel is not None:
            config["channel_config"] = channel_to_dict(channel)
    stop = stop_on_signals()
    header = {"scenario": args.scenario or "", "config": config}
    stats = record(args.downlink, args.uplink, path, stop, header)
    print(json.dumps(stats.__dict__, indent=2))
    return 0
