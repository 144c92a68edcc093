"""The Ray backend (``a3c train --backend ray``): A3C workers as Ray actors, here or on a cluster.

Ray Core's parameter-server pattern maps one-to-one onto A3C (see ``docs/ray.md``):

- :class:`RolloutWorker` actors each own their env(s) and local model and run the local
  backend's worker code, :meth:`a3c.worker.Worker.compute_gradients`: sync, roll out, loss,
  backward, clip. In place of stepping a shared optimiser they send the clipped gradient to the
  parameter server, whose reply holds the weights for their next rollout.
- :class:`ParameterServer` holds the model and the optimiser statistics (SharedAdam or
  SharedRMSprop). It applies each gradient as it arrives and counts the global steps.
- :class:`Evaluator` plays a greedy episode with the weights it is handed.
- :class:`RayTrainer`, the driver, gives the run the local backend's run dir, checkpoints,
  metrics, TensorBoard, progress display and resume (:class:`a3c.trainer.TrainerBase`). It alone
  writes files, so the actors may run on any node.

Weights and gradients travel as flat float32 NumPy vectors: Ray's object store hands NumPy arrays
to readers on the same node without copying them.

Importing this module needs Ray (``pip install 'a3c[ray]'``); ``import a3c`` never does.
"""

from __future__ import annotations

import copy
import logging
import math
import os
import re
import socket
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.optim import Optimizer

from a3c.config import TrainConfig, available_cpus
from a3c.errors import UserError

INSTALL_HINT = "--backend ray needs Ray, which is not installed: pip install 'a3c[ray]' (or pip install 'ray>=2.9')"

try:
    import ray
    from ray.exceptions import ActorUnavailableError, RayActorError, RayError
except ImportError:
    raise UserError(INSTALL_HINT) from None

from a3c.evaluator import EpisodeRecorder, EpisodeResult, build_evaluator, play_greedy_episode
from a3c.optim import make_optimizer
from a3c.shared import SharedState
from a3c.task import Task
from a3c.telemetry import REPORT_INTERVAL_S, EvalReport, WorkerReport, WorkerReporter
from a3c.trainer import (
    EVALUATOR,
    JOIN_TIMEOUT_S,
    POLL_INTERVAL_S,
    TrainerBase,
    TrainResult,
    _sigint_ignored,
    nonfinite_failure,
    worker_name,
)
from a3c.worker import Worker, build_envs_and_model, worker_class

#: Seconds of training per call to a worker actor. Each call returns the worker's report, so the
#: driver hears from every worker this often, as it does from local workers; a worker that died
#: shows up within one slice.
SLICE_S = REPORT_INTERVAL_S

#: Workers start training once the evaluator is ready (so that even a short run is evaluated, as
#: with the local backend), or after this many seconds without it.
EVALUATOR_READY_TIMEOUT_S = 120.0

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
        if self.shared_optimizer is not None and optimizer_state is not None:
            self.shared_optimizer.load_state_dict(optimizer_state)
        self.private_optimizers: dict[int, Optimizer] = {}
        self.steps = global_step
        self.updates = 0
        self.busy_s = 0.0
        self.started = time.perf_counter()

    def _optimizer(self, rank: int) -> Optimizer:
        if self.shared_optimizer is not None:
            return self.shared_optimizer
        # --no-shared: each worker's own statistics over the shared parameters, as in the local backend.
        if rank not in self.private_optimizers:
            self.private_optimizers[rank] = make_optimizer(self.config.optimizer, self.model.parameters(), self.config.lr)
        return self.private_optimizers[rank]

    def apply(self, rank: int, gradient: np.ndarray | None, steps: int) -> tuple[np.ndarray, int]:
        """Count worker ``rank``'s ``steps`` env steps, apply its clipped gradient (None for an update
        skipped as non-finite), and return the weights and global step that result."""
        began = time.perf_counter()
        self.steps += steps
        if gradient is not None:
            set_flat_gradients(self.model, gradient)
            self._optimizer(rank).step()
            # Drop the references so no later step can re-apply this gradient.
            self.model.zero_grad(set_to_none=True)
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


class RolloutWorker:
    """The Ray actor for worker ``rank``: the local backend's :class:`~a3c.worker.Worker` (or
    :class:`~a3c.worker.BatchedWorker`), whose gradients go to the parameter server."""

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
        # A replica of the server's weights stands in for the shared model: compute_gradients()
        # syncs the local model from it, as a local worker syncs from shared memory.
        self.worker = worker_class(config)(config, env, model, SharedState.private(copy.deepcopy(model)), None)  # type: ignore[arg-type]
        self.config = config
        self.reporter = WorkerReporter(self.rank, events=None, interval_s=math.inf)
        weights, self.global_step = ray.get(self.server.weights.remote())
        set_flat_parameters(self.worker.shared.model, weights)
        return ray.get_runtime_context().get_node_id()

    def train_for(self, seconds: float) -> WorkSlice:
        """Update for about ``seconds`` (one update at least, unless ``max_steps`` was reached)."""
        worker, cfg = self.worker, self.config
        assert worker is not None, "start() first"
        deadline = time.monotonic() + seconds
        compute_s = wait_s = 0.0
        gave_up = False
        while self.global_step < cfg.max_steps and time.monotonic() < deadline:
            began = time.perf_counter()
            stats = worker.compute_gradients()
            gradient = flat_gradients(worker.model) if stats.applied else None
            computed = time.perf_counter()
            weights, self.global_step = ray.get(self.server.apply.remote(self.rank, gradient, stats.steps))
            set_flat_parameters(worker.shared.model, weights)
            compute_s += computed - began
            wait_s += time.perf_counter() - computed
            self.reporter.record(stats)
            if worker.nonfinite_limit_reached:
                gave_up = True
                break
        return WorkSlice(self.reporter.take(), self.global_step, gave_up, compute_s, wait_s)


class Evaluator:
    """The Ray actor that plays greedy episodes, built as the local evaluation process is."""

    def __init__(self, task: Task) -> None:
        self.task = task

    def start(self, config: TrainConfig) -> str:
        self.env, self.model = build_evaluator(config.num_processes, config, self.task)
        self.max_episode_length = config.max_episode_length
        return ray.get_runtime_context().get_node_id()

    def play(self, weights: np.ndarray) -> EpisodeResult:
        set_flat_parameters(self.model, weights)
        result = play_greedy_episode(self.model, self.env, self.max_episode_length)
        assert result is not None  # no should_stop: the driver drops an episode it no longer wants
        return result


def connect(address: str | None) -> bool:
    """Join the Ray cluster at ``address``, or start a local Ray sized to this machine. Returns
    True if this call connected (the caller then disconnects at the end), False if this process
    was connected already (by a test's or a notebook's own ``ray.init``, say)."""
    if ray.is_initialized():
        return False
    # Ray's errors only, and not the actors' output (Ray prefixes it with colour codes even in a
    # pipe): the progress display and --quiet stay as the local backend's. The driver logs why an
    # actor died; the actors' own output is in Ray's logs (`ray logs`, /tmp/ray/session_latest/logs).
    options: dict[str, Any] = {"logging_level": logging.ERROR, "log_to_driver": False}
    if address is None:
        # This Ray lives for one run; it reports no usage statistics unless the environment asks.
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        # Its processes inherit SIGINT ignored, so a terminal's Ctrl-C reaches only the driver,
        # which stops the actors in order and saves a checkpoint (as the local backend does).
        with _sigint_ignored():
            ray.init(address="local", num_cpus=available_cpus(), include_dashboard=False, **options)
        return True
    if not _answers(address):
        # ray.init would retry an address where no cluster listens for minutes, printing warnings.
        raise UserError(f"no Ray cluster answers at {address!r}; start one with `ray start --head` and pass the address it prints")
    try:
        ray.init(address=address, **options)
    except (ConnectionError, ValueError, RuntimeError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UserError(f"cannot join the Ray cluster at {address!r}: {reason}") from None
    return True


def _answers(address: str, timeout_s: float = 5.0) -> bool:
    """Whether something listens at a HOST:PORT address (others, such as ``auto``, Ray checks itself)."""
    host, _, port = address.rpartition(":")
    if "://" in address or not host or not port.isdigit():
        return True
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except OSError:
        return False
    return True


def _on_this_node() -> Any:
    """Prefer the driver's node: checkpoints and evaluation weights then cross no network."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    return NodeAffinitySchedulingStrategy(node_id=ray.get_runtime_context().get_node_id(), soft=True)


def _kill(actor: Any) -> None:
    """End an actor for good (an actor that is gone already is fine)."""
    try:
        ray.kill(actor, no_restart=True)
    except (RayError, ValueError):
        pass


def _reason(error: BaseException) -> str:
    """Why an actor call failed, in a few words."""
    if isinstance(error, RayActorError):
        return "its process died"
    cause = getattr(error, "cause", None) or error
    lines = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {lines[-1] if lines else ''}"[:200]


class RayTrainer(TrainerBase):
    """The Ray backend's driver. Same arguments as :class:`a3c.trainer.Trainer`, plus ``address``:
    the cluster to join (None: start a local Ray sized to this machine)."""

    backend = "ray"

    def __init__(self, config: TrainConfig, run_dir: str | Path | None = None, task: Task | None = None, address: str | None = None, **kwargs: Any) -> None:
        super().__init__(config, run_dir, task, **kwargs)
        self.address = address
        self.run_tag = uuid.uuid4().hex[:8]
        self.connected = False
        self.server: Any = None
        self.model: nn.Module | None = None
        """The driver's copy of the weights, refreshed for each checkpoint and evaluation."""
        self.actors: dict[str, Any] = {}
        """Worker and evaluator actors by child name (``a3c-worker-0``, ``a3c-evaluator``)."""
        self.pending: dict[Any, tuple[str, str]] = {}
        """Calls in flight: object ref -> (child name, method)."""
        self.inbox: list[WorkerReport | EvalReport] = []
        self.start_again_at: dict[str, float] = {}
        """Children whose start met a restart still under way, and when to try again."""
        self.held: set[str] = set()
        """Started workers waiting for the evaluator to be ready."""
        self.finished: set[str] = set()
        self.failed_child: str | None = None
        self.evaluator_ready = False
        self.eval_refs: tuple[Any, Any] | None = None
        """(weights, global step) refs of the round in play: every episode of a round plays them."""
        self.next_eval_at = 0.0
        self.launched_at = 0.0
        self.step_ref: Any = None
        self.step_asked_at = 0.0
        self._step = 0
        self.stopping = False
        self.recorder: EpisodeRecorder | None = None
        self.compute_s = 0.0
        """Seconds the workers spent computing, summed over their slices."""
        self.wait_s = 0.0
        """Seconds the workers spent waiting for the parameter server."""
        self.server_stats: dict[str, float] = {}
        """:meth:`ParameterServer.stats` at the end of a run that finished."""
        self.slices: dict[str, int] = {}
        """Slices of training each worker returned: its heartbeats."""
        self.nodes: dict[str, str] = {}
        """The Ray node ID each child last started on."""

    def actor_name(self, name: str) -> str:
        """The Ray name of child ``name`` in this run (for ``ray.get_actor``, ``ray list actors``)."""
        return f"{name}-{self.run_tag}"

    @property
    def global_step(self) -> int:
        return self._step

    def train(self) -> TrainResult:
        try:
            # First, so that an unreachable cluster leaves no run dir behind.
            self.connected = connect(self.address)
            result = super().train()
            self._log_server_stats()
            return result
        finally:
            self._disconnect()

    def _start(self, resumed: dict[str, Any] | None) -> None:
        model, optimizer, start_step = self._build_model(resumed)
        self.model, self._step = model, start_step
        optimizer_state = optimizer.state_dict() if optimizer is not None else None
        server = ray.remote(ParameterServer).options(num_cpus=0, name=self.actor_name(PARAMETER_SERVER), scheduling_strategy=_on_this_node())
        self.server = server.remote(model, self.config, optimizer_state, start_step)

    def _where(self) -> str:
        nodes = sum(1 for node in ray.nodes() if node.get("Alive"))
        cpus = ray.cluster_resources().get("CPU", 0.0)
        return f" on Ray ({nodes} node{'' if nodes == 1 else 's'}, {cpus:g} CPUs)"

    def _launch(self) -> None:
        cfg = self.config
        self.recorder = EpisodeRecorder(self.run, self.task.env_id, cfg, self.start, self.best_eval)
        # One CPU per worker makes Ray spread the workers over the cluster's cores; with fewer cores
        # than workers they share them (Ray takes at most 4 decimals of a CPU).
        cpus = ray.cluster_resources().get("CPU", 1.0)
        per_worker = min(1.0, math.floor(1e4 * cpus / cfg.num_processes) / 1e4)
        # max_restarts=-1: Ray restarts a dead actor's process; the driver counts the restarts
        # against --max-restarts and stops the run past them.
        workers = ray.remote(RolloutWorker)
        for rank in range(cfg.num_processes):
            name = worker_name(rank)
            options = {"num_cpus": per_worker, "max_restarts": -1, "name": self.actor_name(name)}
            self.actors[name] = workers.options(**options).remote(rank, self.task, self.actor_name(PARAMETER_SERVER))
        options = {"num_cpus": 0, "max_restarts": -1, "name": self.actor_name(EVALUATOR), "scheduling_strategy": _on_this_node()}
        self.actors[EVALUATOR] = ray.remote(Evaluator).options(**options).remote(self.task)
        self.launched_at = time.monotonic()
        for name in self.actors:
            self._call(name, "start")

    def _call(self, name: str, method: str) -> None:
        actor = self.actors[name]
        if method == "start":
            ref = actor.start.remote(self._child_config(name))
        elif method == "train_for":
            ref = actor.train_for.remote(SLICE_S)
        else:
            assert self.recorder is not None
            if self.eval_refs is None or self.recorder.starts_round:  # a round plays one weights copy
                self.eval_refs = self.server.weights.options(num_returns=2).remote()
            ref = actor.play.remote(self.eval_refs[0])  # the weights go from the server to the evaluator directly
        self.pending[ref] = (name, method)

    def _poll(self) -> bool:
        self._refresh_step()
        self._collect()
        if self.failure:
            return False
        for name, at in list(self.start_again_at.items()):
            if time.monotonic() >= at:
                del self.start_again_at[name]
                self._call(name, "start")
        if self.held and (self.evaluator_ready or time.monotonic() - self.launched_at > EVALUATOR_READY_TIMEOUT_S):
            for name in sorted(self.held):
                self._call(name, "train_for")
            self.held.clear()
        evaluating = any(name == EVALUATOR for name, _ in self.pending.values())
        if self.evaluator_ready and not evaluating and time.monotonic() >= self.next_eval_at:
            self._call(EVALUATOR, "play")
        return len(self.finished) < self.config.num_processes

    def _refresh_step(self) -> None:
        """Ask the server for the global step about every POLL_INTERVAL_S; this also notices a dead server."""
        if self.step_ref is not None:
            if not ray.wait([self.step_ref], timeout=0)[0]:
                return
            try:
                self._step = max(self._step, ray.get(self.step_ref))
            except RayError as error:
                self.step_ref = None
                self.failure = f"the parameter server died ({_reason(error)})"
                return
            self.step_ref = None
        if time.monotonic() - self.step_asked_at >= POLL_INTERVAL_S:
            self.step_ref, self.step_asked_at = self.server.global_step.remote(), time.monotonic()

    def _collect(self) -> None:
        """Handle every call that has finished."""
        if not self.pending:
            return
        ready, _ = ray.wait(list(self.pending), num_returns=len(self.pending), timeout=0)
        for ref in ready:
            name, method = self.pending.pop(ref)
            try:
                value = ray.get(ref)
            except ActorUnavailableError as error:
                if method == "start":  # Ray is restarting the actor's process: try again shortly
                    self.start_again_at[name] = time.monotonic() + POLL_INTERVAL_S
                else:  # a call in flight when the process was restarted (or its node unreachable)
                    self._died(name, error)
                continue
            except RayError as error:
                self._died(name, error)
                continue
            if method == "start":
                self.nodes[name] = value
                self._started(name)
            elif method == "train_for":
                self._trained(name, value)
            else:
                self._evaluated(value)

    def _started(self, name: str) -> None:
        if self.stopping:
            return
        if name == EVALUATOR:
            self.evaluator_ready = True
        elif self.evaluator_ready or time.monotonic() - self.launched_at > EVALUATOR_READY_TIMEOUT_S:
            self._call(name, "train_for")
        else:
            self.held.add(name)

    def _trained(self, name: str, work: WorkSlice) -> None:
        report = work.report
        if report.has_news:
            self.inbox.append(report)
        self._step = max(self._step, work.global_step)
        self.slices[name] = self.slices.get(name, 0) + 1
        self.compute_s += work.compute_s
        self.wait_s += work.wait_s
        if work.gave_up:
            self.failure, self.failed_child = nonfinite_failure(name, self.config), name
        elif work.global_step >= self.config.max_steps:
            self.finished.add(name)
        elif not self.stopping:
            self._call(name, "train_for")

    def _evaluated(self, result: EpisodeResult) -> None:
        assert self.eval_refs is not None and self.model is not None and self.recorder is not None
        weights_ref, step_ref = self.eval_refs
        if self.stopping:  # the local evaluator abandons its episode when the run stops
            return
        set_flat_parameters(self.model, ray.get(weights_ref))
        self.inbox.append(self.recorder.record(result, self.model, ray.get(step_ref), self.global_step))
        self.next_eval_at = time.monotonic() + self.config.eval_interval_s

    def _died(self, name: str, error: RayError) -> None:
        """Restart a child whose call failed, within ``max_restarts``, as the local backend does."""
        if self.stopping:
            return
        cfg = self.config
        if name == EVALUATOR:
            self.evaluator_ready, self.eval_refs = False, None
            if self.recorder is not None:
                self.recorder.abandon_round()
        reason = _reason(error)
        if not isinstance(error, RayActorError):
            # The remote traceback, as a local child prints its own (without Ray's colour codes).
            traceback = str(getattr(error, "traceback_str", None) or error)
            print(re.sub(r"\x1b\[[0-9;]*m", "", traceback), file=sys.stderr, flush=True)
        if self.restarts.get(name, 0) >= cfg.max_restarts:
            self.failure, self.failed_child = f"{name} died ({reason}) after {cfg.max_restarts} restarts", name
            return
        self.restarts[name] = self.restarts.get(name, 0) + 1
        self._log(f"{name} died ({reason}) at step {self.global_step:,}; restarting it ({self.restarts[name]}/{cfg.max_restarts})")
        if not isinstance(error, RayActorError):
            # The exception left the actor alive in an unknown state: give it a fresh process, as a
            # local worker that raised gets.
            ray.kill(self.actors[name], no_restart=False)
        self._call(name, "start")

    def _wait(self) -> None:
        """Until a call finishes or POLL_INTERVAL_S passes: a worker's next slice starts at once."""
        if self.pending:
            ray.wait(list(self.pending), num_returns=1, timeout=POLL_INTERVAL_S)
        else:
            time.sleep(POLL_INTERVAL_S)

    def _messages(self) -> list[WorkerReport | EvalReport]:
        messages, self.inbox = self.inbox, []
        return messages

    def _snapshot(self) -> tuple[nn.Module, dict[str, Any] | None, int] | None:
        assert self.model is not None
        try:
            weights, optimizer_state, step = ray.get(self.server.state.remote())
        except RayError as error:
            self._log(f"cannot reach the parameter server ({_reason(error)}); keeping the last latest checkpoint")
            return None
        set_flat_parameters(self.model, weights)
        self._step = max(self._step, step)
        return self.model, optimizer_state, step

    def _stop_all(self) -> list[str]:
        """Let the slices in flight end (within SLICE_S), keeping their reports, then stop every actor
        but the parameter server, which the last checkpoint still needs."""
        self.stopping = True
        self.start_again_at.clear()
        deadline = time.monotonic() + JOIN_TIMEOUT_S
        while any(method == "train_for" for _, method in self.pending.values()) and time.monotonic() < deadline:
            self._wait()
            self._collect()
        forced = sorted({name for name, method in self.pending.values() if method == "train_for"})
        self.pending.clear()
        for actor in self.actors.values():
            _kill(actor)
        return forced

    def _exit_codes(self) -> dict[str, int | None]:
        return {name: 1 if name == self.failed_child else 0 for name in self.actors}

    def _log_server_stats(self) -> None:
        """How busy the parameter server was: the number that says whether more workers would help."""
        self.server_stats = ray.get(self.server.stats.remote())
        busy = self.server_stats["busy_s"] / max(self.server_stats["uptime_s"], 1e-9)
        waiting = self.wait_s / max(self.wait_s + self.compute_s, 1e-9)
        self._log(
            f"parameter server: {int(self.server_stats['updates']):,} updates, busy {busy:.0%} of the time; "
            f"workers spent {waiting:.0%} of their time waiting for it"
        )

    def _disconnect(self) -> None:
        for actor in [*self.actors.values(), self.server]:
            if actor is not None:
                _kill(actor)
        if self.connected:
            ray.shutdown()
            self.connected = False


__all__ = ["Evaluator", "ParameterServer", "RayTrainer", "RolloutWorker", "WorkSlice", "connect"]
