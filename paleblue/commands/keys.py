"""``paleblue keys generate|show|curve DIR``: SDLS keys and SAs, ZeroMQ CURVE certificates."""

from __future__ import annotations

import argparse
from pathlib import Path

from paleblue.commands.common import CliError
from paleblue.commands.options import positive_int


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "keys", help="SDLS keys and SAs (generate DIR, show DIR); ZeroMQ CURVE keys (curve DIR)"
    )
    p.add_argument("action", choices=("generate", "show", "curve"), help="curve: ZeroMQ CURVE certificates")
    p.add_argument("directory", metavar="DIR")
    p.add_argument("--count", type=positive_int, default=4, metavar="N", help="keys to generate (default 4)")
    p.add_argument("--force", action="store_true", help="overwrite existing keys")
    p.add_argument(
        "--downlink", choices=("none", "authentication", "encryption"), default="none",
        help="SAs on the downlink's data channels too (TM, AOS and fixed-length USLP VC 0 and 1, a key "
        "each): authentication only (GMAC) or authenticated encryption (default: none, in clear)",
    )  # fmt: skip
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    """`keys generate DIR`: fresh AES-256 keys (0600) and the SA definitions; `keys show DIR`: the SAs."""
    from protocols.sdls.keystore import (
        DOWNLINK_LINKS,
        DOWNLINK_SERVICES,
        KeyFileError,
        default_associations,
        downlink_associations,
        generate,
        load_context,
    )

    directory = Path(args.directory)
    try:
        if args.action == "curve":
            from transport.curve import generate_curve_keys

            generate_curve_keys(directory, force=args.force)
            print(
                f"curve: server and ground certificates in {directory} (secrets 0600; clients in authorized/)"
            )
            return 0
        if args.action == "generate":
            associations = default_associations()
            if args.downlink != "none":
                associations += downlink_associations(DOWNLINK_SERVICES[args.downlink])
            path = generate(directory, associations, key_count=args.count, force=args.force)
            sas = directory / "associations.json"
            count = max([args.count, *(sa.key_id for sa in associations)])
            print(f"keys: {count} AES-256 keys in {path} (mode 0600); SAs in {sas}")
            return 0
        context = load_context(directory, "ground", links=("tc", *DOWNLINK_LINKS))
    except (KeyFileError, OSError) as exc:
        raise CliError(f"keys: {exc}") from None
    for spi, sa in sorted(context.sas.items()):
        st = context.status(spi)
        print(f"SPI {spi}: {sa.link} VC {sa.vcid}, {sa.service.value}, key {st.key_id}, IV {sa.iv_length}, "
              f"SN {sa.sn_length}, MAC {sa.mac_length}, window {sa.window}, mask {sa.auth_mask.hex()}, "
              f"ground ARSN {st.arsn}")  # fmt: skip
    return 0
