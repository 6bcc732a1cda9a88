"""`conclave image build`: the argparse wiring, kept here so the main CLI only hooks it in:

from conclave.deploy.cli import add_image_parser, run_image
add_image_parser(commands)              # in build_parser()
if args.command == "image": return run_image(args)
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from conclave.deploy.errors import ImageError

EXAMPLES = """\
examples:
  conclave image build --base raspios-lite-arm64.img.xz --name blade --count 8 \\
      --wheelhouse wheelhouse/ --swarm ~/conclave-swarm/ --out images/
  conclave image build --base raspios-lite-arm64.img.xz \\
      --name blade-01 --wheelhouse wheelhouse/ --out images/blade-01.img
  conclave image build --base ubuntu-24.04-preinstalled-server-arm64+raspi.img.xz \\
      --name blade-01 --count 8 --wheelhouse http://head.local:8000/ --out images/
"""


def add_image_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Adds `image build` to the `conclave` command's subparsers."""
    image = subparsers.add_parser("image", help="build Raspberry Pi blade images")
    commands = image.add_subparsers(dest="image_command", required=True)
    build = commands.add_parser(
        "build",
        help="write one blade's configuration into a copy of a base image (no root needed)",
        description="Copy a Raspberry Pi OS / Ubuntu Server arm64 image and write a blade's "
        "cloud-init and Conclave files into its FAT boot partition with mtools.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    build.add_argument("--base", required=True, type=Path, help="base image (.img, .xz, .gz)")
    build.add_argument("--name", required=True, help="blade hostname, e.g. blade-01")
    build.add_argument(
        "--out",
        required=True,
        help="output image; a directory (ending in /) gets NAME.img; '{name}' is replaced",
    )
    build.add_argument(
        "--count", type=int, default=1, help="batch: N images with numbered names from --name"
    )
    build.add_argument(
        "--wheelhouse",
        help="directory of aarch64 wheels to put on the boot partition, or an http(s) URL the "
        "head node serves them at; without it the blade compiles llama-cpp-python (slow)",
    )
    build.add_argument("--model", type=Path, help="GGUF to serve instead of the bundled model")
    build.add_argument(
        "--ssh-key",
        type=Path,
        action="append",
        default=[],
        help="SSH public key for the default login user (repeatable)",
    )
    build.add_argument("--memory-max", default="", help="agent MemoryMax= (e.g. 3G, 75%%)")
    build.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="CONCLAVE_AGENT_X=V",
        help="extra agent setting for every blade (repeatable)",
    )
    build.add_argument(
        "--swarm",
        type=Path,
        metavar="DIR",
        help="the swarm's secrets folder (made if missing: token, CA, the head's certificates); "
        "every blade gets the token and a certificate of its own, its gRPC port then answers "
        "only the swarm (docs/deploy.md)",
    )
    build.add_argument(
        "--no-tls",
        action="store_true",
        help="with --swarm: the token only, no certificates (plaintext gRPC)",
    )
    build.add_argument("--partition", type=int, help="boot partition number (default: 1st FAT)")
    build.add_argument(
        "--conclave-wheel",
        type=Path,
        help="conclave wheel for blades without a wheelhouse (default: built from the checkout)",
    )
    build.add_argument(
        "--deploy-dir", type=Path, help="the deploy/ directory (default: this checkout's)"
    )
    return image


def run_image(args: argparse.Namespace) -> int:
    """Runs `conclave image build`; 0 on success, 1 with a message on stderr otherwise."""
    from conclave.deploy.blade import parse_env_assignment
    from conclave.deploy.image import DEFAULT_DEPLOY_DIR, BuildOptions, build_images

    if args.image_command != "build":  # pragma: no cover - argparse requires a command
        raise AssertionError(f"unhandled image command {args.image_command}")
    logging.basicConfig(level=logging.INFO, format="conclave image: %(message)s")
    out = Path(args.out)
    try:
        if args.out.endswith(("/", "\\")):  # Path() drops the slash that says "directory"
            out.mkdir(parents=True, exist_ok=True)
        options = BuildOptions(
            base=args.base,
            name=args.name,
            out=out,
            count=args.count,
            wheelhouse=args.wheelhouse,
            model=args.model,
            ssh_keys=tuple(args.ssh_key),
            memory_max=args.memory_max,
            agent_env=tuple(parse_env_assignment(e) for e in args.env),
            partition=args.partition,
            conclave_wheel=args.conclave_wheel,
            deploy_dir=args.deploy_dir or DEFAULT_DEPLOY_DIR,
            swarm_dir=args.swarm,
            swarm_tls=not args.no_tls,
        )
        if args.no_tls and args.swarm is None:
            raise ImageError("--no-tls goes with --swarm DIR")
        built = build_images(options)
    except (ImageError, OSError) as error:  # OSError: a full disk, an unwritable --out
        sys.stderr.write(f"conclave image build: {error}\n")
        return 1
    for image in built:
        print(f"{image.name}\t{image.path}\t(boot partition {image.partition.number})")
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python -m conclave.deploy.cli build ...` works before the main CLI hooks this in."""
    parser = argparse.ArgumentParser(prog="conclave")
    add_image_parser(parser.add_subparsers(dest="command", required=True))
    return run_image(parser.parse_args(["image", *(argv if argv is not None else sys.argv[1:])]))


if __name__ == "__main__":
    sys.exit(main())
