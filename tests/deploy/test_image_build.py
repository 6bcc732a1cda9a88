"""`conclave image build` on synthetic Pi disk images: the blade's files land in the FAT boot
partition, and nothing else changes (outside the partition: not one byte; inside it: only
free clusters, the FATs, FSInfo and directory clusters)."""

from __future__ import annotations

import lzma
import shutil
import subprocess
from pathlib import Path

import pytest

from conclave.deploy import fat
from conclave.deploy.cli import main as image_main
from conclave.deploy.errors import ImageError
from conclave.deploy.image import BuildOptions, build_images
from conclave.deploy.mtools import FatWriter
from conclave.deploy.partitions import read_partitions
from tests.deploy.diskimage import MIB, make_pi_image, mcopy_out
from tests.deploy.tools import DEPLOY, need

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(autouse=True)
def _fat_tools() -> None:
    need("mcopy", "mtype")
    if not (shutil.which("mkfs.fat") or shutil.which("mformat")):
        pytest.skip("mkfs.fat not installed (apt-get install dosfstools)")


@pytest.fixture
def wheelhouse(tmp_path: Path) -> Path:
    directory = tmp_path / "wheelhouse"
    directory.mkdir()
    # Stand-ins: the builder copies wheels, it never opens them.
    (directory / "conclave-0.1.0-py3-none-any.whl").write_bytes(b"PK\x03\x04 conclave")
    (directory / "llama_cpp_python-0.3.36-cp311-cp311-linux_aarch64.whl").write_bytes(
        b"PK\x03\x04" + bytes(70_000)
    )
    return directory


@pytest.fixture
def model(tmp_path: Path) -> Path:
    path = tmp_path / "tiny-q4.gguf"
    path.write_bytes(b"GGUF" + bytes(range(256)) * 40)
    return path


def differing_bytes(a: bytes, b: bytes, chunk: int = 64 * 1024):
    """Indexes where `a` and `b` differ; whole equal chunks are skipped at C speed."""
    view_a, view_b = memoryview(a), memoryview(b)
    for start in range(0, len(a), chunk):
        if view_a[start : start + chunk] != view_b[start : start + chunk]:
            end = min(start + chunk, len(a))
            yield from (i for i in range(start, end) if a[i] != b[i])


def changed_outside_allowed(base: Path, out: Path, offset: int) -> list[str]:
    """Byte ranges that differ between the images and are not FAT bookkeeping or clusters
    that were free (or directories) in the base image."""
    a, b = base.read_bytes(), out.read_bytes()
    assert len(a) == len(b), "the image changed size"
    geometry = fat.read_geometry(base, offset)
    entries = fat.fat_entries(base, offset, geometry)
    directory_clusters = set()
    cluster = geometry.root_cluster  # FAT32's root directory is a cluster chain
    while geometry.bits == 32 and 2 <= cluster < 0x0FFFFFF8:
        directory_clusters.add(cluster)
        cluster = entries[cluster]
    fsinfo_sector = 1 if geometry.bits == 32 else None
    bad = []
    for index in differing_bytes(a, b):
        rel = index - offset
        if rel < 0 or rel >= geometry.size:
            bad.append(f"byte {index} outside the boot partition")
        elif rel < geometry.fat_offset:
            if rel // geometry.bytes_per_sector != fsinfo_sector:
                bad.append(f"reserved sector {rel // geometry.bytes_per_sector}")
        elif rel < geometry.root_dir_offset:
            continue  # the FATs themselves
        elif rel < geometry.data_offset:
            continue  # FAT12/16 root directory
        else:
            n = (rel - geometry.data_offset) // geometry.cluster_size + 2
            if entries[n] != 0 and n not in directory_clusters:
                bad.append(f"cluster {n}, in use before the build")
        if len(bad) > 20:
            break
    return bad


@pytest.mark.parametrize("bits", [32, 16])
def test_build_writes_blade_files_and_leaves_the_rest_identical(
    tmp_path: Path, wheelhouse: Path, model: Path, bits: int
) -> None:
    size = 40 * MIB if bits == 32 else 16 * MIB
    disk = make_pi_image(tmp_path / "base.img", tmp_path, bits=bits, fat_size=size)
    out = tmp_path / "blade-07.img"
    [built] = build_images(
        BuildOptions(
            base=disk.path,
            name="blade-07",
            out=out,
            wheelhouse=str(wheelhouse),
            model=model,
            memory_max="3G",
            agent_env=(("CONCLAVE_AGENT_SLOTS", "2"),),
        )
    )
    assert built.path == out and built.partition.offset == disk.fat_offset

    fs = FatWriter(out, disk.fat_offset)
    env = fs.read_text("/conclave/blade.env")
    assert "CONCLAVE_BLADE_NAME=blade-07\n" in env
    assert "CONCLAVE_WHEELHOUSE=wheelhouse\n" in env
    assert "CONCLAVE_MODEL_FILE=models/tiny-q4.gguf\n" in env
    assert "CONCLAVE_MEMORY_MAX=3G\n" in env
    assert "CONCLAVE_AGENT_SLOTS=2\n" in env
    meta = fs.read_text("/meta-data")
    assert "instance-id: conclave-blade-07\n" in meta and "local-hostname: blade-07\n" in meta
    assert fs.read_text("/user-data") == (DEPLOY / "pi" / "user-data").read_text()
    assert fs.read_text("/network-config") == (DEPLOY / "pi" / "network-config").read_text()
    assert fs.read_text("/conclave/firstboot.sh") == (DEPLOY / "pi" / "firstboot.sh").read_text()
    unit = (DEPLOY / "systemd" / "conclave-agent.service").read_text()
    assert fs.read_text("/conclave/conclave-agent.service") == unit
    assert sorted(Path(p).name for p in fs.list_dir("/conclave/wheelhouse")) == sorted(
        w.name for w in wheelhouse.iterdir()
    )
    copied = mcopy_out(out, disk.fat_offset, "conclave/models/tiny-q4.gguf", tmp_path / "m")
    assert copied == model.read_bytes()
    # The firmware files are untouched.
    kernel = mcopy_out(out, disk.fat_offset, "kernel8.img", tmp_path / "k")
    assert kernel == disk.kernel
    assert fs.read_text("/config.txt") == "arm_64bit=1\nenable_uart=1\n"

    assert changed_outside_allowed(disk.path, out, disk.fat_offset) == []
    # The root partition, the bootloader gap and the tail are byte-identical (also implied
    # above; said plainly because it is the promise that matters).
    a, b = disk.path.read_bytes(), out.read_bytes()
    assert a[: disk.fat_offset] == b[: disk.fat_offset]
    assert a[disk.fat_offset + disk.fat_size :] == b[disk.fat_offset + disk.fat_size :]


def test_batch_mode_makes_numbered_images(tmp_path: Path, wheelhouse: Path) -> None:
    disk = make_pi_image(tmp_path / "base.img", tmp_path)
    outdir = tmp_path / "images"
    outdir.mkdir()
    built = build_images(
        BuildOptions(
            base=disk.path, name="blade-09", count=3, out=outdir, wheelhouse=str(wheelhouse)
        )
    )
    assert [b.name for b in built] == ["blade-09", "blade-10", "blade-11"]
    assert [b.path.name for b in built] == ["blade-09.img", "blade-10.img", "blade-11.img"]
    for image in built:
        env = FatWriter(image.path, disk.fat_offset).read_text("/conclave/blade.env")
        assert f"CONCLAVE_BLADE_NAME={image.name}\n" in env
        assert changed_outside_allowed(disk.path, image.path, disk.fat_offset) == []


def test_url_wheelhouse_copies_no_wheels(tmp_path: Path) -> None:
    disk = make_pi_image(tmp_path / "base.img", tmp_path)
    [built] = build_images(
        BuildOptions(
            base=disk.path,
            name="blade-01",
            out=tmp_path / "out.img",
            wheelhouse="http://head.local:8000/",
        )
    )
    fs = FatWriter(built.path, disk.fat_offset)
    assert "CONCLAVE_WHEELHOUSE=http://head.local:8000/\n" in fs.read_text("/conclave/blade.env")
    assert not fs.exists("/conclave/wheelhouse") and not fs.exists("/conclave/src")


def test_without_wheelhouse_the_source_fallback_is_written(tmp_path: Path) -> None:
    disk = make_pi_image(tmp_path / "base.img", tmp_path)
    wheel = tmp_path / "conclave-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"PK\x03\x04")
    [built] = build_images(
        BuildOptions(
            base=disk.path, name="blade-01", out=tmp_path / "out.img", conclave_wheel=wheel
        )
    )
    fs = FatWriter(built.path, disk.fat_offset)
    assert "CONCLAVE_WHEELHOUSE=\n" in fs.read_text("/conclave/blade.env")
    names = {Path(p).name for p in fs.list_dir("/conclave/src")}
    assert names == {"requirements.lock", wheel.name}
    lock = (DEPLOY.parent / "requirements.lock").read_text()
    assert fs.read_text("/conclave/src/requirements.lock") == lock


def test_replaces_cloud_init_files_of_the_base(tmp_path: Path, wheelhouse: Path) -> None:
    # Ubuntu's and Raspberry Pi OS's images ship their own user-data and meta-data.
    disk = make_pi_image(
        tmp_path / "base.img",
        tmp_path,
        extra_files={"user-data": b"#cloud-config\npassword: ubuntu\n" * 200, "meta-data": b"x"},
    )
    [built] = build_images(
        BuildOptions(
            base=disk.path, name="blade-02", out=tmp_path / "o.img", wheelhouse=str(wheelhouse)
        )
    )
    fs = FatWriter(built.path, disk.fat_offset)
    assert fs.read_text("/user-data") == (DEPLOY / "pi" / "user-data").read_text()
    assert "local-hostname: blade-02" in fs.read_text("/meta-data")
    assert mcopy_out(built.path, disk.fat_offset, "kernel8.img", tmp_path / "k") == disk.kernel
    a, b = disk.path.read_bytes(), built.path.read_bytes()
    assert a[disk.root_offset :] == b[disk.root_offset :]


def test_xz_base_is_decompressed(tmp_path: Path, wheelhouse: Path) -> None:
    disk = make_pi_image(tmp_path / "base.img", tmp_path, fat_size=16 * MIB, bits=16)
    packed = tmp_path / "base.img.xz"
    packed.write_bytes(lzma.compress(disk.path.read_bytes(), preset=0))
    [built] = build_images(
        BuildOptions(
            base=packed, name="blade-03", out=tmp_path / "o.img", wheelhouse=str(wheelhouse)
        )
    )
    assert changed_outside_allowed(disk.path, built.path, disk.fat_offset) == []


def test_gpt_image(tmp_path: Path, wheelhouse: Path) -> None:
    [sfdisk] = need("sfdisk")
    disk = make_pi_image(tmp_path / "base.img", tmp_path)
    # Relabel the same layout as GPT (EFI system partition + Linux root), sfdisk's way.
    script = (
        "label: gpt\n"
        f"start={disk.fat_offset // 512}, size={disk.fat_size // 512}, "
        "type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B\n"
        f"start={disk.root_offset // 512}, size={disk.root_size // 512 - 34}, "
        "type=0FC63DAF-8483-4772-8E79-3D69C8477DE4\n"
    )
    subprocess.run(
        [sfdisk, "--no-reread", "--no-tell-kernel", "-q", str(disk.path)],
        input=script,
        text=True,
        check=True,
        capture_output=True,
    )
    parts = read_partitions(disk.path)
    assert [(p.number, p.offset, p.may_be_fat) for p in parts][:2] == [
        (1, disk.fat_offset, True),
        (2, disk.root_offset, False),
    ]
    [built] = build_images(
        BuildOptions(
            base=disk.path, name="blade-04", out=tmp_path / "o.img", wheelhouse=str(wheelhouse)
        )
    )
    assert built.partition.number == 1
    env = FatWriter(built.path, disk.fat_offset).read_text("/conclave/blade.env")
    assert "CONCLAVE_BLADE_NAME=blade-04" in env
    assert changed_outside_allowed(disk.path, built.path, disk.fat_offset) == []


def test_cli_end_to_end(tmp_path: Path, wheelhouse: Path, capsys: pytest.CaptureFixture) -> None:
    disk = make_pi_image(tmp_path / "base.img", tmp_path)
    key = tmp_path / "id_ed25519.pub"
    key.write_text("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample admin@laptop\n")
    code = image_main(
        [
            "build",
            "--base", str(disk.path),
            "--name", "rack",
            "--count", "2",
            "--wheelhouse", str(wheelhouse),
            "--ssh-key", str(key),
            "--out", f"{tmp_path}/out/",
        ]
    )  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "rack-01" in printed and "rack-02" in printed
    image = tmp_path / "out" / "rack-02.img"
    fs = FatWriter(image, disk.fat_offset)
    assert "CONCLAVE_BLADE_NAME=rack-02" in fs.read_text("/conclave/blade.env")
    assert fs.read_text("/conclave/authorized_keys") == key.read_text()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": "Blade_01"}, "not a valid hostname"),
        ({"wheelhouse": "EMPTY"}, "no conclave-*.whl"),
        ({"model": "NOT_GGUF"}, "not a GGUF file"),
        ({"memory_max": "lots"}, "MemoryMax"),
        ({"partition": 2}, "no FAT boot partition"),
        ({"fill": True}, "MiB free"),
        ({"fill": True, "xz": True}, "MiB free"),
    ],
)
def test_errors_are_clear(
    tmp_path: Path, wheelhouse: Path, capsys: pytest.CaptureFixture, change: dict, message: str
) -> None:
    disk = make_pi_image(tmp_path / "base.img", tmp_path, bits=16, fat_size=16 * MIB)
    base = disk.path
    if change.get("xz"):  # known too full only once decompressed
        base = tmp_path / "base.img.xz"
        base.write_bytes(lzma.compress(disk.path.read_bytes(), preset=0))
    args = ["build", "--base", str(base), "--out", str(tmp_path / "o.img")]
    args += ["--name", change.get("name", "blade-01")]
    if change.get("wheelhouse") == "EMPTY":
        empty = tmp_path / "empty"
        empty.mkdir()
        args += ["--wheelhouse", str(empty)]
    else:
        args += ["--wheelhouse", str(wheelhouse)]
    if "model" in change:
        bad = tmp_path / "model.gguf"
        bad.write_bytes(b"PK\x03\x04 not a model")
        args += ["--model", str(bad)]
    if "memory_max" in change:
        args += ["--memory-max", change["memory_max"]]
    if "partition" in change:
        args += ["--partition", str(change["partition"])]
    if change.get("fill"):
        big = tmp_path / "big.gguf"
        big.write_bytes(b"GGUF" + bytes(20 * MIB))
        args += ["--model", str(big)]
    assert image_main(args) == 1
    assert message in capsys.readouterr().err
    assert not (tmp_path / "o.img").exists()  # nothing half-written is left behind


def test_image_without_partition_table_is_refused(tmp_path: Path) -> None:
    blank = tmp_path / "blank.img"
    blank.write_bytes(bytes(MIB))
    with pytest.raises(ImageError, match="no partition table"):
        build_images(
            BuildOptions(base=blank, name="b1", out=tmp_path / "o.img", wheelhouse="http://h/")
        )


def test_swarm_folder_gives_every_blade_the_token_and_a_certificate_of_its_own(
    tmp_path: Path, wheelhouse: Path
) -> None:
    from cryptography import x509

    disk = make_pi_image(tmp_path / "base.img", tmp_path)
    swarm = tmp_path / "swarm"
    options = BuildOptions(
        base=disk.path,
        name="blade-01",
        count=2,
        out=tmp_path / "out" / "{name}.img",
        wheelhouse=str(wheelhouse),
        swarm_dir=swarm,
    )
    build_images(options)
    token = (swarm / "token").read_text().strip()
    assert len(token) >= 32 and (swarm / "token").stat().st_mode & 0o077 == 0
    assert (swarm / "ca.key").stat().st_mode & 0o077 == 0
    for member in ("leader", "gateway"):  # the head node's certificates, for its units
        assert (swarm / f"{member}.pem").is_file() and (swarm / f"{member}.key").is_file()
    ca = x509.load_pem_x509_certificate((swarm / "ca.pem").read_bytes())
    for name in ("blade-01", "blade-02"):
        image = tmp_path / "out" / f"{name}.img"
        fs = FatWriter(image, disk.fat_offset)
        assert "CONCLAVE_SWARM=swarm\n" in fs.read_text("/conclave/blade.env")
        assert fs.read_text("/conclave/swarm/token").strip() == token
        assert fs.read_text("/conclave/swarm/ca.pem") == (swarm / "ca.pem").read_text()
        cert = x509.load_pem_x509_certificate(fs.read_text("/conclave/swarm/agent.pem").encode())
        cert.verify_directly_issued_by(ca)
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert set(names.get_values_for_type(x509.DNSName)) == {
            "conclave-swarm",
            name,
            f"{name}.local",
        }
        assert "PRIVATE KEY" in fs.read_text("/conclave/swarm/agent.key")
    # A later build joins the same swarm: same token, same CA.
    build_images(
        BuildOptions(
            base=disk.path,
            name="blade-03",
            out=tmp_path / "later.img",
            wheelhouse=str(wheelhouse),
            swarm_dir=swarm,
        )
    )
    fs = FatWriter(tmp_path / "later.img", disk.fat_offset)
    assert fs.read_text("/conclave/swarm/token").strip() == token
    assert fs.read_text("/conclave/swarm/ca.pem") == (swarm / "ca.pem").read_text()


def test_swarm_without_tls_writes_only_the_token(tmp_path: Path, wheelhouse: Path) -> None:
    disk = make_pi_image(tmp_path / "base.img", tmp_path)
    code = image_main(
        [
            "build",
            "--base", str(disk.path),
            "--name", "blade-01",
            "--wheelhouse", str(wheelhouse),
            "--swarm", str(tmp_path / "swarm"),
            "--no-tls",
            "--out", str(tmp_path / "b.img"),
        ]
    )  # fmt: skip
    assert code == 0
    fs = FatWriter(tmp_path / "b.img", disk.fat_offset)
    assert sorted(Path(p).name for p in fs.list_dir("/conclave/swarm")) == ["token"]
    assert not (tmp_path / "swarm" / "ca.pem").exists()
