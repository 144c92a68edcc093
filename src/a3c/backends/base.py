"""The training run, whatever trains it: :class:`TrainingRun`.

The parent process does no training. It polls its children, writes the ``latest`` checkpoint
periodically and at the end, turns the children's reports into logs, restarts a child that died
(up to ``max_restarts``), and otherwise stops everything, so a dead worker can never leave the
run hanging. A run can be resumed from its ``latest`` checkpoint.

A backend subclass (:class:`a3c.backends.local.LocalRun`, :class:`a3c.backends.ray.driver.RayRun`)
provides the hooks at the end of :class:`TrainingRun`: where the model lives, and how the
workers and the evaluator are started, watched and stopped.
"""

from __future__ import annotations

import dataclasses
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.optim import Optimizer

from a3c.algorithm.config import TrainConfig
from a3c.algorithm.optim import make_optimizer
from a3c.algorithm.seeding import seed_process
from a3c.algorithm.task import Task, atari_task
from a3c.errors import StorageError, UserError
from a3c.runtime.checkpoint import (
    capture_rng_states,
    load_checkpoint,
    make_checkpoint,
    restore_rng_states,
    save_checkpoint,
)
from a3c.runtime.messages import EvalReport, Message, StorageReport, eval_line
from a3c.runtime.progress import Progress, format_elapsed
from a3c.runtime.run_dir import RunDir, default_run_dir
from a3c.runtime.signals import StopSignals, Terminated
from a3c.runtime.training_log import TrainingLog

POLL_INTERVAL_S = 0.2


JOIN_TIMEOUT_S = 10.0


class TrainingFailed(RuntimeError):
    """A worker or the evaluator exited with an error; the run was stopped and checkpointed."""


@dataclass
class TrainResult:
    run_dir: Path
    global_step: int
    wall_time_s: float
    latest_checkpoint: Path
    best_checkpoint: Path | None
    exit_codes: dict[str, int | None]
    """Exit code of every child process, by name (Ray: 0 for an actor that ended normally, 1 for
    the one that stopped the run)."""
    step_samples: list[tuple[float, int]]
    """(seconds since start, global step), sampled about every 0.2 s."""
    evaluator_cpu_share: float | None = None
    """The evaluator's share of the CPU time that the workers and the evaluator used."""


EVALUATOR = "a3c-evaluator"


def worker_name(rank: int) -> str:
    return f"a3c-worker-{rank}"


def child_names(num_processes: int) -> list[str]:
    """Every child of a run, the evaluator first (workers wait until it is ready)."""
    return [EVALUATOR, *(worker_name(rank) for rank in range(num_processes))]


def hang_limit(name: str, config: TrainConfig) -> float:
    """Seconds child ``name`` may go without a heartbeat before it counts as hung: the evaluator
    gets twice a worker's ``heartbeat_timeout_s``."""
    return config.heartbeat_timeout_s * (2 if name == EVALUATOR else 1)


def nonfinite_failure(name: str, config: TrainConfig) -> str:
    return f"{name} met {config.max_nonfinite_updates} updates in a row with a non-finite loss or gradient (none was applied)"


def _load_weights(model: nn.Module, optimizer: Optimizer | None, checkpoint: dict[str, Any], failure: str) -> None:
    """Load a checkpoint's weights (and its optimiser statistics, when ``optimizer`` is given and
    they were saved) into a fresh model; a mismatch is one clear line."""
    try:
        model.load_state_dict(checkpoint["model"])
        if optimizer is not None and checkpoint.get("optimizer") is not None:
            optimizer.load_state_dict(checkpoint["optimizer"])
    except (RuntimeError, ValueError, KeyError) as error:
        raise UserError(f"{failure} {checkpoint['path']!r}: it does not match this run's network ({str(error).splitlines()[0]})") from None


class TrainingRun:
    """One training run, whatever trains it. A backend subclass provides the hooks at the end:
    building the model's home (shared memory, a parameter server), starting and watching the
    workers and the evaluator, their reports, snapshots for checkpoints, and stopping."""

    backend = "local"
    """Recorded in ``config.yaml``'s header; a run may be resumed with either backend."""

    def __init__(
        self,
        config: TrainConfig,
        run_dir: str | Path | None = None,
        task: Task | None = None,
        force: bool = False,
        quiet: bool = False,
        progress_interval_s: float = 30.0,
        resume: bool = False,
    ) -> None:
        """``resume=True`` continues the run in ``run_dir`` from its ``latest`` checkpoint: the
        step counter, weights, optimiser statistics, best evaluation and wall clock carry on,
        and the metrics files are appended to."""
        self.config = config.validate()
        self.task = task or atari_task(config.env_name, config.sticky, config.noop_max, config.frames)
        if resume and run_dir is None:
            raise UserError("resuming needs the run dir to continue")
        self.round_note: str | None = None
        """Why a deterministic game's evaluation rounds are one episode, for the first log lines."""
        if self.task.deterministic and self.config.eval_episodes > 1 and not resume:  # a resumed run keeps its rounds
            # Every episode of a round would replay one game: in PongDeterministic-v4 runs, rounds
            # of 5 identical scores, 4 of them costing the evaluator's share of the CPU for nothing.
            self.round_note = (
                f"{self.task.env_id} has no sticky actions or no-op starts, so every greedy episode of one weights copy "
                f"is the same game: each evaluation round plays 1 episode, not {self.config.eval_episodes}"
            )
            self.config = dataclasses.replace(self.config, eval_episodes=1)
        self.run = RunDir(run_dir or default_run_dir(self.task.env_id))
        # Read before anything is written, so that a missing or unreadable file costs nothing.
        self.initial = load_checkpoint(config.init_from) if config.init_from is not None and not resume else None
        """The checkpoint a fresh run starts from (``init_from``)."""
        if self.initial is not None:
            frames = (self.initial.get("config") or {}).get("frames", "seed")
            if frames != config.frames:
                raise UserError(f"{self.initial['path']!r} was trained on {frames} frames; pass --frames {frames} to start from it")
        self.force = force
        self.quiet = quiet
        self.resume = resume
        self.progress_interval_s = progress_interval_s
        self.step_samples: list[tuple[float, int]] = []
        """(seconds since start, global step), sampled by the watch loop, for throughput figures."""
        self.progress = Progress(config.max_steps, quiet=True)
        self.restarts: dict[str, int] = {}
        self.starts: dict[str, int] = {}
        """Each child's starts over the whole run, resumes included; picks its seeds."""
        self.failure: str | None = None
        """Why the watch loop gave up on the run, if it did."""
        self.segment = 0
        """How many times this run was resumed before; shifts the children's seeds."""
        self.signals = StopSignals()
        self.storage_failed = False
        """A write to the run dir failed (full disk, I/O error): stop, and write nothing more."""
        self.best_eval: float | None = None
        self.cpu_s: dict[str, float] = {}
        """CPU seconds reported by the workers (``workers``) and the evaluator, this invocation."""
        self.start = 0.0
        """Unix time at which the run's wall clock reads 0 (earlier than now when resuming)."""
        self.start_step = 0
        """Global step at which this invocation started."""
        self.invocation_start = 0.0
        """Unix time at which this invocation started (``--max-seconds`` counts from it)."""

    def _log(self, message: str) -> None:
        self.progress.log(f"[a3c] {message}")

    def _warn(self, message: str) -> None:
        """A fault the run got over (``--quiet`` still shows it)."""
        self.progress.log(f"[a3c] {message}", warning=True)

    def _build_model(self, resumed: dict[str, Any] | None) -> tuple[nn.Module, Optimizer | None, int]:
        """The run's model and optimiser (None with ``--no-shared``) and its global step: fresh, or
        as ``resumed`` left them (the trainer's RNG states too)."""
        cfg = self.config
        seed_process(cfg.seed)
        probe_env = self.task.make_env(cfg.seed)
        model = self.task.make_model(probe_env)
        probe_env.close()
        optimizer = None if cfg.no_shared else make_optimizer(cfg.optimizer, model.parameters(), cfg.lr)
        start_step = 0
        if resumed is not None:
            _load_weights(model, optimizer, resumed, "cannot resume from")
            start_step = int(resumed["global_step"])
            if "rng" in resumed.get("run_state", {}):
                restore_rng_states(resumed["run_state"]["rng"])
        elif self.initial is not None:
            same_optimizer = self.initial.get("config", {}).get("optimizer", "adam") == cfg.optimizer
            _load_weights(model, optimizer if same_optimizer else None, self.initial, "cannot start from")
        return model, optimizer, start_step

    def _save_latest(self) -> Path | None:
        """Checkpoint the run, unless its weights are no longer finite (or cannot be had): then the
        last good ``latest`` stays as it is and None is returned."""
        snapshot = self._snapshot()
        if snapshot is None:
            return None
        model, optimizer_state, global_step = snapshot
        if not all(bool(torch.isfinite(p).all()) for p in model.parameters()):
            self._warn("the shared weights are not finite; keeping the last good latest checkpoint")
            return None
        run_state = {
            "best_eval_reward": self.best_eval,
            "wall_time_s": time.time() - self.start,
            "segment": self.segment,
            "starts": dict(self.starts),
            "rng": capture_rng_states(),
        }
        checkpoint = make_checkpoint(
            model,
            env_id=self.task.env_id,
            global_step=global_step,
            config=self.config.to_dict(),
            optimizer_state=optimizer_state,
            run_state=run_state,
        )
        return save_checkpoint(checkpoint, self.run.latest_path)

    def _restart_or_fail(self, name: str, what: str) -> bool:
        """A child died or hung (``what``: "died (exit code 1)", "hung (no heartbeat for 61 s;
        killed)", or Ray's reason). Within ``max_restarts``, count and log a restart and return True:
        the backend restarts it. Past them, set the run's failure and return False: the run stops."""
        cfg = self.config
        if self.restarts.get(name, 0) >= cfg.max_restarts:
            self.failure = f"{name} {what} after {cfg.max_restarts} restarts"
            return False
        self.restarts[name] = self.restarts.get(name, 0) + 1
        self._warn(f"{name} {what} at step {self.global_step:,}; restarting it ({self.restarts[name]}/{cfg.max_restarts})")
        return True

    def _child_config(self, name: str) -> TrainConfig:
        """The config a child starts (or restarts) with; the backends call it once per start.

        Generation g of child rank r is seeded with ``seed + g * (num_processes + 1) + r``, and g
        counts that child's starts over the whole run (kept in the checkpoint's run state), so no
        two starts of any segment or restart share a seed and a restarted worker does not replay
        its episodes."""
        cfg = self.config
        generation = self.starts.get(name, 0)
        self.starts[name] = generation + 1
        self.run.save_starts(self.starts)  # now, not with the next checkpoint: a kill -9 may come first
        return dataclasses.replace(cfg, seed=cfg.seed + generation * (cfg.num_processes + 1)) if generation else cfg

    def _load_resume_point(self) -> dict[str, Any]:
        if not self.run.config_path.is_file():
            raise UserError(f"cannot resume {str(self.run.path)!r}: it holds no config.yaml (is it a run dir?)")
        if not self.run.latest_path.is_file():
            raise UserError(f"cannot resume {str(self.run.path)!r}: no {self.run.latest_path.relative_to(self.run.path)} to continue from")
        resumed = load_checkpoint(self.run.latest_path)
        if resumed["env_id"] != self.task.env_id:
            raise UserError(f"cannot resume: {resumed['path']!r} holds a {resumed['env_id']} agent, not {self.task.env_id}")
        if int(resumed["global_step"]) >= self.config.max_steps:
            raise UserError(
                f"the run already reached {int(resumed['global_step']):,} steps (--max-steps {self.config.max_steps:,}); "
                "pass a larger --max-steps to train on"
            )
        return resumed

    def _continue_from(self, run_state: dict[str, Any]) -> None:
        """Take up the run's bookkeeping from a checkpoint's run state: the next segment, the best
        score, and each child's starts so far (so that no seed is used twice)."""
        self.segment = int(run_state.get("segment", 0)) + 1
        self.best_eval = run_state.get("best_eval_reward")
        # Checkpoints from before starts were kept: one generation per earlier segment. Starts after the
        # checkpoint (a restart, then a kill -9) are in the run dir's own record.
        saved = self.run.load_starts()
        self.starts = {
            name: max(int(run_state.get("starts", {}).get(name, self.segment)), saved.get(name, 0))
            for name in child_names(self.config.num_processes)
        }

    def train(self) -> TrainResult:
        cfg = self.config
        resumed = None
        if self.resume:
            resumed = self._load_resume_point()
            run_state = resumed.get("run_state", {})
            self._continue_from(run_state)
            elapsed_before = float(run_state.get("wall_time_s", 0.0))
            resumed_step = int(resumed["global_step"])
            rolled_back = self.run.roll_back_metrics(resumed_step)
        else:
            self.run.create(force=self.force)
            self.run.write_config(cfg, extra={"a3c run": self.task.env_id, "backend": self.backend, "torch": torch.__version__})
            elapsed_before = 0.0
            rolled_back, resumed_step = None, 0
        self.run.start_metrics()
        self._start(resumed)
        self.start_step = self.global_step
        self.progress = Progress(cfg.max_steps, quiet=self.quiet, interval_s=self.progress_interval_s, initial_steps=self.global_step)
        self.log = TrainingLog(self.run.path, cfg.lr_at, interval_s=cfg.log_interval_s)
        invocation_start = self.invocation_start = time.time()
        self.start = invocation_start - elapsed_before  # the run's wall clock carries on across resumes
        if resumed is None:
            # A checkpoint at step 0, so that a run killed before its first interval can be resumed.
            self._save_latest()
        verb = f"resuming at step {self.global_step:,}" if resumed else "training"
        self._log(
            f"{verb} {self.task.env_id} with {cfg.num_processes} workers + 1 evaluator{self._where()} for "
            f"{cfg.max_steps:,} steps; run dir {self.run.path}"
        )
        if self.round_note is not None:
            self._log(self.round_note)
        if rolled_back is not None:
            self._log(f"metrics rows written after step {resumed_step:,} (training lost with the run's end) moved to {rolled_back}")
        if self.run.replaced is not None:
            self._log(f"--force: what the run dir held before is now in {self.run.replaced}")

        with self.signals:
            try:
                self._launch()
                self._watch(invocation_start)
                if self.signals.received is not None:
                    raise self.signals.as_exception()
                forced = self._stop_all()
            except StorageError as error:  # a child's start could not be recorded
                self._storage_failed(error)
                forced = self._stop_all()
            except (KeyboardInterrupt, Terminated):
                self._stop_all()
                path, _ = self._save_latest_or_keep()
                print(
                    f"[a3c] interrupted at step {self.global_step:,}; latest checkpoint saved to {path}; "
                    f"resume with: a3c train --resume {self.run.path}",
                    file=sys.stderr,
                    flush=True,
                )
                raise
            except BaseException:  # any other error: never leave children training on their own
                self._stop_all()
                raise
            finally:
                try:
                    self._report(final=True)
                    self.log.close()
                except StorageError as error:
                    self._storage_failed(error)
                self.progress.close()

        latest, saved = self._save_latest_or_keep()
        problems = [self.failure] if self.failure else []
        if not self.failure:
            problems += self._child_problems(forced)
        problems += [f"{name} (did not stop, killed)" for name in forced]
        if problems:
            kept = f"latest checkpoint saved to {latest};" if saved else f"the last good checkpoint is kept ({self._describe(latest)});"
            if self.storage_failed:
                kept += " free some space, then"
            raise TrainingFailed(f"{', '.join(problems)}; stopped at step {self.global_step:,}; {kept} resume with: a3c train --resume {self.run.path}")
        wall = time.time() - invocation_start
        steps_now = self.global_step - self.start_step
        share = self.evaluator_cpu_share
        evaluator = "" if share is None else f"; the evaluator took {share:.0%} of the children's CPU time"
        self._log(
            f"done: {self.global_step:,} steps, {steps_now:,} of them in {format_elapsed(wall)} "
            f"({steps_now / max(wall, 1e-9):.0f} steps/s){evaluator}; checkpoints in {self.run.checkpoint_dir}"
        )
        best = self.run.best_path if self.run.best_path.exists() else None
        return TrainResult(self.run.path, self.global_step, wall, latest, best, self._exit_codes(), self.step_samples, share)

    @property
    def evaluator_cpu_share(self) -> float | None:
        """The evaluator's share of the CPU time the children reported (None before any report)."""
        total = sum(self.cpu_s.values())
        return self.cpu_s.get(EVALUATOR, 0.0) / total if total > 0 else None

    def _storage_failed(self, error: StorageError | str) -> None:
        """A write to the run dir failed: the run stops, and writes nothing more (the last good
        checkpoint stays as it is)."""
        if not self.storage_failed:
            self.storage_failed = True
            self.failure = str(error)

    def _save_latest_or_keep(self) -> tuple[Path, bool]:
        """Save the final ``latest`` checkpoint, unless the disk already failed or fails now, or the
        weights cannot be had (non-finite, or with a dead parameter server): then the last good one
        stays. Returns its path, and whether it was saved now."""
        if not self.storage_failed:
            try:
                saved = self._save_latest()
                if saved is not None:
                    return saved, True
            except StorageError as error:
                self._storage_failed(error)
        return self.run.latest_path, False

    def _describe(self, path: Path) -> str:
        if not path.is_file():
            return "none was written yet"
        try:
            return f"{path}, step {int(load_checkpoint(path)['global_step']):,}"
        except UserError:
            return f"{path}, unreadable"

    def _watch(self, invocation_start: float) -> None:
        """Poll the backend until the workers finish or the run must stop; checkpoint and report on the way."""
        try:
            self._watch_loop(invocation_start)
        except StorageError as error:
            self._storage_failed(error)

    def _watch_loop(self, invocation_start: float) -> None:
        cfg = self.config
        last_checkpoint_time = time.monotonic()
        last_checkpoint_step = self.global_step
        while True:
            if self.signals.received is not None:
                what = "Ctrl-C" if self.signals.received == signal.SIGINT else signal.Signals(self.signals.received).name
                self._log(f"{what}: stopping the workers and saving a checkpoint (Ctrl-C again to stop at once)")
                return
            if not self._poll():
                return
            # One reading of the clocks and the step per pass: the sample that is kept, the time limit
            # and the checkpoint interval then all see the same moment.
            wall, now, step = time.time(), time.monotonic(), self.global_step
            self.step_samples.append((wall - self.start, step))
            self._report()
            if cfg.max_seconds is not None and wall - invocation_start >= cfg.max_seconds:
                self._log(f"--max-seconds {cfg.max_seconds:g} reached at step {step:,}")
                return
            by_steps = cfg.checkpoint_interval_steps is not None and step - last_checkpoint_step >= cfg.checkpoint_interval_steps
            if now - last_checkpoint_time >= cfg.checkpoint_interval_s or by_steps:
                self._save_latest()
                last_checkpoint_time, last_checkpoint_step = now, step
            self._wait()

    def _report(self, final: bool = False) -> None:
        """Turn the children's reports into TensorBoard, the CSVs and the progress display."""
        for message in self._messages():
            if isinstance(message, StorageReport):
                self._storage_failed(message.message)
            elif isinstance(message, EvalReport):
                self.cpu_s[EVALUATOR] = self.cpu_s.get(EVALUATOR, 0.0) + message.cpu_s
                self.log.eval_episode(message)
                if message.round_mean is not None:
                    self.progress.eval_result(message.round_mean, message.round_episodes)
                    self.best_eval = message.round_mean if self.best_eval is None else max(self.best_eval, message.round_mean)
                self.progress.log(eval_line(message))
            else:
                self.cpu_s["workers"] = self.cpu_s.get("workers", 0.0) + message.cpu_s
                self.log.worker_report(message)
                if message.skipped:
                    self._log(
                        f"{worker_name(message.rank)} skipped {message.skipped} update(s) with a non-finite loss or "
                        f"gradient at step {self.global_step:,}; the shared weights were not touched"
                    )
        elapsed, steps = time.time() - self.start, self.global_step
        self.log.tick(elapsed, steps, force=final)
        # The run's clock carries on across resumes; --max-seconds counts from this invocation's start.
        max_seconds = self.config.max_seconds
        stop_at = None if max_seconds is None else self.invocation_start - self.start + max_seconds
        self.progress.update(elapsed, steps, self._recent_rate(), stop_at)

    def _recent_rate(self, window_s: float = 10.0) -> float:
        """Global steps per second over the last ``window_s`` seconds of samples."""
        if len(self.step_samples) < 2:
            return 0.0
        t1, s1 = self.step_samples[-1]
        t0, s0 = next(((t, s) for t, s in reversed(self.step_samples) if t1 - t >= window_s), self.step_samples[0])
        return (s1 - s0) / (t1 - t0) if t1 > t0 else 0.0

    # The backend's hooks.

    @property
    def global_step(self) -> int:
        raise NotImplementedError

    def _start(self, resumed: dict[str, Any] | None) -> None:
        """Build the model and optimiser (:meth:`_build_model`) where the workers will reach them."""
        raise NotImplementedError

    def _where(self) -> str:
        """Where the run trains, for the first log line ("" for this machine)."""
        return ""

    def _launch(self) -> None:
        """Start the evaluator and the workers."""
        raise NotImplementedError

    def _poll(self) -> bool:
        """Check on the children (restarting the dead within ``max_restarts``); False once the
        workers have finished or the run must stop (then with ``self.failure`` set)."""
        raise NotImplementedError

    def _wait(self) -> None:
        """Pause between two polls (about ``POLL_INTERVAL_S``)."""
        time.sleep(POLL_INTERVAL_S)

    def _messages(self) -> list[Message]:
        """The children's reports that arrived since the last call."""
        raise NotImplementedError

    def _snapshot(self) -> tuple[nn.Module, dict[str, Any] | None, int] | None:
        """The model, the optimiser's state (None with ``--no-shared``) and the global step, for a
        checkpoint; None if they cannot be had."""
        raise NotImplementedError

    def _stop_all(self) -> list[str]:
        """Stop every child within JOIN_TIMEOUT_S; return the names of those that had to be killed."""
        raise NotImplementedError

    def _child_problems(self, forced: list[str]) -> list[str]:
        """Children that ended badly, for the error message (``forced`` are listed already)."""
        return []

    def _exit_codes(self) -> dict[str, int | None]:
        raise NotImplementedError
