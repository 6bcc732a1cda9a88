"""`conclave image build`: per-blade Raspberry Pi images from one base image.

The base image (Raspberry Pi OS Lite with cloud-init, or Ubuntu Server arm64; `.img`,
`.img.xz` or `.img.gz`) is copied to the output, and the blade's files are written into
its FAT boot partition with mtools at the partition's byte offset: no root, no loop mount,
so it runs on any Linux or macOS laptop. Nothing outside the boot partition changes.

Boot partition layout written (cloud-init's NoCloud files at the root):

    user-data, network-config        the same for every blade (deploy/pi/)
    meta-data                        per blade: instance id and hostname
    conclave/blade.env               per blade: name, wheelhouse, model, agent settings
    conclave/firstboot.sh            run by user-data's runcmd (deploy/pi/)
    conclave/conclave-agent.service  the systemd unit it installs (deploy/systemd/)
    conclave/wheelhouse/*.whl        with --wheelhouse DIR: aarch64 wheels, no compiling
    conclave/src/                    without a wheelhouse: conclave's wheel and the lock
    conclave/models/*.gguf           with --model: served instead of the bundled model
    conclave/authorized_keys         with --ssh-key: for the default login user
    conclave/swarm/                  with --swarm DIR: the swarm token and this blade's
                                     certificates (moved off the FAT partition at first boot)
"""

from __future__ import annotations

import gzip
import logging
import lzma
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from conclave.deploy import fat, swarm_kit
from conclave.deploy.blade import (
    MODELS_DIR,
    SOURCE_DIR,
    WHEELHOUSE_DIR,
    BladeConfig,
    expand_names,
)
from conclave.deploy.errors import ImageError
from conclave.deploy.mtools import FatWriter, require_mtools
from conclave.deploy.partitions import Partition, read_partitions

log = logging.getLogger(__name__)

# deploy/ of the source tree this package belongs to (an editable install or a checkout).
DEFAULT_DEPLOY_DIR = Path(__file__).resolve().parents[2] / "deploy"
GGUF_MAGIC = b"GGUF"
BOOT_DIR = "/conclave"
# Top-level directories of the checkout that a wheel build never needs (and some are big).
_NOT_IN_WHEEL = {"build", "dist", "deploy", "tests", "bench", "docs", "protos"}


@dataclass(frozen=True, slots=True)
class BuildOptions:
    base: Path
    name: str
    out: Path
    count: int = 1
    wheelhouse: str | None = None  # a directory or an http(s) URL
    model: Path | None = None
    ssh_keys: tuple[Path, ...] = ()
    memory_max: str = ""
    agent_env: tuple[tuple[str, str], ...] = ()
    partition: int | None = None  # 1-based; default: the first FAT partition
    conclave_wheel: Path | None = None  # fallback install without a wheelhouse
    deploy_dir: Path = DEFAULT_DEPLOY_DIR
    swarm_dir: Path | None = None  # the swarm's secrets folder (deploy/swarm_kit.py)
    swarm_tls: bool = True  # with swarm_dir: certificates too, not only the token


@dataclass(frozen=True, slots=True)
class BuiltImage:
    name: str
    path: Path
    partition: Partition
    files: tuple[str, ...]  # paths written on the boot partition


@dataclass(slots=True)
class _Payload:
    """Files shared by all blades of one build: (source, destination directory)."""

    copies: list[tuple[Path, str]] = field(default_factory=list)
    dirs: list[str] = field(default_factory=list)
    wheelhouse: str = ""
    model_file: str = ""

    def add(self, source: Path, dest_dir: str) -> None:
        self.copies.append((source, dest_dir))


def output_paths(out: Path, names: Sequence[str]) -> list[Path]:
    """One image path per blade: `out` with "{name}" replaced; DIR/NAME.img when `out` is a
    directory; else `out` itself for one blade, and OUT-NAME.img for each of several."""
    if "{name}" in str(out):
        return [Path(str(out).replace("{name}", n)) for n in names]
    if out.is_dir():
        return [out / f"{n}.img" for n in names]
    if len(names) == 1:
        return [out]
    return [out.with_name(f"{out.stem}-{n}{out.suffix or '.img'}") for n in names]


def build_images(options: BuildOptions) -> list[BuiltImage]:
    require_mtools()
    names = expand_names(options.name, options.count)
    outs = output_paths(options.out, names)
    base = options.base
    if not base.is_file():
        raise ImageError(f"base image {base} does not exist")
    if len(set(outs)) != len(outs) or any(_same_file(o, base) for o in outs):
        raise ImageError("each output image needs its own path, different from the base image")
    assets = _assets(options.deploy_dir)

    if options.swarm_dir is not None:
        swarm_kit.prepare(options.swarm_dir, tls=options.swarm_tls)

    with tempfile.TemporaryDirectory(prefix="conclave-image-") as scratch:
        payload = _payload(options, assets, Path(scratch))
        if base.suffix not in COMPRESSED:
            # Read in place: a base that cannot take the blade files is refused before
            # anything is copied (a Pi image is several GB).
            _check_room(base, _boot_partition(base, options.partition), payload)
        for out in outs:
            out.parent.mkdir(parents=True, exist_ok=True)
        try:
            return _write_images(options, names, outs, payload, Path(scratch))
        except BaseException:
            # Nothing half-written: an image that failed (a compressed base too full, a
            # write error, Ctrl-C) is not left behind looking like a blade's.
            for out in outs:
                out.unlink(missing_ok=True)
            raise


def _write_images(
    options: BuildOptions, names: list[str], outs: list[Path], payload: _Payload, scratch: Path
) -> list[BuiltImage]:
    log.info("copying base image %s to %s", options.base, outs[0])
    _materialize(options.base, outs[0])
    partition = _boot_partition(outs[0], options.partition)
    _check_room(outs[0], partition, payload)
    for out in outs[1:]:
        shutil.copyfile(outs[0], out)
    built = []
    for name, out in zip(names, outs, strict=True):
        config = BladeConfig(
            name=name,
            wheelhouse=payload.wheelhouse,
            model_file=payload.model_file,
            memory_max=options.memory_max,
            agent_env=options.agent_env,
            swarm=swarm_kit.BLADE_SWARM_DIR if options.swarm_dir is not None else "",
        )
        swarm = (
            swarm_kit.blade_files(
                options.swarm_dir, name, scratch / f"{name}-swarm", tls=options.swarm_tls
            )
            if options.swarm_dir is not None
            else []
        )
        files = _write_blade(out, partition, payload, config, scratch / name, swarm)
        log.info("wrote %s for %s", out, name)
        built.append(BuiltImage(name, out, partition, files))
    return built


def _same_file(a: Path, b: Path) -> bool:
    return a.exists() and b.exists() and a.resolve() == b.resolve()


def _assets(deploy_dir: Path) -> dict[str, Path]:
    assets = {
        "user-data": deploy_dir / "pi" / "user-data",
        "network-config": deploy_dir / "pi" / "network-config",
        "firstboot.sh": deploy_dir / "pi" / "firstboot.sh",
        "conclave-agent.service": deploy_dir / "systemd" / "conclave-agent.service",
    }
    missing = [str(p) for p in assets.values() if not p.is_file()]
    if missing:
        raise ImageError(
            f"deploy assets not found ({', '.join(missing)}); run from a Conclave checkout "
            "or pass --deploy-dir DIR"
        )
    return assets


def _payload(options: BuildOptions, assets: dict[str, Path], scratch: Path) -> _Payload:
    payload = _Payload(dirs=[BOOT_DIR])
    payload.add(assets["user-data"], "/")
    payload.add(assets["network-config"], "/")
    payload.add(assets["firstboot.sh"], BOOT_DIR)
    payload.add(assets["conclave-agent.service"], BOOT_DIR)

    wheelhouse = options.wheelhouse
    if wheelhouse and wheelhouse.startswith(("http://", "https://")):
        payload.wheelhouse = wheelhouse
    elif wheelhouse:
        wheels = _wheelhouse(Path(wheelhouse))
        payload.wheelhouse = WHEELHOUSE_DIR
        payload.dirs.append(f"{BOOT_DIR}/{WHEELHOUSE_DIR}")
        payload.copies += [(w, f"{BOOT_DIR}/{WHEELHOUSE_DIR}") for w in wheels]
    else:
        # No wheelhouse: the blade compiles llama-cpp-python from PyPI (slow, says so in its
        # log); it still needs conclave itself and the pinned versions.
        payload.dirs.append(f"{BOOT_DIR}/{SOURCE_DIR}")
        payload.add(_requirements_lock(options.deploy_dir), f"{BOOT_DIR}/{SOURCE_DIR}")
        wheel = options.conclave_wheel or _build_conclave_wheel(options.deploy_dir, scratch)
        if not wheel.is_file() or not wheel.name.startswith("conclave-"):
            raise ImageError(f"{wheel} is not a conclave wheel")
        payload.add(wheel, f"{BOOT_DIR}/{SOURCE_DIR}")

    if options.model is not None:
        _check_gguf(options.model)
        payload.dirs.append(f"{BOOT_DIR}/{MODELS_DIR}")
        payload.add(options.model, f"{BOOT_DIR}/{MODELS_DIR}")
        payload.model_file = f"{MODELS_DIR}/{options.model.name}"

    if options.ssh_keys:
        keys = scratch / "authorized_keys"
        keys.write_text("".join(_ssh_key(k) for k in options.ssh_keys), encoding="utf-8")
        payload.add(keys, BOOT_DIR)
    return payload


def _wheelhouse(directory: Path) -> list[Path]:
    if not directory.is_dir():
        raise ImageError(f"wheelhouse {directory} is not a directory")
    wheels = sorted(directory.glob("*.whl"))
    if not any(w.name.startswith("conclave-") for w in wheels):
        raise ImageError(
            f"wheelhouse {directory} has no conclave-*.whl; build it with "
            "`make wheelhouse-arm64` (see docs/deploy.md)"
        )
    llama = [w for w in wheels if w.name.startswith("llama_cpp_python-")]
    if not any("aarch64" in w.name for w in llama):
        log.warning(
            "wheelhouse %s has no aarch64 llama_cpp_python wheel: the blades cannot install "
            "without the network",
            directory,
        )
    return wheels


def _requirements_lock(deploy_dir: Path) -> Path:
    lock = deploy_dir.parent / "requirements.lock"
    if not lock.is_file():
        raise ImageError(f"{lock} not found: without --wheelhouse the blade needs the lock file")
    return lock


def _build_conclave_wheel(deploy_dir: Path, scratch: Path) -> Path:
    """conclave's own (pure Python) wheel, built from a copy of the source tree so the
    checkout gets no build/ or egg-info litter."""
    root = deploy_dir.parent
    if not (root / "pyproject.toml").is_file():
        raise ImageError(f"no pyproject.toml in {root}: pass --conclave-wheel or --wheelhouse")
    source = scratch / "source"
    skip_anywhere = shutil.ignore_patterns(".*", "__pycache__", "*.egg-info")

    def ignore(directory: str, names: list[str]) -> set[str]:
        skipped = skip_anywhere(directory, names)
        if Path(directory) == root:  # top level only: conclave/deploy/ must stay in
            skipped |= {n for n in names if n in _NOT_IN_WHEEL}
        return skipped

    shutil.copytree(root, source, ignore=ignore)
    out = scratch / "dist"
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
    result = subprocess.run(
        [*command, "--quiet", "--wheel-dir", str(out), str(source)],
        capture_output=True,
        text=True,
        check=False,
    )
    wheels = sorted(out.glob("conclave-*.whl"))
    if result.returncode != 0 or not wheels:
        raise ImageError(f"building conclave's wheel failed:\n{result.stderr.strip()}")
    return wheels[0]


def _check_gguf(model: Path) -> None:
    if not model.is_file():
        raise ImageError(f"model {model} does not exist")
    with model.open("rb") as f:
        if f.read(4) != GGUF_MAGIC:
            raise ImageError(f"model {model} is not a GGUF file (no GGUF magic)")


def _ssh_key(path: Path) -> str:
    text = path.read_text(encoding="utf-8").strip()
    if not text.startswith(("ssh-", "ecdsa-", "sk-")) or "PRIVATE KEY" in text:
        raise ImageError(f"{path} is not an SSH public key (e.g. ~/.ssh/id_ed25519.pub)")
    return text + "\n"


COMPRESSED = {".xz": lzma.open, ".gz": gzip.open}


def _materialize(base: Path, out: Path) -> None:
    """Copy, or decompress an .xz/.gz base (as Raspberry Pi OS and Ubuntu ship them)."""
    opener = COMPRESSED.get(base.suffix)
    if opener is None:
        shutil.copyfile(base, out)
        return
    try:
        with opener(base, "rb") as src, out.open("wb") as dst:
            shutil.copyfileobj(src, dst, 4 * 2**20)
    except (lzma.LZMAError, OSError, EOFError) as error:
        out.unlink(missing_ok=True)
        raise ImageError(f"cannot decompress {base}: {error}") from None


def _boot_partition(image: Path, number: int | None) -> Partition:
    partitions = read_partitions(image)
    size = image.stat().st_size
    listing = ", ".join(f"{p.number} ({p.kind}, {p.size // 2**20} MiB)" for p in partitions)
    if number is not None:
        chosen = [p for p in partitions if p.number == number]
        if not chosen:
            raise ImageError(f"{image} has no partition {number}; it has: {listing or 'none'}")
        candidates = chosen
    else:
        candidates = [p for p in partitions if p.may_be_fat]
    for partition in candidates:
        if partition.end > size:
            raise ImageError(f"partition {partition.number} of {image} ends past the image end")
        try:
            fat.read_geometry(image, partition.offset)
        except ImageError:
            continue
        return partition
    raise ImageError(f"{image} has no FAT boot partition; partitions: {listing or 'none'}")


def _check_room(image: Path, partition: Partition, payload: _Payload) -> None:
    geometry = fat.read_geometry(image, partition.offset)
    cluster = geometry.cluster_size
    # Rounded up to clusters, plus slack for the small generated files and directories.
    need = sum(-(-src.stat().st_size // cluster) * cluster for src, _ in payload.copies)
    need += 16 * cluster
    free = fat.free_bytes(image, partition.offset)
    if need > free:
        raise ImageError(
            f"the boot partition has {free // 2**20} MiB free but the blade files need "
            f"{need // 2**20} MiB; serve the wheelhouse from the head node instead "
            "(--wheelhouse http://HEAD:8000/) or leave out --model"
        )


def _write_blade(
    image: Path,
    partition: Partition,
    payload: _Payload,
    config: BladeConfig,
    scratch: Path,
    swarm: Sequence[Path] = (),
) -> tuple[str, ...]:
    scratch.mkdir(parents=True)
    (scratch / "blade.env").write_text(config.env_text(), encoding="utf-8")
    (scratch / "meta-data").write_text(config.meta_data_text(), encoding="utf-8")
    writer = FatWriter(image, partition.offset)
    for directory in payload.dirs:
        writer.makedirs(directory)
    by_dir: dict[str, list[Path]] = {}
    for source, dest_dir in payload.copies:
        by_dir.setdefault(dest_dir, []).append(source)
    if swarm:
        swarm_dir = f"{BOOT_DIR}/{swarm_kit.BLADE_SWARM_DIR}"
        writer.makedirs(swarm_dir)
        by_dir[swarm_dir] = list(swarm)
    written = []
    for dest_dir, sources in by_dir.items():
        writer.copy(sources, dest_dir)
        written += [f"{dest_dir.rstrip('/')}/{s.name}" for s in sources]
    writer.write_file(scratch / "meta-data", "/meta-data")
    writer.write_file(scratch / "blade.env", f"{BOOT_DIR}/blade.env")
    written += ["/meta-data", f"{BOOT_DIR}/blade.env"]
    return tuple(written)
