"""The docs tests' inventory: every fenced block of README.md and docs/ says what it is,
so none can hide from tests/e2e/test_docs_examples.py (which runs the pasted ones)."""

from __future__ import annotations

import pytest

from tests.support.doc_blocks import DocError, blocks_of, every_block, pasted


def test_every_block_of_the_docs_is_classified():
    blocks = every_block()  # raises, naming file and line, on a block it cannot classify
    runs = [b for b in pasted() if b.mode != "skip"]
    skipped = [b for b in pasted() if b.mode == "skip"]
    # The docs show many runnable examples; an extraction that finds few is broken.
    assert len(runs) >= 20, [b.id for b in runs]
    assert all(b.reason for b in skipped)
    assert {b.lang for b in blocks} >= {"sh", "bash", "python", "text"}


def write(tmp_path, text: str):
    path = tmp_path / "page.md"
    path.write_text(text)
    return path


def test_a_marker_applies_to_the_next_block_only(tmp_path):
    page = write(
        tmp_path,
        "<!-- doc-test: skip needs a Pi -->\n\n```sh\nconclave agent call x\n```\n\n"
        "```python\nprint(1)\n```\n",
    )
    first, second = blocks_of(page)
    assert (first.mode, first.reason, first.lang) == ("skip", "needs a Pi", "sh")
    assert (second.mode, second.code) == ("run", "print(1)\n")


def test_an_indented_block_loses_its_indent(tmp_path):
    [block] = blocks_of(write(tmp_path, "- a step:\n\n  ```sh\n  echo hi\n  ```\n"))
    assert block.code == "echo hi\n"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("```\nls\n```\n", "without a language"),
        ("```sh\nls\n``` and more words\n", "text after a closing fence"),
        ("```sh\nls\n", "never closes"),
        ("<!-- doc-test: skip -->\n```sh\nls\n```\n", "needs its reason"),
        ("<!-- doc-test: maybe later -->\n```sh\nls\n```\n", "doc-test mode 'maybe'"),
        ("<!-- doc-test: skip shown -->\n```text\nls\n```\n", "never runs"),
        ("```shell-session\nls\n```\n", "unknown block language"),
    ],
)
def test_an_unclassified_block_is_refused_by_file_and_line(tmp_path, text, problem):
    with pytest.raises(DocError, match=problem) as refused:
        blocks_of(write(tmp_path, text))
    assert "page.md:" in str(refused.value)
