"""What llama.cpp says while one call fails, captured to explain the failure to a caller.

Some llama.cpp calls report bad input only by returning NULL and printing why: the
grammar parser writes "parse: error parsing grammar: Undefined rule identifier 'foo'"
straight to the process's stderr (fd 2), and then logs "failed to parse grammar"
through the log callback. `captured()` points fd 2 at a scratch file for the length of
the call and installs, once per process, a log callback that keeps the calling thread's
lines (and otherwise does what llama-cpp-python's own callback does). fd 2 belongs to the
whole process, so captures take turns (a lock) and last one short call; what other
threads print meanwhile is written back to stderr afterwards, unless the call failed and
the text is the failure's explanation.
"""

from __future__ import annotations

import ctypes
import os
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import llama_cpp
import llama_cpp._logger

_local = threading.local()
_installed = False
_install_lock = threading.Lock()
_stderr_lock = threading.Lock()


@llama_cpp.llama_log_callback
def _callback(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
    lines: list[str] | None = getattr(_local, "lines", None)
    if lines is not None:
        lines.append(text.decode("utf-8", errors="replace"))
        return
    llama_cpp._logger.llama_log_callback(level, text, user_data)


def _install() -> None:
    global _installed
    with _install_lock:
        if not _installed:
            # The callback object lives at module level: llama.cpp keeps only its address.
            llama_cpp.llama_log_set(_callback, ctypes.c_void_p(0))
            _installed = True


@dataclass
class Capture:
    """The lines printed and logged inside a `captured()` block. Set `failed` inside the
    block when the call failed: its text is then the failure's, not written back."""

    lines: list[str] = field(default_factory=list)
    failed: bool = False


@contextmanager
def captured() -> Iterator[Capture]:
    _install()
    capture = Capture()
    with _stderr_lock, tempfile.TemporaryFile() as scratch:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(scratch.fileno(), 2)
        _local.lines = capture.lines
        try:
            yield capture
        finally:
            _local.lines = None
            os.dup2(saved, 2)
            os.close(saved)
            scratch.seek(0)
            printed = scratch.read()
    if printed and not capture.failed:
        sys.stderr.write(printed.decode("utf-8", errors="replace"))
    capture.lines[:0] = printed.decode("utf-8", errors="replace").splitlines()
