"""The swarm's secrets folder on the machine that builds the blade images
(`conclave image build --swarm DIR`), and what each blade gets from it.

DIR holds, made on first use and reused by every later build (so blades built on
different days belong to one swarm):

    token                      the swarm token (0600)
    ca.pem, ca.key             the swarm CA (the key 0600; keep it off the blades)
    leader.pem, leader.key     the leader's certificate, for the head node
    gateway.pem, gateway.key   the gateway's, likewise

Each blade's boot partition gets conclave/swarm/ with the token and, with TLS, ca.pem and
its own agent.pem/agent.key (named for the blade and blade.local); its first boot moves
them to /etc/conclave/swarm and deletes them from the FAT partition.
"""

from __future__ import annotations

from pathlib import Path

from conclave.deploy.errors import ImageError
from conclave.swarm_security import generate_token, write_private

BLADE_SWARM_DIR = "swarm"  # on the boot partition, under conclave/
HEAD_MEMBERS = ("leader", "gateway")


def swarm_token(folder: Path) -> str:
    path = folder / "token"
    if path.is_file():
        token = path.read_text(encoding="utf-8").strip()
        if not token:
            raise ImageError(f"{path} is empty")
        return token
    token = generate_token()
    write_private(path, f"{token}\n".encode())
    return token


def prepare(folder: Path, *, tls: bool) -> None:
    """Makes what `folder` lacks: the token and, with TLS, the CA and the head's certs."""
    folder.mkdir(parents=True, exist_ok=True)
    swarm_token(folder)
    if not tls:
        return
    from conclave.deploy.certs import issue, load_or_make_ca

    try:
        ca = load_or_make_ca(folder)
    except ValueError as error:
        raise ImageError(str(error)) from None
    for member in HEAD_MEMBERS:
        cert, key = folder / f"{member}.pem", folder / f"{member}.key"
        if not cert.exists():
            issued = issue(ca, member)
            cert.write_bytes(issued.cert_pem)
            write_private(key, issued.key_pem)


def blade_files(folder: Path, blade: str, scratch: Path, *, tls: bool) -> list[Path]:
    """The files of `blade`'s conclave/swarm/ folder, written into `scratch`."""
    scratch.mkdir(parents=True, exist_ok=True)
    token = write_private(scratch / "token", f"{swarm_token(folder)}\n".encode())
    if not tls:
        return [token]
    from conclave.deploy.certs import issue, load_or_make_ca

    ca = load_or_make_ca(folder)
    issued = issue(ca, blade, [f"{blade}.local"])
    (scratch / "ca.pem").write_bytes(ca.cert_pem)
    (scratch / "agent.pem").write_bytes(issued.cert_pem)
    write_private(scratch / "agent.key", issued.key_pem)
    return [token, scratch / "ca.pem", scratch / "agent.pem", scratch / "agent.key"]


def main(argv: list[str] | None = None) -> int:
    """`python -m conclave.deploy.swarm_kit DIR [--tls]`: makes what DIR lacks (Docker
    compose's one-shot `swarm-secrets` service runs it before the swarm starts)."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="python -m conclave.deploy.swarm_kit")
    parser.add_argument("folder", type=Path, help="the swarm's secrets folder")
    parser.add_argument("--tls", action="store_true", help="also the CA and head certificates")
    args = parser.parse_args(argv)
    try:
        prepare(args.folder, tls=args.tls)
    except (ImageError, OSError) as error:
        sys.stderr.write(f"swarm_kit: {error}\n")
        return 1
    print(f"swarm_kit: {args.folder} is ready", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
