"""The Ray backend's actors: rollout workers, the parameter server, the evaluator.

- :class:`RolloutWorker` actors each own their env(s) and local model and run the local
  backend's worker code, :meth:`a3c.algorithm.worker.Worker.compute_gradients`: sync, roll out,
  loss, backward, clip. In place of stepping a shared optimiser they send the clipped gradient to
  the parameter server, whose reply holds the weights for their next rollout.
- :class:`ParameterServer` holds the model and the optimiser statistics (SharedAdam or
  SharedRMSprop). It applies each gradient as it arrives and counts the global steps.
- :class:`Evaluator` plays a greedy episode with the weights it is handed.

Weights and gradients travel as flat float32 NumPy vectors: Ray's object store hands NumPy arrays
to readers on the same node without copying them.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import ray
import torch
from torch import nn
from torch.optim import Optimizer

from a3c.algorithm.config import TrainConfig
from a3c.algorithm.evaluation import EpisodeResult, build_evaluator, play_greedy_round
from a3c.algorithm.optim import make_optimizer, step_and_release, worker_optimizer
from a3c.algorithm.task import Task
from a3c.algorithm.worker import UpdateStats, Worker, build_envs_and_model, worker_class
from a3c.runtime.messages import REPORT_INTERVAL_S, WorkerReport, WorkerReporter

#: Seconds of training per call to a worker actor. Each call returns the worker's report, so the
#: driver hears from every worker this often, as it does from local workers; a worker that died
#: shows up within one slice.
SLICE_S = REPORT_INTERVAL_S


PARAMETER_SERVER = "a3c-parameter-server"


def flat_parameters(model: nn.Module) -> np.ndarray:
    """The model's parameters as one float32 vector (a copy)."""
    with torch.no_grad():
        return torch.cat([p.detach().reshape(-1) for p in model.parameters()]).numpy()


def flat_gradients(model: nn.Module) -> np.ndarray:
    """The model's gradients as one float32 vector, zeros where a parameter has none (both a3c
    networks use every parameter in the loss, so none is missing there)."""
    return torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in model.parameters()]).numpy()


def _unflatten(model: nn.Module, flat: np.ndarray) -> Iterator[tuple[nn.Parameter, torch.Tensor]]:
    # np.array copies: arrays from Ray's object store are read-only, and torch warns on those.
    values = torch.from_numpy(np.array(flat, dtype=np.float32))
    offset = 0
    for p in model.parameters():
        yield p, values[offset : offset + p.numel()].view_as(p)
        offset += p.numel()
    if offset != values.numel():
        raise ValueError(f"a vector of {values.numel()} values does not fit a model of {offset} parameters")


def set_flat_parameters(model: nn.Module, flat: np.ndarray) -> None:
    """Copy a vector from :func:`flat_parameters` into ``model``."""
    with torch.no_grad():
        for p, value in _unflatten(model, flat):
            p.copy_(value)


def set_flat_gradients(model: nn.Module, flat: np.ndarray) -> None:
    """Make a vector from :func:`flat_gradients` the parameters' ``.grad``."""
    for p, value in _unflatten(model, flat):
        p.grad = value


class ParameterServer:
    """The Ray actor that holds the model and the optimiser statistics.

    Ray runs an actor's calls one at a time, so each gradient is applied whole, in the order the
    gradients arrive; the local backend's Hogwild! updates may interleave instead. Workers still
    compute on weights a few updates old, as in A3C.
    """

    def __init__(self, model: nn.Module, config: TrainConfig, optimizer_state: dict[str, Any] | None, global_step: int) -> None:
        torch.set_num_threads(1)
        self.model = model
        self.config = config
        self.shared_optimizer = None if config.no_shared else make_optimizer(config.optimizer, model.parameters(), config.lr)
        # --no-shared: each worker's own statistics over the shared parameters, as in the local backend.
        if self.shared_optimizer is not None and optimizer_state is not None:
            self.shared_optimizer.load_state_dict(optimizer_state)
        self.optimizers: dict[int, Optimizer] = {}
        """Each worker rank's optimiser: the shared one, or with ``--no-shared`` its own."""
        self.steps = global_step
        self.updates = 0
        self.busy_s = 0.0
        self.started = time.perf_counter()

    def _optimizer(self, rank: int) -> Optimizer:
        if rank not in self.optimizers:
            cfg = self.config
            self.optimizers[rank] = worker_optimizer(cfg.optimizer, cfg.lr, self.model.parameters(), self.shared_optimizer)
        return self.optimizers[rank]

    def apply(self, rank: int, gradient: np.ndarray | None, steps: int) -> tuple[np.ndarray, int]:
        """Count worker ``rank``'s ``steps`` env steps, apply its clipped gradient (None for an update
        skipped as non-finite), and return the weights and global step that result."""
        began = time.perf_counter()
        self.steps += steps
        if gradient is not None:
            set_flat_gradients(self.model, gradient)
            step_and_release(self._optimizer(rank), self.config.lr_at(self.steps))
            self.updates += 1
        weights = flat_parameters(self.model)
        self.busy_s += time.perf_counter() - began
        return weights, self.steps

    def weights(self) -> tuple[np.ndarray, int]:
        """The current weights and the global step."""
        return flat_parameters(self.model), self.steps

    def global_step(self) -> int:
        return self.steps

    def state(self) -> tuple[np.ndarray, dict[str, Any] | None, int]:
        """For a checkpoint: the weights, the shared optimiser's state (None with ``--no-shared``)
        and the global step, all of one instant. Ray serialises a return value before the actor
        runs its next call, so no update can change the tensors under it."""
        optimizer_state = self.shared_optimizer.state_dict() if self.shared_optimizer is not None else None
        return flat_parameters(self.model), optimizer_state, self.steps

    def stats(self) -> dict[str, float]:
        """Updates applied, seconds spent applying them, and seconds since the server started."""
        return {"updates": float(self.updates), "busy_s": self.busy_s, "uptime_s": time.perf_counter() - self.started}


@dataclass
class WorkSlice:
    """What a worker actor returns from each call: the report a local worker would have put on its
    queue, and where the run stands."""

    report: WorkerReport
    global_step: int
    """The server's global step after the slice's last update."""
    gave_up: bool = False
    """True when ``max_nonfinite_updates`` updates in a row were non-finite: the run must stop."""
    compute_s: float = 0.0
    """Seconds spent rolling out and back-propagating."""
    wait_s: float = 0.0
    """Seconds spent waiting for the server's reply: transfers, its queue, and the update itself."""


class ServerLink:
    """A Ray worker's :class:`a3c.algorithm.worker.WorkerLink`: the weights and global step of the
    parameter server's last reply. The server counts the steps that come with each gradient."""

    def __init__(self, weights: np.ndarray, global_step: int, max_steps: int) -> None:
        self.weights = weights
        self.global_step = global_step
        self.max_steps = max_steps

    def sync(self, model: nn.Module) -> None:
        set_flat_parameters(model, self.weights)

    def count_steps(self, n: int) -> None:
        pass

    def should_stop(self) -> bool:
        return self.global_step >= self.max_steps


class RolloutWorker:
    """The Ray actor for worker ``rank``: the local backend's :class:`~a3c.algorithm.worker.Worker` (or
    :class:`~a3c.algorithm.worker.BatchedWorker`), whose gradients go to the parameter server."""

    def __init__(self, rank: int, task: Task, server_name: str) -> None:
        self.rank = rank
        self.task = task
        # Looked up by name rather than passed: Ray keeps a handle argument in its object store,
        # where a restart after it went out of scope could not find it.
        self.server = ray.get_actor(server_name)
        self.worker: Worker | None = None

    def start(self, config: TrainConfig) -> str:
        """Build the env(s) and local model exactly as a local worker process of this rank does,
        and fetch the current weights. Called again after a restart, with new seeds. Returns the
        ID of the node it runs on."""
        if self.worker is not None:
            self.worker.env.close()
        env, model = build_envs_and_model(self.rank, config, self.task)
        weights, global_step = ray.get(self.server.weights.remote())
        self.link = ServerLink(weights, global_step, config.max_steps)
        self.worker = worker_class(config)(config, env, model, self.link)
        self.reporter = WorkerReporter(self.rank, events=None, interval_s=math.inf)
        return ray.get_runtime_context().get_node_id()

    def pid(self) -> int:
        """This actor's process ID on its node (for fault injection: benchmarks/chaos.py, the tests)."""
        return os.getpid()

    def train_for(self, seconds: float) -> WorkSlice:
        """Update for about ``seconds`` (one update at least, unless ``max_steps`` was reached)."""
        worker, link = self.worker, self.link
        assert worker is not None, "start() first"
        deadline = time.monotonic() + seconds
        began, wait_s = time.perf_counter(), 0.0

        def send(stats: UpdateStats) -> None:
            # The gradient goes to the server in place of a shared optimiser's step; its reply holds
            # the weights of the next rollout. An update skipped as non-finite still counts its steps.
            nonlocal wait_s
            sent = time.perf_counter()
            gradient = flat_gradients(worker.model) if stats.applied else None
            link.weights, link.global_step = ray.get(self.server.apply.remote(self.rank, gradient, stats.steps))
            wait_s += time.perf_counter() - sent

        finite = worker.run(self.reporter.record, apply=send, keep_going=lambda: time.monotonic() < deadline)
        compute_s = time.perf_counter() - began - wait_s
        return WorkSlice(self.reporter.take(), link.global_step, not finite, compute_s, wait_s)


class Evaluator:
    """The Ray actor that plays greedy episodes, built as the local evaluation process is."""

    def __init__(self, task: Task) -> None:
        self.task = task

    def start(self, config: TrainConfig) -> str:
        self.envs, self.model, self.seeds = build_evaluator(config.num_processes, config, self.task)
        self.max_episode_length = config.max_episode_length
        self.stuck_guard = config.stuck_guard
        return ray.get_runtime_context().get_node_id()

    def play(self, weights: np.ndarray) -> list[EpisodeResult]:
        """A round: one greedy episode in each env, side by side, with these weights."""
        if not hasattr(self, "model"):  # Ray restarted the process between two rounds: the driver restarts it in turn
            raise RuntimeError("its process was restarted by Ray between rounds")
        set_flat_parameters(self.model, weights)
        results = play_greedy_round(self.model, self.envs, self.max_episode_length, self.stuck_guard, seeds=self.seeds)
        assert results is not None  # no should_stop: the driver drops a round it no longer wants
        return results
