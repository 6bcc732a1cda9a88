"""The fenced blocks of README.md and docs/*.md, as the docs tests run them.

Every block names its language. `sh`, `bash` and `python` blocks are what a user pastes:
they run against a live swarm unless the line before the fence says otherwise:

    <!-- doc-test: skip REASON -->    not run (hardware, a second machine, docker, sudo,
                                      the network, a server that runs until Ctrl-C); the
                                      test reports it skipped with REASON
    <!-- doc-test: check REASON -->   run with `--check` added to each experiment run
                                      (REASON: why the whole run is too long for a test)

Other languages (`text`, `json`, `yaml`, ...) are shown output, formats and configs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RUNNABLE = frozenset({"sh", "bash", "python"})
SHOWN = frozenset({"text", "json", "jsonl", "yaml", "toml", "ini", "gbnf", "dockerfile"})
MODES = ("skip", "check")

_FENCE = re.compile(r"^(?P<indent>\s*)```(?P<lang>\S*)\s*$")
_MARKER = re.compile(r"^\s*<!--\s*doc-test:\s*(?P<mode>\S+)\s*(?P<reason>.*?)\s*-->\s*$")


@dataclass(frozen=True)
class Block:
    doc: str  # path from the repository root
    line: int  # of the opening fence, 1-based
    lang: str
    code: str
    mode: str  # "run", "skip" or "check"
    reason: str

    @property
    def id(self) -> str:
        return f"{self.doc}:{self.line}"


class DocError(ValueError):
    """A block the docs tests cannot classify: the message names the file and line."""


def documents() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def blocks_of(path: Path) -> list[Block]:
    lines = path.read_text(encoding="utf-8").splitlines()
    doc = str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)
    found: list[Block] = []
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if not opening:
            if lines[i].lstrip().startswith("```"):
                raise DocError(f"{doc}:{i + 1}: text after a fence: {lines[i].strip()!r}")
            i += 1
            continue
        indent, lang = opening["indent"], opening["lang"]
        end = next(
            (j for j in range(i + 1, len(lines)) if lines[j].lstrip().startswith("```")), None
        )
        if end is None:
            raise DocError(f"{doc}:{i + 1}: the block never closes")
        if lines[end].strip() != "```":
            raise DocError(f"{doc}:{end + 1}: text after a closing fence: {lines[end].strip()!r}")
        body = [
            line[len(indent) :] if line.startswith(indent) else line for line in lines[i + 1 : end]
        ]
        mode, reason = _marker_before(lines, i, doc)
        if not lang:
            raise DocError(f"{doc}:{i + 1}: a block without a language (sh, python, text, ...)")
        if lang not in RUNNABLE | SHOWN:
            raise DocError(f"{doc}:{i + 1}: unknown block language {lang!r}")
        if mode != "run" and lang not in RUNNABLE:
            raise DocError(f"{doc}:{i + 1}: a doc-test marker on a {lang} block, which never runs")
        found.append(Block(doc, i + 1, lang, "\n".join(body) + "\n", mode, reason))
        i = end + 1
    return found


def _marker_before(lines: list[str], i: int, doc: str) -> tuple[str, str]:
    j = i - 1
    while j >= 0 and not lines[j].strip():
        j -= 1
    marker = _MARKER.match(lines[j]) if j >= 0 else None
    if marker is None:
        return "run", ""
    if marker["mode"] not in MODES:
        raise DocError(f"{doc}:{j + 1}: doc-test mode {marker['mode']!r}; known: {MODES}")
    if not marker["reason"]:
        raise DocError(f"{doc}:{j + 1}: a doc-test {marker['mode']} needs its reason")
    return marker["mode"], marker["reason"]


def every_block() -> list[Block]:
    return [block for path in documents() for block in blocks_of(path)]


def pasted() -> list[Block]:
    """The blocks a user would paste, run or not."""
    return [block for block in every_block() if block.lang in RUNNABLE]
