"""llama.cpp's own C++ `llama-server`, built once from the sources the agent runs.

The agent runs the llama-cpp-python wheel of this environment, which pip compiled from
the pinned source distribution with llama.cpp's CMake defaults (no CMAKE_ARGS in
`make setup`): GGML_NATIVE=ON (-march=native), OpenMP, llamafile's sgemm, weight
repacking available. llama-server is built from the llama.cpp vendored in that same
sdist with the same defaults, so both sides run the same ggml kernels; only the server
around them differs.

The build takes minutes on 2 cores, so it lands in a cache outside the repository,
keyed by the version and the CMake flags, and is reused by every run:

    ~/.cache/conclave-bench/llama-server/<version>-<flags digest>/build/bin/llama-server

`python -m bench.llama_cpp_build` (or `make llama-server`) builds it; the benchmark
builds it on first use. A failure is one line naming the step and its log.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import tarfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from bench.workload import BenchError

PACKAGE = "llama-cpp-python"
# llama.cpp's defaults as the wheel got them, spelled out where they matter for kernels
# (GGML_NATIVE), and everything llama-server does not need switched off: no tests or
# examples (build time), no curl or OpenSSL (the model is a local file), no web UI (the
# prebuilt one would be downloaded). A static binary does not depend on the cache's
# layout or on the venv's shared libraries.
CMAKE_FLAGS: tuple[str, ...] = (
    "-DCMAKE_BUILD_TYPE=Release",
    "-DGGML_NATIVE=ON",
    "-DBUILD_SHARED_LIBS=OFF",
    "-DLLAMA_BUILD_SERVER=ON",
    "-DLLAMA_BUILD_TOOLS=ON",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DLLAMA_BUILD_APP=OFF",
    "-DLLAMA_BUILD_UI=OFF",
    "-DLLAMA_USE_PREBUILT_UI=OFF",
    "-DLLAMA_CURL=OFF",
    "-DLLAMA_OPENSSL=OFF",
)
TARGET = "llama-server"
INFO_FILE = "build-info.json"
NICE = 10  # a build shares the machine with whoever else works on it


class BuildError(BenchError):
    """llama-server could not be built; the message names the step and its log."""


@dataclass(frozen=True, slots=True)
class LlamaServerBuild:
    version: str
    root: Path  # the cache directory of this version and these flags

    @property
    def binary(self) -> Path:
        return self.root / "build" / "bin" / TARGET

    @property
    def info_path(self) -> Path:
        return self.root / INFO_FILE

    @property
    def ready(self) -> bool:
        return self.binary.is_file() and self.info_path.is_file()

    def info(self) -> dict[str, object]:
        """What was built and how (written when the build succeeded)."""
        return dict(json.loads(self.info_path.read_text(encoding="utf-8")))


def flags_digest(flags: Sequence[str]) -> str:
    """A short name for a set of CMake flags: a change of flags is a new cache entry."""
    return hashlib.sha256("\n".join(flags).encode()).hexdigest()[:10]


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "conclave-bench" / "llama-server"


def pinned_version() -> str:
    """The llama-cpp-python the agent runs: the source of the kernels to match."""
    return metadata.version(PACKAGE)


def locate(version: str | None = None, flags: Sequence[str] = CMAKE_FLAGS) -> LlamaServerBuild:
    version = version or pinned_version()
    return LlamaServerBuild(version, cache_root() / f"{version}-{flags_digest(flags)}")


def _run(step: str, argv: Sequence[str], log: Path, cwd: Path | None = None) -> None:
    with log.open("a", encoding="utf-8") as out:
        out.write(f"\n$ {' '.join(argv)}\n")
        out.flush()
        try:
            code = subprocess.run(
                list(argv), cwd=cwd, stdout=out, stderr=subprocess.STDOUT, check=False
            ).returncode
        except OSError as error:
            raise BuildError(f"llama-server build failed at {step}: {error}") from None
    if code != 0:
        raise BuildError(f"llama-server build failed at {step} (exit {code}); see {log}")


def _source_tree(build: LlamaServerBuild, log: Path) -> Path:
    """The vendored llama.cpp of the pinned sdist, downloaded and unpacked once."""
    src = build.root.parent / "src"
    tree = src / f"llama_cpp_python-{build.version}" / "vendor" / "llama.cpp"
    if (tree / "CMakeLists.txt").is_file():
        return tree
    src.mkdir(parents=True, exist_ok=True)
    sdist = src / f"llama_cpp_python-{build.version}.tar.gz"
    if not sdist.is_file():
        pip = [sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps"]
        _run("download", [*pip, f"{PACKAGE}=={build.version}", "-d", str(src)], log)
    try:
        with tarfile.open(sdist) as archive:
            archive.extractall(src, filter="data")
    except (OSError, tarfile.TarError) as error:
        raise BuildError(f"llama-server build failed at unpack ({sdist}): {error}") from None
    if not (tree / "CMakeLists.txt").is_file():
        raise BuildError(f"llama-server build failed: no vendored llama.cpp in {sdist}")
    return tree


_CPU_FEATURES = re.compile(r"system_info: .*?\| (CPU : .*)$", re.M)


def server_system_info(binary: Path) -> str:
    """The CPU features llama-server was compiled with, in the wheel's format. It prints
    them at trace verbosity before it loads a model, so a missing model file is enough."""
    argv = [str(binary), "--verbosity", "4", "--model", "/nonexistent.gguf", "--port", "1"]
    try:
        run = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"unknown ({error})"
    return cpu_features(run.stdout + run.stderr) or "unknown (no system_info line)"


def cpu_features(log: str) -> str | None:
    """The "CPU : ... |" part of a llama.cpp system_info log line."""
    found = _CPU_FEATURES.search(log)
    return found.group(1).strip() if found else None


def wheel_system_info() -> str:
    """The CPU features the agent's llama.cpp was compiled with, as llama.cpp prints them."""
    import llama_cpp

    return str(llama_cpp.llama_print_system_info().decode(errors="replace")).strip()


def build(flags: Sequence[str] = CMAKE_FLAGS, *, jobs: int = 2) -> LlamaServerBuild:
    """Builds llama-server unless the cache has it; returns where it is."""
    target = locate(flags=flags)
    if target.ready:
        return target
    target.root.mkdir(parents=True, exist_ok=True)
    log = target.root / "build.log"
    log.write_text("", encoding="utf-8")
    tree = _source_tree(target, log)
    nice = ["nice", "-n", str(NICE)]
    out = target.root / "build"
    _run("configure", [*nice, "cmake", "-S", str(tree), "-B", str(out), *flags], log)
    _run(
        "compile",
        [*nice, "cmake", "--build", str(out), "--target", TARGET, f"-j{jobs}"],
        log,
    )
    if not target.binary.is_file():
        raise BuildError(f"llama-server build failed: no {target.binary}; see {log}")
    record(target, flags)
    return target


def record(target: LlamaServerBuild, flags: Sequence[str]) -> None:
    """Saves how the binary was built, beside it: the results quote it."""
    cache = _cmake_cache(target.root / "build" / "CMakeCache.txt")
    info = {
        "version": target.version,
        "binary": str(target.binary),
        "cmake_flags": list(flags),
        # What CMake resolved, not only what was asked: the kernels follow these.
        "resolved": {
            k: cache.get(k, "")
            for k in (
                "GGML_NATIVE",
                "GGML_OPENMP",
                "GGML_LLAMAFILE",
                "GGML_CPU_REPACK",
                "CMAKE_BUILD_TYPE",
                "CMAKE_CXX_COMPILER",
            )
        },
        "wheel_system_info": wheel_system_info(),
        "server_system_info": server_system_info(target.binary),
    }
    target.info_path.write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")


def _cmake_cache(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return values
    for line in lines:
        if line.startswith(("#", "//")) or "=" not in line or ":" not in line.split("=")[0]:
            continue
        key_type, value = line.split("=", 1)
        values[key_type.split(":")[0]] = value
    return values


def ensure_built(say: Callable[[str], None] = print) -> LlamaServerBuild:
    """The cached build, building it first (and saying so) when it is missing."""
    target = locate()
    if not target.ready:
        say(
            f"llama-server {target.version} is not built yet: building it into {target.root} "
            "(several minutes, once)"
        )
        target = build()
    return target


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.llama_cpp_build", description=__doc__)
    parser.add_argument("--path", action="store_true", help="print the binary's path and exit")
    args = parser.parse_args(argv)
    target = locate()
    if args.path:
        print(target.binary)
        return 0 if target.ready else 1
    try:
        target = ensure_built()
    except BuildError as error:
        print(error, file=sys.stderr)
        return 1
    print(target.binary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
