"""``paleblue decode``: decode a CADU, frame, packet or recording file offline."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from paleblue.commands.common import (
    CliError,
    Interrupted,
    Interrupts,
    channel_by_name,
    channel_overrides,
    ground_services,
    mission_db,
    setup_logging,
)
from paleblue.commands.options import archive_api_options, channel_options, mdb_option
from paleblue.commands.progress import Progress


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("decode", help="decode a CADU, frame, packet or recording file offline")
    p.add_argument("file", metavar="FILE")
    archive_api_options(p, api=False)
    p.add_argument("--format", choices=("auto", "cadu", "frames", "packets", "recording"), default="auto")
    channel_options(p, default=None)
    p.add_argument("-o", "--output", required=True, metavar="DIR")
    p.add_argument(
        "--export-packets", metavar="FILE", help="write the extracted packets as a raw packet file"
    )
    p.add_argument(
        "--no-products", action="store_true", help="summary only: checksums and counts, no image files"
    )
    p.add_argument(
        "--keys", default=None, metavar="DIR",
        help="SDLS key directory of a downlink recorded with SDLS on: its frames are verified and decrypted "
        "(ARSNs from 0: the station's saved ones are neither read nor written)",
    )  # fmt: skip
    mdb_option(p)
    p.add_argument("-v", "--verbose", action="store_true")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    """Exit 0 decoded, 1 decoded with faults, 2 usage error, 3 nothing recognised, 130/143 when
    SIGINT/SIGTERM stopped it (the summary of what was read is written first)."""
    interrupts = Interrupts()  # first: Ctrl-C even during the imports is one line
    try:
        return _decode(args, interrupts)
    except Interrupted as exc:
        print(f"paleblue: decode: interrupted by {exc}; {interrupts.progress}", file=sys.stderr)
        return 128 + exc.signum


def _decode(args: argparse.Namespace, interrupts: Interrupts) -> int:
    path = Path(args.file)
    if path.is_dir():
        raise CliError(f"decode: {path} is a directory, not a file")
    if not path.is_file():
        raise CliError(f"decode: {path}: no such file")
    channel = None if args.channel in (None, "none") else channel_by_name(args.channel)
    overrides = channel_overrides(args)
    if overrides is not None:
        overrides(channel or channel_by_name("tm-rs-i5"))  # an impossible combination is a usage error now
    setup_logging("decode", args.verbose)
    if not args.verbose:
        logging.getLogger("paleblue").setLevel(logging.ERROR)
    bar = Progress(f"decode {path.name}", unit="B")  # on a terminal only
    progress = (lambda done, total: bar.update(done, total)) if bar.enabled else None
    with bar, interrupts.hold():  # a signal stops the decoding at the next chunk; the summary is written
        return _decode_and_summarise(args, path, channel, overrides, progress, interrupts, bar)


def _downlink_keys(directory: str | None):
    """The downlink SAs of a key directory for an offline decode: fresh ARSNs (role "decode", never
    saved), None without a directory or without downlink SAs."""
    if directory is None:
        return None
    from protocols.sdls.keystore import DOWNLINK_LINKS, KeyFileError, load_context

    try:
        context = load_context(Path(directory), "decode", links=DOWNLINK_LINKS)
    except KeyFileError as exc:
        raise CliError(f"decode: keys: {exc}") from None
    return context if context.sas else None


def _decode_and_summarise(
    args, path: Path, channel, overrides, progress, interrupts: Interrupts, bar: Progress
) -> int:
    from groundstation.decode import decode_file, exit_code
    from groundstation.pass_report import PassReport
    from protocols.atomic_file import write_atomically
    from protocols.errors import DecodeError

    try:
        summary = decode_file(
            path,
            Path(args.output),
            args.format,
            channel,
            Path(args.export_packets) if args.export_packets else None,
            progress,
            write_products=not args.no_products,
            channel_name=args.channel,
            overrides=overrides,
            attach=decode_services(args),
            mdb=mission_db(args),
            stop=lambda: interrupts.signum is not None,
            downlink_security=_downlink_keys(args.keys),
        )
    except DecodeError as exc:
        raise CliError(f"decode: {path}: {exc}") from None
    except ValueError as exc:
        if args.keys is None:
            raise
        raise CliError(f"decode: keys: {exc}") from None
    bar.close()  # the table and any message start on a clean line
    write_atomically(Path(args.output) / "summary.json", json.dumps(summary, indent=2) + "\n")
    stopped = summary["input"].get("interrupted")
    if stopped is not None:
        read = ", ".join(f"{value:,} {key.replace('_', ' ')}" for key, value in stopped.items())
        interrupts.progress = f"summary of what was read ({read}) written to {args.output}/summary.json"
        return 128 + (interrupts.signum or 2)  # the hold's end raises Interrupted first
    if summary["input"]["format"] is None:
        print(
            f"paleblue: decode: {path}: nothing recognised: {summary['input']['detection']}", file=sys.stderr
        )
        return exit_code(summary)
    print(PassReport(summary).decode_table(), end="")
    return exit_code(summary)


def decode_services(args: argparse.Namespace):
    attach = ground_services(args)
    return None if attach is None else (lambda station: attach(station, None))
