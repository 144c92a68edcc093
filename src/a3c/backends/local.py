"""The local backend: Hogwild! processes on this machine, one model in shared memory.

:class:`LocalRun` starts the evaluation process and one process per worker (from a forkserver,
one thread each; :func:`a3c.runtime.shared.process_context`), watches their exit codes and restarts the dead. :func:`worker_main` and
:func:`evaluator_main` are the children's entry points.
"""

from __future__ import annotations

import time
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from torch import nn

from a3c.algorithm.config import TrainConfig
from a3c.algorithm.evaluation import build_evaluator, play_greedy_round
from a3c.algorithm.optim import worker_optimizer
from a3c.algorithm.task import Task
from a3c.algorithm.worker import Worker, build_envs_and_model, worker_class
from a3c.backends.base import (
    EVALUATOR,
    JOIN_TIMEOUT_S,
    TrainingRun,
    child_names,
    hang_limit,
    nonfinite_failure,
)
from a3c.errors import StorageError, free_space
from a3c.runtime.eval_log import EvaluationLog
from a3c.runtime.messages import Message, StorageReport, WorkerReporter, drain, report_interval, send
from a3c.runtime.run_dir import RunDir
from a3c.runtime.shared import SharedState, continue_when_orphaned, process_context
from a3c.runtime.signals import sigint_ignored, unblock_sigint


def build_worker(rank: int, config: TrainConfig, task: Task, shared: SharedState) -> Worker:
    """Everything a worker process builds for itself, seeded with ``seed + rank``."""
    env, local_model = build_envs_and_model(rank, config, task)
    optimizer = worker_optimizer(config.optimizer, config.lr, shared.model.parameters(), shared.optimizer)
    link = shared.worker_link(rank, config.max_steps)
    return worker_class(config)(config, env, local_model, link, optimizer)


#: Exit code of a worker that met ``max_nonfinite_updates`` non-finite updates in a row.
EXIT_NONFINITE = 3
#: Exit code of the evaluator when a write to the run dir failed (``metrics.csv``, ``best.pt``).
EXIT_STORAGE = 4


def worker_main(rank: int, config: TrainConfig, task: Task, shared: SharedState) -> None:
    """Entry point of a training process. Runs until ``max_steps`` or the stop event."""
    unblock_sigint()
    continue_when_orphaned()
    worker = build_worker(rank, config, task, shared)
    reporter = WorkerReporter(rank, shared.events, interval_s=report_interval(config))
    shared.wait_for_evaluator(rank)
    try:
        if not worker.run(reporter.record):
            raise SystemExit(EXIT_NONFINITE)
    finally:
        reporter.flush()
        worker.env.close()


def evaluator_main(
    rank: int,
    config: TrainConfig,
    task: Task,
    shared: SharedState,
    run_dir: str,
    start_time: float,
    best_reward: float | None = None,
) -> None:
    """Entry point of the evaluation process: copy the weights, play a round of greedy episodes
    side by side with them, log each, pause (``eval_interval_s``) or wait for the run to train
    ``eval_interval_steps`` past those weights; again until the run stops."""
    unblock_sigint()
    continue_when_orphaned()
    envs, model, seeds = build_evaluator(rank, config, task)
    evaluations = EvaluationLog(RunDir(run_dir), task.env_id, config, start_time, best_reward)
    shared.mark_evaluator_ready()
    slot = shared.evaluator_slot

    def should_stop() -> bool:  # asked at every step of a round: the evaluator's heartbeat
        shared.beat(slot)
        return shared.should_stop(config.max_steps)

    try:
        while not should_stop():
            model.load_state_dict(shared.model.state_dict())
            weights_step = shared.global_step
            results = play_greedy_round(model, envs, config.max_episode_length, config.stuck_guard, should_stop=should_stop, seeds=seeds)
            if results is None:
                break
            try:
                for report in evaluations.add_round(results, model, weights_step, shared.global_step):
                    send(shared.events, report)
            except StorageError as error:  # the trainer says why, in one line
                send(shared.events, StorageReport(str(error)))
                shared.events.close()
                shared.events.join_thread()  # delivered before the exit code is seen
                raise SystemExit(EXIT_STORAGE) from None
            if config.eval_interval_steps is not None:
                shared.wait_for_step(weights_step + config.eval_interval_steps, slot, config.max_steps)
            elif config.eval_interval_s > 0:
                shared.sleep(config.eval_interval_s, slot)
    finally:
        for env in envs:
            env.close()


#: Seconds a child may take to start (imports where it is spawned, envs) before its first heartbeat.
STARTUP_LIMIT_S = 120.0


class LocalRun(TrainingRun):
    """The local backend: the evaluator and the workers are processes on this machine that
    update one model in shared memory without a lock (Hogwild!)."""

    def __init__(self, config: TrainConfig, run_dir: str | Path | None = None, task: Task | None = None, **kwargs: Any) -> None:
        super().__init__(config, run_dir, task, **kwargs)
        self.ctx = process_context(preload=[__name__])
        self.children: dict[str, BaseProcess] = {}
        self.started_beat: dict[str, float] = {}
        """The heartbeat the trainer wrote for each child as it started it: a child that has not beaten
        since is still starting up (imports, envs), which gets :data:`STARTUP_LIMIT_S`."""
        self.ended_starting: set[str] = set()
        """Children the stop found still starting up, and ended: not a fault."""
        self.held: list[Message] = []
        """Reports read off the queue while children were being stopped, for the next report."""

    @property
    def global_step(self) -> int:
        return self.shared.global_step

    def _start(self, resumed: dict[str, Any] | None) -> None:
        model, optimizer, start_step = self._build_model(resumed)
        self.shared = SharedState.create(model, optimizer, self.ctx, start_step=start_step, slots=self.config.num_processes)

    def _snapshot(self) -> tuple[nn.Module, dict[str, Any] | None, int]:
        shared = self.shared
        optimizer_state = shared.optimizer.state_dict() if shared.optimizer is not None else None
        return shared.model, optimizer_state, shared.global_step

    def _launch(self) -> None:
        # The evaluator first: workers wait until it is ready, so even a short run is evaluated.
        for name in child_names(self.config.num_processes):
            self._start_child(name)

    def _start_child(self, name: str) -> BaseProcess:
        """Start (or restart) one child."""
        cfg, shared = self.config, self.shared
        child_cfg = self._child_config(name)
        if name == EVALUATOR:
            target: Any = evaluator_main
            args: tuple = (cfg.num_processes, child_cfg, self.task, shared, str(self.run.path), self.start, self.best_eval)
        else:
            target, args = worker_main, (int(name.rsplit("-", 1)[1]), child_cfg, self.task, shared)
        process = self.ctx.Process(target=target, args=args, name=name, daemon=True)
        shared.beat(self._slot(name))
        self.started_beat[name] = shared.heartbeats[self._slot(name)]
        with sigint_ignored(hold=True):
            process.start()
        self.children[name] = process
        return process

    def _stop_all(self) -> list[str]:
        self.shared.request_stop()
        processes = list(self.children.values())
        deadline = time.monotonic() + JOIN_TIMEOUT_S
        for process in processes:
            # A child exits only once its queued reports are all in the pipe: read them while
            # waiting, or a full pipe holds it (an evaluator without pause fills one in seconds)
            # until it is killed as "did not stop".
            while process.is_alive() and time.monotonic() < deadline:
                self.held.extend(drain(self.shared.events))
                process.join(timeout=0.05)
        forced = []
        for process in processes:
            if process.is_alive():
                # One still starting up (imports, envs on a loaded machine) has not reached
                # the loop that sees the stop; it trained nothing, so ending it is no fault.
                if self._starting(process.name):
                    self.ended_starting.add(process.name)
                else:
                    forced.append(process.name)
                process.terminate()
                process.join(timeout=2.0)
            if process.is_alive():
                process.kill()
                process.join()
        return forced

    def _child_problems(self, forced: list[str]) -> list[str]:
        ended = set(forced) | self.ended_starting
        return [f"{p.name} (exit code {p.exitcode})" for p in self.children.values() if p.exitcode not in (0, None) and p.name not in ended]

    def _exit_codes(self) -> dict[str, int | None]:
        return {p.name: p.exitcode for p in self.children.values()}

    def _poll(self) -> bool:
        if not self._check_children():
            return False
        workers = [p for name, p in self.children.items() if name != EVALUATOR]
        return any(p.is_alive() for p in workers)

    def _starting(self, name: str) -> bool:
        """True for a child that has not sent a heartbeat since it was started."""
        return self.shared.heartbeats[self._slot(name)] == self.started_beat.get(name)

    def _slot(self, name: str) -> int:
        return self.shared.evaluator_slot if name == EVALUATOR else int(name.rsplit("-", 1)[1])

    def _check_children(self) -> bool:
        """Restart children that died or hung, within ``max_restarts``; False when the run must stop."""
        cfg = self.config
        for name, process in list(self.children.items()):
            code = process.exitcode
            if code is None:
                slot = self._slot(name)
                silent = self.shared.silent_for(slot)
                starting = self._starting(name)
                if silent <= max(hang_limit(name, cfg), STARTUP_LIMIT_S if starting else 0.0):
                    continue
                # Alive but silent: deadlocked, stuck in an env, or stopped (SIGSTOP). SIGKILL ends
                # even a stopped process; its restart goes the way of a dead child's.
                process.kill()
                process.join()
                if not self._restart_or_fail(name, f"hung (no heartbeat for {silent:.0f} s; killed)"):
                    return False
                self._start_child(name)
                continue
            if code == 0:
                continue
            if code == EXIT_NONFINITE:
                self.failure = nonfinite_failure(name, cfg)
                return False
            if code == EXIT_STORAGE:
                self._report()  # its StorageReport says which write failed, and why
                self._storage_failed(f"{name} could not write to {self.run.path}: the disk is full or failing ({free_space(self.run.path)} free)")
                return False
            if not self._restart_or_fail(name, f"died (exit code {code})"):
                return False
            self._start_child(name)
        return True

    def _messages(self) -> list[Message]:
        held, self.held = self.held, []
        return held + drain(self.shared.events)
