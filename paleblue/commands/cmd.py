"""``paleblue cmd``: send one telecommand to a running probe and follow its verification."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from paleblue.commands.common import (
    CURVE_HELP,
    DEFAULT_DOWNLINK,
    DEFAULT_UPLINK,
    KEYS_HELP,
    CliError,
    Interrupted,
    Interrupts,
    channel_by_name,
    channel_overrides,
    mission_db_or_default,
    security_context,
    use_curve,
)
from paleblue.commands.options import CHANNEL_HELP, mdb_option, positive_float


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("cmd", help="send a telecommand to a running probe and follow its verification")
    p.add_argument("name", metavar="NAME", help="command name from the mission database (telecommands.toml)")
    p.add_argument("arguments", nargs="*", metavar="ARG=VALUE")
    p.add_argument("--uplink", default=DEFAULT_UPLINK, metavar="ENDPOINT", help="the probe's uplink endpoint")
    p.add_argument("--downlink", default=DEFAULT_DOWNLINK, metavar="ENDPOINT", help="the probe's downlink")
    p.add_argument("--channel", default="tm-rs-i5", metavar="PRESET", help=CHANNEL_HELP)
    p.add_argument(
        "--wait", action="store_true", help="wait for acceptance and completion; exit 1 on failure"
    )
    p.add_argument("--timeout", type=positive_float, default=30.0, metavar="S")
    p.add_argument("--keys", default=None, metavar="DIR", help=KEYS_HELP)
    p.add_argument("--curve-keys", default=None, metavar="DIR", help=CURVE_HELP)
    p.add_argument(
        "--cop1", action="store_true",
        help="send as a Type-AD frame under COP-1 (FOP-1: Set V(R) from the CLCW, retransmission until "
        "the CLCW acknowledges it)",
    )  # fmt: skip
    mdb_option(p)
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    """Send one telecommand to a running probe; with --wait, exit 0 only on completion (130/143
    when SIGINT/SIGTERM stops the waiting: one line saying whether the command went out)."""
    interrupts = Interrupts()
    interrupts.progress = "nothing sent"
    try:
        return _cmd(args, interrupts)
    except Interrupted as exc:
        print(f"paleblue: cmd: {args.name}: interrupted by {exc}; {interrupts.progress}", file=sys.stderr)
        return 128 + exc.signum


def _cmd(args: argparse.Namespace, interrupts: Interrupts) -> int:
    from groundstation.command_link import open_command_client
    from groundstation.commanding import (
        CommandEncoder,
        CommandError,
        CommandFailed,
        CommandState,
        CommandTimeout,
        parse_arguments,
    )
    from protocols.sdls import ArsnExhausted, SaManagementError

    mdb = mission_db_or_default(args)
    try:
        arguments = parse_arguments(mdb, args.name, args.arguments)
        CommandEncoder(mdb).encode(args.name, arguments, 0)  # every check, before any socket opens
    except CommandError as exc:
        raise CliError(f"cmd: {exc}") from None
    channel = channel_by_name(args.channel)
    overrides = channel_overrides(args)  # --mdb: the frames carry its spacecraft id
    if channel is not None and overrides is not None:
        channel = overrides(channel)
    security = security_context(args.keys, "ground")
    if security is not None and security.sending_sa("tc", mdb.tc_virtual_channel) is None:
        raise CliError(
            f"cmd: SDLS: no operational SA on TC virtual channel {mdb.tc_virtual_channel} in {args.keys}"
        )
    use_curve(args.curve_keys, server=False)
    on_sent = None
    if security is not None:
        from protocols.sdls.keystore import save_arsn

        def on_sent(context) -> None:
            save_arsn(Path(args.keys), "ground", context)

    cop1 = None
    if args.cop1:
        if channel is None:
            raise CliError("cmd: --cop1 needs transfer frames on the downlink (the CLCW is in their OCF)")
        from protocols.link.fop import Fop1

        cop1 = Fop1(vcid=mdb.tc_virtual_channel)
    try:
        with open_command_client(
            args.uplink, args.downlink, channel, mdb, args.timeout, security, on_sent, cop1=cop1
        ) as client:
            if not args.wait:
                record = client.send_command(args.name, arguments)
                print(f"{args.name}: sent (request {record.request_id})")
                return 0
            try:
                with interrupts.hold():  # sent whole, and known to be sent
                    record = client.send_command(args.name, arguments)
                    interrupts.progress = f"sent (request {record.request_id}), its verification not awaited"
                record = client.wait_for(record, args.timeout)
                if record.state is not CommandState.COMPLETED:
                    raise CommandFailed(record)
            except CommandFailed as exc:
                record = exc.record
                stage = "acceptance" if record.state is CommandState.REJECTED else "completion"
                print(f"{args.name}: {record.state.value} at {stage}: {record.failure}", file=sys.stderr)
                return 1
            except CommandTimeout as exc:
                print(f"{args.name}: {exc}", file=sys.stderr)
                return 3
    except TimeoutError as exc:
        raise CliError(f"cmd: {exc}") from None
    except (SaManagementError, ArsnExhausted) as exc:  # no operational SA, or its ARSN used up
        raise CliError(f"cmd: SDLS: {exc}") from None
    steps = " -> ".join(state.value for state, _ in record.transitions) or record.state.value
    print(f"{args.name}: {steps}")
    if security is not None and args.name.startswith("SDLS_") and args.name in mdb.command_by_name:
        status = security.manage(args.name, arguments)  # the ground's copy of the SA follows the probe's
        on_sent(security)
        print(f"SA {status.spi}: {status.state.name}, key {status.key_id}, ARSN {status.arsn} (ground)")
    return 0
