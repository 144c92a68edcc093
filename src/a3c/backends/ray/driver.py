"""The Ray backend's driver: :class:`RayRun` and joining or starting a Ray cluster.

:class:`RayRun` gives the run the local backend's run dir, checkpoints, metrics, TensorBoard,
progress display and resume (:class:`a3c.backends.base.TrainingRun`). It asks each worker actor for
slices of training, hands the evaluator the server's weights, and alone writes files, so the
actors may run on any node.
"""

from __future__ import annotations

import logging
import math
import os
import re
import socket
import time
import uuid
from pathlib import Path
from typing import Any

import ray
from ray.exceptions import ActorUnavailableError, RayActorError, RayError
from torch import nn

from a3c.algorithm.config import TrainConfig, available_cpus
from a3c.algorithm.evaluation import EpisodeResult
from a3c.algorithm.task import Task
from a3c.backends.base import (
    EVALUATOR,
    JOIN_TIMEOUT_S,
    POLL_INTERVAL_S,
    TrainingRun,
    TrainResult,
    hang_limit,
    nonfinite_failure,
    worker_name,
)
from a3c.backends.ray.actors import (
    PARAMETER_SERVER,
    SLICE_S,
    Evaluator,
    ParameterServer,
    RolloutWorker,
    WorkSlice,
    set_flat_parameters,
)
from a3c.errors import UserError
from a3c.runtime.eval_log import EvaluationLog
from a3c.runtime.messages import Message
from a3c.runtime.run_dir import ERRORS_LOG
from a3c.runtime.shared import EVALUATOR_READY_TIMEOUT_S
from a3c.runtime.signals import sigint_ignored


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
        with sigint_ignored():
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


class RayRun(TrainingRun):
    """The Ray backend's driver. Same arguments as :class:`a3c.backends.local.LocalRun`, plus ``address``:
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
        self.called_at: dict[Any, float] = {}
        """When each pending call was made: a call outstanding far past its due is a hung actor."""
        """Calls in flight: object ref -> (child name, method)."""
        self.inbox: list[Message] = []
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
        self.next_eval_step = 0
        """With ``eval_interval_steps``: the global step the next round waits for."""
        self.launched_at = 0.0
        self.step_ref: Any = None
        self.step_asked_at = 0.0
        self._step = 0
        self.stopping = False
        self.server_lost = False
        """The parameter server died: its weights and moments are gone, the last checkpoint stays."""
        self.evaluations: EvaluationLog | None = None
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
        self.evaluations = EvaluationLog(self.run, self.task.env_id, cfg, self.start, self.best_eval)
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
            assert self.evaluations is not None
            self.eval_refs = self.server.weights.options(num_returns=2).remote()  # a round plays one weights copy
            ref = actor.play.remote(self.eval_refs[0])  # the weights go from the server to the evaluator directly
        self.pending[ref] = (name, method)
        self.called_at[ref] = time.monotonic()

    def _poll(self) -> bool:
        self._refresh_step()
        self._collect()
        self._check_hung()
        if self.failure:
            return False
        for name, at in list(self.start_again_at.items()):
            if time.monotonic() >= at:
                del self.start_again_at[name]
                self._call(name, "start")
        if self.held and self._may_train():
            for name in sorted(self.held):
                self._call(name, "train_for")
            self.held.clear()
        evaluating = any(name == EVALUATOR for name, _ in self.pending.values())
        if self.evaluator_ready and not evaluating and time.monotonic() >= self.next_eval_at and self._step >= self.next_eval_step:
            self._call(EVALUATOR, "play")
        return len(self.finished) < self.config.num_processes

    def _server_lost_because(self) -> str | None:
        """Why the parameter server is gone, or None while it answers."""
        try:
            ray.get(self.server.global_step.remote(), timeout=30)
        except RayError as error:
            return _reason(error)
        return None

    def _check_hung(self) -> None:
        """Kill and restart an actor whose call is outstanding far past its due: a training slice
        is due after SLICE_S, a greedy episode has the evaluator's hang limit."""
        now = time.monotonic()
        for ref, (name, method) in list(self.pending.items()):
            if method == "start":
                continue
            due = hang_limit(name, self.config) + (SLICE_S if method == "train_for" else 0.0)
            silent = now - self.called_at[ref]
            if silent <= due:
                continue
            del self.pending[ref], self.called_at[ref]
            if name == EVALUATOR:
                self.eval_refs = None
            ray.kill(self.actors[name], no_restart=False)  # Ray starts it a fresh process
            if not self._restart_or_fail(name, f"hung (no reply for {silent:.0f} s; killed)"):
                self.failed_child = name
                return
            self._call(name, "start")

    def _refresh_step(self) -> None:
        """Ask the server for the global step about every POLL_INTERVAL_S; this also notices a dead server."""
        if self.step_ref is not None:
            if not ray.wait([self.step_ref], timeout=0)[0]:
                return
            try:
                self._step = max(self._step, ray.get(self.step_ref))
            except RayError as error:
                self.step_ref = None
                # Its weights and moments are gone with it: the run stops, and the last checkpoint
                # (written from the server while it lived) is what a resume continues from.
                self.failure = f"the parameter server died ({_reason(error)})"
                self.server_lost = True
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
            self.called_at.pop(ref, None)
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

    def _may_train(self) -> bool:
        """Whether started workers may train: once the evaluator is ready, as local workers wait."""
        return self.evaluator_ready or time.monotonic() - self.launched_at > EVALUATOR_READY_TIMEOUT_S

    def _started(self, name: str) -> None:
        if self.stopping:
            return
        if name == EVALUATOR:
            self.evaluator_ready = True
        elif self._may_train():
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

    def _evaluated(self, results: list[EpisodeResult]) -> None:
        assert self.eval_refs is not None and self.model is not None and self.evaluations is not None
        weights_ref, step_ref = self.eval_refs
        if self.stopping:  # the local evaluator abandons its round when the run stops
            return
        set_flat_parameters(self.model, ray.get(weights_ref))
        weights_step = ray.get(step_ref)
        self.inbox.extend(self.evaluations.add_round(results, self.model, weights_step, self.global_step))
        if self.config.eval_interval_steps is not None:
            self.next_eval_step = weights_step + self.config.eval_interval_steps
        else:
            self.next_eval_at = time.monotonic() + self.config.eval_interval_s

    def _died(self, name: str, error: RayError) -> None:
        """Restart a child whose call failed, within ``max_restarts``, as the local backend does."""
        if self.stopping:
            return
        if name == EVALUATOR:
            self.evaluator_ready, self.eval_refs = False, None
        elif (lost := self._server_lost_because()) is not None:
            # A worker's call fails when the server it sends to has died: that is the cause to report.
            self.failure, self.server_lost = f"the parameter server died ({lost})", True
            return
        reason = _reason(error)
        if not isinstance(error, RayActorError):
            # One line here; the remote traceback (without Ray's colour codes) goes to the run dir.
            traceback = re.sub(r"\x1b\[[0-9;]*m", "", str(getattr(error, "traceback_str", None) or error))
            with (self.run.path / ERRORS_LOG).open("a") as log:
                log.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {name} at step {self.global_step:,}:\n{traceback}\n")
            reason += f"; traceback in {self.run.path / ERRORS_LOG}"
        if not self._restart_or_fail(name, f"died ({reason})"):
            self.failed_child = name
            return
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

    def _messages(self) -> list[Message]:
        messages, self.inbox = self.inbox, []
        return messages

    def _snapshot(self) -> tuple[nn.Module, dict[str, Any] | None, int] | None:
        assert self.model is not None
        try:
            weights, optimizer_state, step = ray.get(self.server.state.remote())
        except RayError as error:
            self._warn(f"cannot reach the parameter server ({_reason(error)}); keeping the last latest checkpoint")
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
