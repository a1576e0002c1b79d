"""What the commands share: user errors, signals, scenarios, channels, keys."""

from __future__ import annotations

import argparse
import contextlib
import functools
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

DEFAULT_DOWNLINK = "tcp://127.0.0.1:5550"
DEFAULT_UPLINK = "tcp://127.0.0.1:5551"
CURVE_HELP = "ZeroMQ CURVE certificates (`paleblue keys curve DIR`): encrypted sockets, known clients only"
KEYS_HELP = "SDLS key directory (`paleblue keys generate DIR`): TCs only in authenticated TC frames"


if TYPE_CHECKING:
    from groundstation.api.console import Console


class CliError(Exception):
    """A user error: printed as one line, exit status 2."""


def setup_logging(name: str, verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format=f"%(asctime)s {name}: %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )


class SignalStop(threading.Event):
    """Set by SIGINT or SIGTERM; ``signum`` is the first signal that came (None: none yet)."""

    signum: int | None = None

    def interrupted_by(self) -> str:
        return signal.Signals(self.signum or signal.SIGINT).name


def stop_on_signals() -> SignalStop:
    """SIGINT and SIGTERM set the returned event: a long-running command stops at its next safe
    point, writes what it has, and exits 128 + ``signum``."""
    stop = SignalStop()

    def handler(signum: int, frame: object) -> None:
        if stop.signum is None:
            stop.signum = signum
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return stop


class Interrupted(Exception):
    """SIGINT or SIGTERM arrived: the command stops at a safe point and exits 128 + the signal."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class Interrupts:
    """SIGINT/SIGTERM raise :class:`Interrupted` at once, except inside :meth:`hold` (writing a
    file): there the first one waits for the block to end. Later signals are ignored: the command
    is already stopping."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.progress = "nothing written"  # what is complete, for the one line an interrupt prints
        self._held = 0
        signal.signal(signal.SIGINT, self._handler)
        signal.signal(signal.SIGTERM, self._handler)

    def _handler(self, signum: int, frame: object) -> None:
        if self.signum is not None:
            return
        self.signum = signum
        if not self._held:
            raise Interrupted(signum)

    @contextlib.contextmanager
    def hold(self):
        self._held += 1
        try:
            yield
        finally:
            self._held -= 1
        if not self._held and self.signum is not None:
            raise Interrupted(self.signum)


def load_scenario(name: str):
    from emulator.scenario import ScenarioError, load_scenario

    try:
        return load_scenario(name)
    except ScenarioError as exc:
        raise CliError(str(exc)) from None


def check_file_delivery(scenario, command: str) -> None:
    """Images as CFDP files are all rendered at start: a bound on their pixels (one line, exit 2)."""
    from emulator.scenario import ScenarioError, check_file_delivery

    try:
        check_file_delivery(scenario)
    except ScenarioError as exc:
        raise CliError(f"{command}: {exc}") from None


def list_scenarios():
    from emulator.scenario import ScenarioError, list_scenarios

    try:
        return list_scenarios()
    except ScenarioError as exc:
        raise CliError(str(exc)) from None


def json_ready(value: object) -> object:
    from emulator.probe import json_ready

    return json_ready(value)


def channel_by_name(name: str):
    """A channel preset by name or a channel file; 'none' means bare space packets without frames."""
    from protocols.link.channel_file import load_channel

    if name == "none":
        return None
    try:
        return load_channel(name).config
    except ValueError as exc:
        raise CliError(str(exc)) from None


def _override_flags(args: argparse.Namespace) -> dict:
    given = {
        "spacecraft_id": getattr(args, "scid", None),
        "fecf": False if getattr(args, "no_fecf", False) else None,
        "ocf": False if getattr(args, "no_ocf", False) else None,
        "rs": getattr(args, "rs", None),
        "randomizer": False if getattr(args, "no_randomizer", False) else None,
        "frame_length": getattr(args, "frame_length", None),
    }
    return {k: v for k, v in given.items() if v is not None}


def channel_overrides(args: argparse.Namespace):
    """The channel override flags as a function of the base channel (None when none are given).

    With ``--mdb DIR`` and no ``--scid`` the frames carry that database's spacecraft id (its low
    8 bits in AOS frames, as the shipped AOS presets do with 437)."""
    from protocols.link.channel_config import FrameType
    from protocols.link.channel_file import with_overrides

    given = _override_flags(args)
    database = mission_db(args)
    if not given and database is None:
        return None
    masks = {FrameType.TM: 0x3FF, FrameType.AOS: 0xFF, FrameType.USLP: 0xFFFF}

    def apply(config):
        changes = dict(given)
        if database is not None and "spacecraft_id" not in changes:
            changes["spacecraft_id"] = database.spacecraft_id & masks[config.frame_type]
        try:
            return with_overrides(config, **changes)
        except ValueError as exc:
            raise CliError(
                f"{args.command}: --channel {args.channel or 'tm-rs-i5'} with the overrides: {exc}"
            ) from None

    return apply


def resolve_channel(args: argparse.Namespace):
    """--channel NAME|FILE (default tm-rs-i5) with the override flags applied; None = bare packets."""
    name = args.channel or "tm-rs-i5"
    config = channel_by_name(name)
    apply = channel_overrides(args)
    if apply is None:
        return config
    if config is None:
        if not _override_flags(args):
            return None  # --mdb alone: bare packets have no spacecraft id to follow it
        raise CliError(f"{args.command}: --channel none carries no frames, so it takes no channel overrides")
    return apply(config)


@functools.cache
def _load_mdb(directory: str | None):
    from protocols.mdb.mission_db import DEFAULT_DIRECTORY, MissionDbError, load_mission_db

    path = Path(directory) if directory is not None else None
    if path is not None and not path.is_dir():
        raise CliError(f"{path}: not a directory (a mission database is a directory of TOML files)")
    try:
        return load_mission_db(path)
    except MissionDbError as exc:
        where = (path or DEFAULT_DIRECTORY) / exc.file
        at = f"{where}:{exc.line}" if exc.line else str(where)
        field = "" if exc.field == "-" else f"{exc.field}: "  # a TOML syntax error names no field
        raise CliError(f"{at}: {field}{exc.reason}") from None


def mission_db(args: argparse.Namespace):
    """``--mdb DIR`` loaded and checked (a bad file is one line, ``file:line: field: reason``);
    None without it, so each part loads paleblue's own database as it does by default."""
    directory = getattr(args, "mdb", None)
    return None if directory is None else _load_mdb(directory)


def mission_db_or_default(args: argparse.Namespace):
    """``--mdb DIR``, else paleblue's own database."""
    return _load_mdb(getattr(args, "mdb", None))


def channel_argv(args: argparse.Namespace) -> list[str]:
    """The channel flags again, for a child process (paleblue run)."""
    argv = ["--channel", args.channel or "tm-rs-i5"]
    if args.scid is not None:
        argv += ["--scid", str(args.scid)]
    if args.rs is not None:
        e, i, dual = args.rs
        argv += ["--rs", f"{e}/{i}/{'dual' if dual else 'conventional'}" if e else "none"]
    if args.frame_length is not None:
        argv += ["--frame-length", str(args.frame_length)]
    for flag in ("no_fecf", "no_ocf", "no_randomizer"):
        if getattr(args, flag):
            argv.append("--" + flag.replace("_", "-"))
    return argv


_AUTHENTICATORS: list = []  # the probe's ZAP authenticator lives as long as the process


def use_curve(directory: str | None, server: bool) -> None:
    """--curve-keys: every ZeroMQ socket this process opens is a CURVE server (probe) or client."""
    if directory is None:
        return
    import zmq

    from protocols.sdls.keystore import KeyFileError
    from transport.curve import connect_curve, serve_curve

    try:
        if server:
            _AUTHENTICATORS.append(serve_curve(zmq.Context.instance(), Path(directory)))
        else:
            connect_curve(zmq.Context.instance(), Path(directory))
    except KeyFileError as exc:
        raise CliError(f"curve: {exc}") from None


def security_context(directory: str | None, role: str):
    """The SDLS context from a key directory (None without one); a bad key file is a usage error."""
    if directory is None:
        return None
    from protocols.sdls.keystore import KeyFileError, load_context

    try:
        return load_context(Path(directory), role)
    except KeyFileError as exc:
        raise CliError(f"keys: {exc}") from None


def cfdp_uplink_security(directory: str | None, spacecraft_id: int, required: bool = False):
    """What secures the station's CFDP replies (role ``station-uplink``, its ARSNs saved after each
    frame): None without a key directory, or without an SA on TC VC 1 unless ``required``, when that
    is a usage error (the probe would refuse replies in clear)."""
    if directory is None:
        return None
    from groundstation.link_security import UplinkSecurity
    from protocols.sdls.keystore import CFDP_TC_VCID, KeyFileError, load_context, save_arsn

    try:
        context = load_context(Path(directory), "station-uplink")
    except KeyFileError as exc:
        raise CliError(f"keys: {exc}") from None
    if context.sending_sa("tc", CFDP_TC_VCID) is None:
        if required:
            raise CliError(
                f"keys: {directory} has no operational SA on TC VC {CFDP_TC_VCID} for the CFDP replies "
                "(make a new key directory with `paleblue keys generate`)"
            )
        return None
    return UplinkSecurity(
        context, spacecraft_id, save=lambda ctx: save_arsn(Path(directory), "station-uplink", ctx)
    )


def downlink_security_context(directory: str | None, role: str, channel):
    """The SDLS context of the downlink's SAs (None without a key directory or without SAs for the
    channel's frames); a bad key file, or SAs on a channel they cannot cover, is a usage error."""
    if directory is None:
        return None
    from protocols.sdls.keystore import DOWNLINK_LINKS, KeyFileError, load_context

    try:
        context = load_context(Path(directory), role, links=DOWNLINK_LINKS)
    except KeyFileError as exc:
        raise CliError(f"keys: {exc}") from None
    if not context.sas:
        return None
    from protocols.sdls.downlink import DownlinkSecurity

    if channel is None:
        raise CliError(f"keys: {directory} has downlink SAs; they need transfer frames, not --channel none")
    try:
        DownlinkSecurity(context, channel)
    except ValueError as exc:
        raise CliError(f"keys: {exc}") from None
    return context


def compression_of(name: str):
    from protocols.image.image_file import Compression

    return Compression.CCSDS121 if name == "ccsds121" else Compression.NONE


def link_profile_of(name: str | None, time_scale: float, range_km: float):
    if name is None:
        return None
    from emulator.link_simulator import profile

    return profile(name, time_scale=time_scale, range_km=range_km)


def ground_services(args: argparse.Namespace):
    """``attach(station, send_uplink)`` for --archive and --api, checked before anything starts."""
    web = web_console(args)
    archive = getattr(args, "archive", None)
    api = getattr(args, "api", None)
    if archive is None and api is None:
        return None
    from groundstation.api.server import parse_address
    from groundstation.archive import ArchiveError, ArchiveWriter
    from groundstation.archiving import open_services

    address = None
    if api is not None:
        try:
            address = parse_address(api)
        except ValueError as exc:
            raise CliError(f"--api: {exc}") from None
    if archive is not None:
        try:
            ArchiveWriter(archive).close()  # a file that is not an archive: one line, before any socket
        except ArchiveError as exc:
            raise CliError(f"--archive: {exc}") from None

    def attach(station, send_uplink=None):
        return open_services(
            station,
            send_uplink,
            archive_path=archive,
            api_address=address,
            token=getattr(args, "api_token", None),
            web=web,
            announce=lambda line: print(line, file=sys.stderr, flush=True),
        )

    return attach


WEB_API_DEFAULT = "127.0.0.1:8080"
WEB_ARCHIVE = "archive.db"  # the console's history, in the output directory, unless --archive says


def web_console(args: argparse.Namespace) -> Console | None:
    """``--web``: the console to serve, with --api and --archive filled in when not given (None
    without --web). Without Open MCT: one line naming ``make web`` (exit 2), before anything starts."""
    if not getattr(args, "web", False):
        return None
    from groundstation.api.console import Console, ConsoleMissing, openmct_dist

    try:
        dist = openmct_dist()
    except ConsoleMissing as exc:
        raise CliError(f"--web: {exc}") from None
    if getattr(args, "api", None) is None:
        args.api = WEB_API_DEFAULT
    if getattr(args, "archive", None) is None and getattr(args, "output", None):
        Path(args.output).mkdir(parents=True, exist_ok=True)
        args.archive = str(Path(args.output) / WEB_ARCHIVE)
    rtt = getattr(args, "rtt", None)  # the ground's: what its CFDP timers allow for
    return Console(dist, {"round_trip_light_time_s": rtt} if rtt is not None else {})


def is_zmq_error(exc: BaseException) -> bool:
    """A ZeroMQ error, without importing ZeroMQ (a command that raised one has imported it)."""
    zmq = sys.modules.get("zmq")
    return zmq is not None and isinstance(exc, zmq.ZMQError)
