"""Option groups and argument types several commands take."""

from __future__ import annotations

import argparse

CHANNEL_HELP = (
    "channel preset name or channel file (TOML) (default tm-rs-i5: TM, RS(255,223) I=5, randomized); "
    "'none' = bare packets"
)


def channel_options(p: argparse.ArgumentParser, default: str | None = "tm-rs-i5") -> None:
    """--channel NAME|FILE and the overrides of its parameters."""
    help_text = CHANNEL_HELP
    if default is None:
        help_text += " (decode: by default a recording's own channel, else what --format auto finds)"
    p.add_argument("--channel", default=default, metavar="NAME|FILE", help=help_text)
    p.add_argument("--scid", type=lambda t: int(t, 0), default=None, metavar="ID", help="spacecraft id")
    p.add_argument("--no-fecf", action="store_true", help="frames without a frame error control field")
    p.add_argument("--no-ocf", action="store_true", help="frames without an operational control field")
    p.add_argument(
        "--rs", type=reed_solomon, default=None, metavar="E/I[/BASIS]|none",
        help="Reed-Solomon E (8 or 16), interleave I, basis dual (default) or conventional; or none",
    )  # fmt: skip
    p.add_argument("--no-randomizer", action="store_true", help="the codeblocks are not randomized")
    p.add_argument("--frame-length", type=positive_int, default=None, metavar="OCTETS")


def reed_solomon(text: str) -> tuple[int, int, bool]:
    if text == "none":
        return 0, 5, True
    parts = text.split("/")
    try:
        e, i = int(parts[0]), int(parts[1])
        basis = parts[2] if len(parts) > 2 else "dual"
    except (ValueError, IndexError):
        raise argparse.ArgumentTypeError(f"{text!r} is not E/I[/dual|conventional] or none") from None
    if basis not in ("dual", "conventional") or len(parts) > 3:
        raise argparse.ArgumentTypeError(f"{text!r}: the basis is 'dual' or 'conventional'")
    return e, i, basis == "dual"


def link_options(p: argparse.ArgumentParser) -> None:
    channel_options(p)
    p.add_argument("--rate", type=positive_float, default=20e6, metavar="BPS", help="downlink bit rate")
    p.add_argument(
        "--inject-ber",
        type=probability,
        default=0.0,
        metavar="P",
        help="flip each downlink bit with probability P (seeded by --seed)",
    )


def delivery_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--link",
        default=None,
        metavar="PROFILE",
        choices=("nominal", "lossy", "outage"),
        help="simulate a deep-space link: nominal, lossy (10%% frame loss, BER 1e-5, reordering) "
        "or outage (a pass ends halfway through an image); implies --delivery cfdp",
    )
    p.add_argument(
        "--time-scale",
        type=positive_float,
        default=1.0,
        metavar="F",
        help="multiply light time by F (tests use 0.1 so they need not wait)",
    )
    p.add_argument(
        "--delivery",
        choices=("packets", "cfdp"),
        default=None,
        help="images as PUS 128 packets (default without --link) or CFDP files",
    )
    p.add_argument("--cfdp-class", type=int, choices=(1, 2), default=2)
    p.add_argument(
        "--compress",
        choices=("none", "ccsds121"),
        default="none",
        help="CFDP image files: CCSDS 121.0-B lossless compression (needs the 'compression' extra)",
    )


def archive_api_options(p: argparse.ArgumentParser, api: bool = True) -> None:
    p.add_argument(
        "--archive",
        default=None,
        metavar="FILE",
        help="keep every parameter, event, alarm, command stage and image in this archive (created or "
        "continued; see `paleblue archive`)",
    )
    if api:
        p.add_argument(
            "--api",
            default=None,
            metavar="[HOST:]PORT",
            help="serve the HTTP + WebSocket API here (127.0.0.1 unless a host is given; port 0: any free)",
        )
        p.add_argument(
            "--api-token",
            default=None,
            metavar="TOKEN",
            help="the operator token commands need (default: a new one, printed at start)",
        )
        web_option(p)


def web_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--web",
        action="store_true",
        help="serve the operator console (NASA Open MCT, installed by `make web`) at the API's address; "
        "implies --api 127.0.0.1:8080 and an archive in the output directory unless given",
    )


def mdb_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--mdb",
        default=None,
        metavar="DIR",
        help="a mission database directory of your own (default: paleblue's; `paleblue mdb check DIR`)",
    )


def probability(text: str) -> float:
    value = float(text)
    if not 0.0 <= value < 0.5:
        raise argparse.ArgumentTypeError(f"{text} is not a bit error rate in [0, 0.5)")
    return value


def positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} is not a positive whole number")
    return value


def whole_number(text: str) -> int:
    """0, 1, 2…"""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is not a whole number (0 or more)")
    return value


_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}


def octets(text: str) -> int:
    """A size in octets: a positive whole number with an optional k, M or G (KiB, MiB, GiB)."""
    body = text.strip().lower().removesuffix("ib").removesuffix("b")
    unit = body[-1:] if body[-1:] in _UNITS else ""
    try:
        value = int(body[: len(body) - len(unit)]) * _UNITS[unit]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text} is not a size in octets (e.g. 65536, 64k, 64M)") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} is not a positive size")
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value
