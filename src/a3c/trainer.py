"""Launch a training run: shared model and optimiser, one evaluator and N workers, then watch them.

The parent process does no training. It polls its children, writes the ``latest``
checkpoint periodically and at the end, and stops everything if a child fails, so a dead
worker can never leave the run hanging.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.multiprocessing as mp

from a3c.checkpoint import make_checkpoint, save_checkpoint
from a3c.config import TrainConfig
from a3c.evaluator import evaluator_main, format_elapsed
from a3c.progress import Progress
from a3c.optim import make_optimizer
from a3c.run_dir import RunDir, default_run_dir
from a3c.shared import START_METHOD, SharedState, seed_process
from a3c.task import Task, atari_task
from a3c.telemetry import EvalReport, TrainingLog, drain, eval_line
from a3c.worker import worker_main

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
    """Exit code of every child process, by name."""
    step_samples: list[tuple[float, int]]
    """(seconds since start, global step), sampled about every 0.2 s."""


class Trainer:
    def __init__(
        self,
        config: TrainConfig,
        run_dir: str | Path | None = None,
        task: Task | None = None,
        force: bool = False,
        quiet: bool = False,
        progress_interval_s: float = 30.0,
    ) -> None:
        self.config = config.validate()
        self.task = task or atari_task(config.env_name)
        self.run = RunDir(run_dir or default_run_dir(self.task.env_id))
        self.force = force
        self.quiet = quiet
        self.progress_interval_s = progress_interval_s
        self.ctx = mp.get_context(START_METHOD)
        self.step_samples: list[tuple[float, int]] = []
        """(seconds since start, global step), sampled by the watch loop, for throughput figures."""
        self.progress = Progress(config.max_steps, quiet=True)

    def _log(self, message: str) -> None:
        self.progress.log(f"[a3c] {message}")

    def _build_shared(self) -> SharedState:
        cfg = self.config
        seed_process(cfg.seed)
        probe_env = self.task.make_env(cfg.seed)
        model = self.task.make_model(probe_env)
        probe_env.close()
        optimizer = None if cfg.no_shared else make_optimizer(cfg.optimizer, model.parameters(), cfg.lr)
        return SharedState.create(model, optimizer, self.ctx)

    def _save_latest(self, shared: SharedState) -> Path:
        optimizer_state = shared.optimizer.state_dict() if shared.optimizer is not None else None
        checkpoint = make_checkpoint(
            shared.model,
            env_id=self.task.env_id,
            global_step=shared.global_step,
            config=self.config.to_dict(),
            optimizer_state=optimizer_state,
        )
        return save_checkpoint(checkpoint, self.run.latest_path)

    def _stop_all(self, shared: SharedState, processes: list[mp.Process]) -> list[str]:
        """Stop every child within JOIN_TIMEOUT_S; return the names of those that had to be killed."""
        shared.stop.set()
        deadline = time.monotonic() + JOIN_TIMEOUT_S
        for process in processes:
            process.join(timeout=max(0.0, deadline - time.monotonic()))
        forced = []
        for process in processes:
            if process.is_alive():
                forced.append(process.name)
                process.terminate()
                process.join(timeout=2.0)
            if process.is_alive():
                process.kill()
                process.join()
        return forced

    def train(self) -> TrainResult:
        cfg = self.config
        self.run.create(force=self.force)
        self.run.write_config(cfg, extra={"a3c run": self.task.env_id, "torch": torch.__version__})
        self.run.start_metrics()
        shared = self._build_shared()
        self.progress = Progress(cfg.max_steps, quiet=self.quiet, interval_s=self.progress_interval_s)
        self.log = TrainingLog(self.run.path, cfg.lr)
        start = time.time()
        self._log(
            f"training {self.task.env_id} with {cfg.num_processes} workers + 1 evaluator for "
            f"{cfg.max_steps:,} steps; run dir {self.run.path}"
        )

        evaluator = self.ctx.Process(
            target=evaluator_main,
            args=(cfg.num_processes, cfg, self.task, shared, str(self.run.path), start, None),
            name="a3c-evaluator",
            daemon=True,
        )
        workers = [
            self.ctx.Process(target=worker_main, args=(rank, cfg, self.task, shared), name=f"a3c-worker-{rank}", daemon=True)
            for rank in range(cfg.num_processes)
        ]
        processes = [evaluator, *workers]
        with _sigterm_as_exception():
            try:
                for process in processes:
                    process.start()
                self._watch(shared, processes, workers, start)
                forced = self._stop_all(shared, processes)
            except (KeyboardInterrupt, Terminated):
                self._stop_all(shared, processes)
                path = self._save_latest(shared)
                print(f"[a3c] interrupted at step {shared.global_step:,}; latest checkpoint saved to {path}", file=sys.stderr, flush=True)
                raise
            except BaseException:  # any other error: never leave children training on their own
                self._stop_all(shared, processes)
                raise
            finally:
                self._report(shared, start, final=True)
                self.log.close()
                self.progress.close()

        latest = self._save_latest(shared)
        failed = [f"{p.name} (exit code {p.exitcode})" for p in processes if p.exitcode != 0 and p.name not in forced]
        if forced or failed:
            problems = ", ".join(failed + [f"{name} (did not stop, killed)" for name in forced])
            raise TrainingFailed(f"{problems} failed at step {shared.global_step:,}; latest checkpoint saved to {latest}")
        wall = time.time() - start
        self._log(
            f"done: {shared.global_step:,} steps in {format_elapsed(wall)} "
            f"({shared.global_step / max(wall, 1e-9):.0f} steps/s); checkpoints in {self.run.checkpoint_dir}"
        )
        best = self.run.best_path if self.run.best_path.exists() else None
        return TrainResult(self.run.path, shared.global_step, wall, latest, best, {p.name: p.exitcode for p in processes}, self.step_samples)

    def _watch(self, shared: SharedState, processes: list[mp.Process], workers: list[mp.Process], start: float) -> None:
        """Poll the children until the workers finish or one fails; checkpoint and report on the way."""
        cfg = self.config
        last_checkpoint = time.monotonic()
        while True:
            # A failed child ends the watch at once; train() then stops the rest and reports it.
            if any(p.exitcode not in (None, 0) for p in processes) or not any(p.is_alive() for p in workers):
                return
            now = time.monotonic()
            self.step_samples.append((time.time() - start, shared.global_step))
            self._report(shared, start)
            if cfg.max_seconds is not None and time.time() - start >= cfg.max_seconds:
                self._log(f"--max-seconds {cfg.max_seconds:g} reached at step {shared.global_step:,}")
                return
            if now - last_checkpoint >= cfg.checkpoint_interval_s:
                self._save_latest(shared)
                last_checkpoint = now
            time.sleep(POLL_INTERVAL_S)

    def _report(self, shared: SharedState, start: float, final: bool = False) -> None:
        """Drain the children's reports into TensorBoard, the CSVs and the progress display."""
        for message in drain(shared.events):
            if isinstance(message, EvalReport):
                self.log.eval_episode(message)
                self.progress.eval_result(message.reward)
                self.progress.log(eval_line(message))
            else:
                self.log.worker_report(message)
        elapsed, steps = time.time() - start, shared.global_step
        self.log.tick(elapsed, steps, force=final)
        self.progress.update(elapsed, steps, self._recent_rate(), self.config.max_seconds)

    def _recent_rate(self, window_s: float = 10.0) -> float:
        """Global steps per second over the last ``window_s`` seconds of samples."""
        if len(self.step_samples) < 2:
            return 0.0
        t1, s1 = self.step_samples[-1]
        t0, s0 = next(((t, s) for t, s in reversed(self.step_samples) if t1 - t >= window_s), self.step_samples[0])
        return (s1 - s0) / (t1 - t0) if t1 > t0 else 0.0


class Terminated(Exception):
    """SIGTERM arrived; handled like Ctrl-C (stop, checkpoint), then exit code 143."""


@contextlib.contextmanager
def _sigterm_as_exception() -> Iterator[None]:
    def handler(signum: int, frame: object) -> None:
        raise Terminated()

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)

def train(config: TrainConfig, run_dir: str | Path | None = None, task: Task | None = None, **kwargs: object) -> TrainResult:
    """Train with ``config`` and return where the results are. See :class:`Trainer`."""
    return Trainer(config, run_dir=run_dir, task=task, **kwargs).train()  # type: ignore[arg-type]


__all__ = ["Terminated", "TrainResult", "Trainer", "TrainingFailed", "train"]
