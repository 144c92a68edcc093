"""What every process shares: the model, the optimiser statistics, the step counter, a stop flag."""

from __future__ import annotations

import multiprocessing as mp
import random
import time
from dataclasses import dataclass
from multiprocessing.context import BaseContext
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.optim import Optimizer

#: Process start method. ``spawn`` behaves the same on Linux, macOS and Windows, and never
#: forks a parent's threads or locks into a child.
START_METHOD = "spawn"


def seed_process(seed: int) -> None:
    """One intra-op thread per process (the cores belong to the workers) and seeded RNGs."""
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


@dataclass
class SharedState:
    """Handles passed to every process. Tensors live in shared memory; the rest are mp objects."""

    model: nn.Module
    optimizer: Optimizer | None
    """None with ``--no-shared``: each worker then builds its own."""
    counter: Any
    """``multiprocessing.Value('q')``: global env steps across workers."""
    stop: Any
    """``multiprocessing.Event``: set by the trainer to stop every process early."""
    evaluator_ready: Any
    """``multiprocessing.Event``: set once the evaluator has built its env, so that workers start
    together with it and even a short run gets evaluated."""
    events: Any
    """``multiprocessing.Queue`` of :mod:`a3c.telemetry` reports from the children to the trainer."""

    @classmethod
    def create(cls, model: nn.Module, optimizer: Optimizer | None, ctx: BaseContext, start_step: int = 0) -> "SharedState":
        model.share_memory()
        if optimizer is not None and hasattr(optimizer, "share_memory"):
            optimizer.share_memory()
        return cls(model, optimizer, ctx.Value("q", start_step), ctx.Event(), ctx.Event(), ctx.Queue())

    @property
    def global_step(self) -> int:
        return int(self.counter.value)

    def add_steps(self, n: int) -> None:
        with self.counter.get_lock():
            self.counter.value += n

    def should_stop(self, max_steps: int) -> bool:
        return self.stop.is_set() or self.counter.value >= max_steps or _parent_died()

    def wait_for_evaluator(self, timeout_s: float = 120.0) -> None:
        """Block until the evaluator is ready, the run is stopped, or ``timeout_s`` passes."""
        deadline = time.monotonic() + timeout_s
        while not self.evaluator_ready.wait(0.1):
            if self.stop.is_set() or _parent_died() or time.monotonic() > deadline:
                return


def _parent_died() -> bool:
    """True in a child whose trainer has gone (killed with SIGKILL, say): the child then stops
    instead of training on as an orphan."""
    parent = mp.parent_process()
    return parent is not None and not parent.is_alive()
