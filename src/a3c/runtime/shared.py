"""What the local backend's processes share: the model, the optimiser statistics, the step
counter, the stop and ready flags, and the report queue, with no lock in the training loop.

:class:`SharedState` is what a worker links to (:class:`a3c.algorithm.worker.WorkerLink`): the
current weights, a step counter, and whether to stop.
"""

from __future__ import annotations

import ctypes
import multiprocessing as mp
import signal
import sys
import time
from dataclasses import dataclass
from multiprocessing.context import BaseContext
from typing import Any, Final

from torch import nn
from torch.optim import Optimizer

#: Process start method. ``spawn`` behaves the same on Linux, macOS and Windows, and never
#: forks a parent's threads or locks into a child.
START_METHOD: Final = "spawn"

#: Workers start training once the evaluator is ready (so that even a short run is evaluated), or
#: after this many seconds without it; both backends wait so.
EVALUATOR_READY_TIMEOUT_S = 120.0


@dataclass
class SharedState:
    """Handles passed to every process. Tensors live in shared memory; the rest are mp objects.

    Nothing here takes a lock in the training loop. A process killed with SIGKILL while it held a
    lock (a ``multiprocessing.Value``'s or an ``Event``'s) would leave every other process
    blocked on it for good; so each worker counts its steps in its own slot, and the flags are
    plain shared bytes written by one side only.
    """

    model: nn.Module
    optimizer: Optimizer | None
    """None with ``--no-shared``: each worker then builds its own."""
    step_slots: Any
    """``multiprocessing.Array('q', lock=False)``: env steps per worker slot (slot = rank)."""
    start_step: int
    """Global step at which this run (or this resumed part of it) started."""
    flags: Any
    """``multiprocessing.Array('b', 2, lock=False)``: [stop requested, evaluator ready]."""
    events: Any
    """``multiprocessing.Queue`` of :mod:`a3c.runtime.messages` reports from the children to the trainer."""
    heartbeats: Any
    """``multiprocessing.Array('d', slots + 1, lock=False)``: each child's last sign of life, in
    ``time.monotonic()`` seconds (one clock for every process of the machine); slot = rank, the
    evaluator's is the last."""

    @classmethod
    def create(
        cls, model: nn.Module, optimizer: Optimizer | None, ctx: BaseContext, start_step: int = 0, slots: int = 16
    ) -> SharedState:
        model.share_memory()
        if optimizer is not None and hasattr(optimizer, "share_memory"):
            optimizer.share_memory()
        steps, flags, beats = ctx.Array("q", slots, lock=False), ctx.Array("b", 2, lock=False), ctx.Array("d", slots + 1, lock=False)
        return cls(model, optimizer, steps, start_step, flags, heartbeats=beats, events=ctx.Queue())

    @property
    def evaluator_slot(self) -> int:
        return len(self.heartbeats) - 1

    def beat(self, slot: int) -> None:
        """A child's sign of life; the trainer kills one silent for too long as hung."""
        self.heartbeats[slot] = time.monotonic()

    def silent_for(self, slot: int) -> float:
        """Seconds since the child in ``slot`` last beat (or was started)."""
        return time.monotonic() - self.heartbeats[slot]

    @property
    def global_step(self) -> int:
        return self.start_step + sum(self.step_slots)

    def add_steps(self, n: int, slot: int = 0) -> None:
        """Count ``n`` env steps. Only one process may write a given slot."""
        self.step_slots[slot] += n

    def request_stop(self) -> None:
        self.flags[0] = 1

    @property
    def stop_requested(self) -> bool:
        return bool(self.flags[0])

    def mark_evaluator_ready(self) -> None:
        self.flags[1] = 1

    def should_stop(self, max_steps: int) -> bool:
        return self.stop_requested or self.global_step >= max_steps or _parent_died()

    def sleep(self, seconds: float, slot: int) -> None:
        """Wait ``seconds``, or less if the run is stopped or the trainer has gone, beating for ``slot``."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not self.stop_requested and not _parent_died():
            self.beat(slot)
            time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))

    def worker_link(self, slot: int, max_steps: int) -> SharedLink:
        """What the worker counting its steps in ``slot`` (its rank) links to."""
        return SharedLink(self, slot, max_steps)

    def wait_for_evaluator(self, slot: int, timeout_s: float = EVALUATOR_READY_TIMEOUT_S) -> None:
        """Block until the evaluator is ready, the run is stopped, or ``timeout_s`` passes (beating
        for ``slot`` meanwhile: waiting is not hanging)."""
        deadline = time.monotonic() + timeout_s
        while not self.flags[1]:
            if self.stop_requested or _parent_died() or time.monotonic() > deadline:
                return
            self.beat(slot)
            time.sleep(0.05)


@dataclass
class SharedLink:
    """A local worker's :class:`a3c.algorithm.worker.WorkerLink`: the shared model's weights, its
    own step slot, and the run's stop flag (or its trainer gone)."""

    shared: SharedState
    slot: int
    max_steps: int

    def sync(self, model: nn.Module) -> None:
        model.load_state_dict(self.shared.model.state_dict())

    def count_steps(self, n: int) -> None:
        self.shared.add_steps(n, self.slot)

    @property
    def global_step(self) -> int:
        return self.shared.global_step

    def should_stop(self) -> bool:
        # Asked once per update: the worker's heartbeat.
        self.shared.beat(self.slot)
        return self.shared.should_stop(self.max_steps)


def continue_when_orphaned() -> None:
    """Ask the kernel to send this child SIGCONT when its trainer dies (Linux's
    ``PR_SET_PDEATHSIG``). The orphan check below runs in the child's own loop, which a stopped
    child (SIGSTOP, a debugger) never reaches: woken, it sees the trainer gone and exits. A running
    child ignores SIGCONT. Elsewhere this does nothing."""
    if not sys.platform.startswith("linux"):
        return
    PR_SET_PDEATHSIG = 1
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGCONT), 0, 0, 0)
    except (OSError, AttributeError):
        pass  # no prctl in this libc: the orphan check still covers a running child


def _parent_died() -> bool:
    """True in a child whose trainer has gone (killed with SIGKILL, say): the child then stops
    instead of training on as an orphan."""
    parent = mp.parent_process()
    return parent is not None and not parent.is_alive()
