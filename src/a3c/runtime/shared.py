"""What the local backend's processes share: the model, the optimiser statistics, the step
counter, the stop and ready flags, and the report queue, with no lock in the training loop.

:class:`SharedState` is what a worker links to (:class:`a3c.algorithm.worker.WorkerLink`): the
current weights, a step counter, and whether to stop.
"""

from __future__ import annotations

import ctypes
import math
import multiprocessing as mp
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.context import BaseContext
from typing import TYPE_CHECKING, Any, Final, cast

from torch import nn
from torch.optim import Optimizer

if TYPE_CHECKING:  # Windows has no ForkServerContext
    from multiprocessing.context import ForkServerContext, SpawnContext

#: Process start method: ``forkserver`` on Linux, ``spawn`` elsewhere (macOS forks badly once
#: torch and OpenCV are loaded; Windows has only ``spawn``). Both start children that share
#: nothing with the trainer but what is passed to them, pickled, and neither forks a parent's
#: threads or locks. The forkserver imports torch and the package once, so a child (or a
#: restarted one) starts in milliseconds where a spawned child spends seconds of CPU importing
#: torch. Each shared tensor travels to a child as a file descriptor, and the forkserver passes
#: at most about 250 per start: today's model and Adam state need about 70.
START_METHOD: Final = "forkserver" if sys.platform.startswith("linux") else "spawn"


#: What the forkserver imports for every child: torch and the algorithm (envs, model, worker).
FORKSERVER_PRELOAD: Final = ("torch", "a3c.algorithm.task", "a3c.algorithm.worker", "a3c.algorithm.evaluation")


def process_context(preload: Sequence[str] = ()) -> ForkServerContext | SpawnContext:
    """The multiprocessing context every part of a3c starts its processes with.

    ``preload``: modules the forkserver imports before its first fork, besides
    :data:`FORKSERVER_PRELOAD` (the caller's own, where its children's entry points live). The
    forkserver is one per process: the first call's list counts.
    It is started here with SIGINT ignored and blocked (:func:`a3c.runtime.signals.sigint_ignored`),
    which every child it forks inherits, as a spawned child inherits the trainer's state during
    its start: a terminal's Ctrl-C reaches only the trainer."""
    context = cast("ForkServerContext | SpawnContext", mp.get_context(START_METHOD))
    if START_METHOD == "forkserver":
        from multiprocessing import forkserver, resource_tracker

        from a3c.runtime.signals import sigint_ignored

        context.set_forkserver_preload([*FORKSERVER_PRELOAD, *preload])
        # Outside the block: the tracker's own start unblocks SIGINT (CPython bpo-33613).
        resource_tracker.ensure_running()
        with sigint_ignored(hold=True):
            forkserver.ensure_running()
    return context

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

    @staticmethod
    def trainer_gone() -> bool:
        """True in a child whose trainer has gone (killed with SIGKILL, say), or whose forkserver
        has: the child then stops instead of training on as an orphan, or beside the copy of
        itself that the trainer starts when a dead forkserver makes its children look dead."""
        parent = mp.parent_process()
        if parent is None:  # the trainer itself
            return False
        return not parent.is_alive() or (_first_parent is not None and os.getppid() != _first_parent)

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
        return self.stop_requested or self.global_step >= max_steps or self.trainer_gone()

    def _wait(self, slot: int, until: Callable[[], bool], timeout_s: float = math.inf, poll_s: float = 0.05) -> None:
        """Poll ``until()`` every ``poll_s`` seconds, beating for ``slot`` (waiting is not hanging),
        until it is true, ``timeout_s`` passes, the run is stopped or the trainer has gone."""
        deadline = time.monotonic() + timeout_s
        while not until() and not self.stop_requested and not self.trainer_gone():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self.beat(slot)
            time.sleep(min(poll_s, left))

    def sleep(self, seconds: float, slot: int) -> None:
        """Wait ``seconds``, or less if the run is stopped or the trainer has gone, beating for ``slot``."""
        self._wait(slot, lambda: False, timeout_s=seconds, poll_s=0.1)

    def wait_for_step(self, step: int, slot: int, max_steps: int) -> None:
        """Wait until the run has trained to global step ``step``, or should stop, beating for ``slot``."""
        self._wait(slot, lambda: self.global_step >= min(step, max_steps))

    def worker_link(self, slot: int, max_steps: int) -> SharedLink:
        """What the worker counting its steps in ``slot`` (its rank) links to."""
        return SharedLink(self, slot, max_steps)

    def wait_for_evaluator(self, slot: int, timeout_s: float = EVALUATOR_READY_TIMEOUT_S) -> None:
        """Block until the evaluator is ready, the run is stopped, or ``timeout_s`` passes (beating
        for ``slot`` meanwhile)."""
        self._wait(slot, lambda: bool(self.flags[1]), timeout_s=timeout_s)


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


_first_parent: int | None = None
"""In a child: the pid of the process that started it (the forkserver, or the trainer)."""


def continue_when_orphaned() -> None:
    """Ask the kernel to send this child SIGCONT when its parent dies (Linux's
    ``PR_SET_PDEATHSIG``). The orphan check (:meth:`SharedState.trainer_gone`) runs in the child's
    own loop, which a stopped child (SIGSTOP, a debugger) never reaches: woken, it sees the trainer
    gone and exits. A running child ignores SIGCONT. Elsewhere this does nothing.

    A forkserver child's parent is the server, which exits once no process holds its "alive"
    pipe; each child gets a copy of that pipe, which it closes here (it starts no processes), so
    that the server, and with it the SIGCONT, goes with the trainer."""
    global _first_parent
    _first_parent = os.getppid()
    if START_METHOD == "forkserver":
        from multiprocessing import forkserver

        server: Any = forkserver._forkserver  # CPython's own, undocumented
        if server._forkserver_alive_fd is not None and mp.parent_process() is not None:
            os.close(server._forkserver_alive_fd)
            server._forkserver_alive_fd = None
    if not sys.platform.startswith("linux"):
        return
    PR_SET_PDEATHSIG = 1
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGCONT), 0, 0, 0)
    except (OSError, AttributeError):
        pass  # no prctl in this libc: the orphan check still covers a running child
