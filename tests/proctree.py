"""Helpers for tests that run a trainer in a subprocess and watch its children through /proc
(Linux only)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

TRAIN_CORRIDOR_FOREVER = """
import sys
from a3c.algorithm.config import TrainConfig
from a3c.algorithm.task import corridor_task
from a3c.runtime.signals import Terminated
from a3c.backends.base import TrainingFailed
from a3c.backends import train
if __name__ == "__main__":
    # KEY=VALUE arguments override the config's fields, parsed as YAML (max_restarts=1, ...).
    import yaml
    overrides = {k: yaml.safe_load(v) for k, v in (arg.split("=", 1) for arg in sys.argv[2:])}
    config = TrainConfig(**{"env_name": "Corridor", "num_processes": 2, "max_steps": 10**9, "eval_interval_s": 1.0, **overrides})
    try:
        train(config, run_dir=sys.argv[1], task=corridor_task(), progress_interval_s=3600)
    except Terminated:
        sys.exit(143)
    except TrainingFailed as error:
        print(error, file=sys.stderr)
        sys.exit(1)
"""
"""A script: ``python SCRIPT RUN_DIR [FIELD=VALUE ...]`` trains the Corridor until it is stopped,
exiting 143 on SIGTERM and 1 (the reason on stderr) when the run fails."""


def wait_for(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def sigint_default() -> None:
    """``preexec_fn`` for a child that gets Ctrl-C as in a terminal: a test run started in the
    background (``nohup pytest &``) has SIGINT ignored, and its children would inherit that."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def sigint_disposition(pid: int) -> tuple[bool, bool]:
    """Whether process ``pid`` blocks SIGINT, and whether it ignores it (``SigBlk``, ``SigIgn``)."""
    fields = dict(line.split(":\t", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":\t" in line)
    bit = 1 << (signal.SIGINT - 1)
    return bool(int(fields["SigBlk"], 16) & bit), bool(int(fields["SigIgn"], 16) & bit)


def children(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text()
    except (FileNotFoundError, ProcessLookupError):  # exited and reaped between listing and reading
        return ""


def forkservers(pid: int) -> list[int]:
    """``pid``'s multiprocessing forkserver (one, once it has started a child)."""
    return [c for c in children(pid) if "multiprocessing.forkserver" in _cmdline(c)]


def spawned_children(pid: int) -> list[int]:
    """The workers and evaluator that ``pid`` started, in start order: its forkserver's children
    (or its own spawned ones, where the start method is spawn)."""
    spawned = [c for c in children(pid) if "spawn_main" in _cmdline(c)]
    return sorted(spawned + [c for server in forkservers(pid) for c in children(server)], key=_start_order)


def _start_order(pid: int) -> tuple[int, int]:
    """When ``pid`` started (``/proc/PID/stat``'s starttime, in clock ticks), then the pid. Pids alone
    are no order: they wrap past ``pid_max`` (32768 here), and the suite's threads use them up."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):  # exited and reaped between listing and reading
        return 2**63, pid
    return int(fields[19]), pid


def kill_trainer_and_wait_for_its_children(proc: subprocess.Popen, stop_a_child_first: bool = False) -> list[int]:
    """SIGKILL the trainer ``proc`` (optionally after SIGSTOP of its last child, which then never
    runs its own orphan check), then wait until every child it started, and its forkserver, has
    exited: nothing may outlive the trainer. Returns the children's pids."""
    children, servers = spawned_children(proc.pid), forkservers(proc.pid)
    assert len(children) == 3, children
    if stop_a_child_first:
        os.kill(children[-1], signal.SIGSTOP)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    # Each child notices that its trainer has gone (multiprocessing's parent sentinel) and exits; the forkserver
    # exits with the trainer, and the kernel wakes a stopped child (SIGCONT on its parent's death).
    wait_for(lambda: not any(alive(p) for p in children + servers), 30, "the orphaned children and forkserver to exit")
    return children


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
