"""Helpers for tests that watch a trainer's child processes through /proc (Linux only)."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest


def sigint_default() -> None:
    """``preexec_fn`` for a child that gets Ctrl-C as in a terminal: a test run started in the
    background (``nohup pytest &``) has SIGINT ignored, and its children would inherit that."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def children(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text()
    except (FileNotFoundError, ProcessLookupError):  # exited and reaped between listing and reading
        return ""


def spawned_children(pid: int) -> list[int]:
    """The multiprocessing children (workers, evaluator) of ``pid``, in start order."""
    return sorted(c for c in children(pid) if "spawn_main" in _cmdline(c))


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def communicate_or_dump_stacks(proc: subprocess.Popen, timeout_s: float) -> str:
    """Wait for ``proc`` (started with ``python -X faulthandler``) and return its stderr; if it
    does not end in time, fail with every one of its threads' stacks, which SIGABRT makes
    faulthandler print, so that a hang in CI says where it hung."""
    try:
        return proc.communicate(timeout=timeout_s)[1]
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGABRT)
        err = proc.communicate(timeout=10)[1]
        pytest.fail(f"pid {proc.pid} did not exit within {timeout_s:g} s; its stacks:\n{err[-6000:]}")
