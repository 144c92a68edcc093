"""Training telemetry: children report, the trainer process writes TensorBoard and CSV.

Workers and the evaluator never write logs of their own beyond ``metrics.csv``: they put small
messages on one queue, and the parent (which does no training) drains it, so there is one
writer per file and no lock in the training loop.

- Workers send :class:`WorkerReport` about every :data:`REPORT_INTERVAL_S` seconds: sums over
  their updates since the last report.
- The evaluator sends one :class:`EvalReport` per greedy episode; a round's last one carries its mean.
- :class:`TrainingLog` turns them into TensorBoard scalars (in the run dir itself, so that
  ``tensorboard --logdir runs`` shows one run per folder) and ``train_metrics.csv``.
"""

from __future__ import annotations

import csv
import math
import queue
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from a3c.config import TrainConfig
    from a3c.worker import UpdateStats

#: Seconds between a worker's reports; a few per second over all workers keeps the queue tiny.
REPORT_INTERVAL_S = 2.0

TRAIN_METRICS_FIELDS = (
    "wall_time_s",
    "global_steps",
    "steps_per_s",
    "lr",
    "updates",
    "skipped_updates",
    "policy_loss",
    "value_loss",
    "entropy",
    "grad_norm",
    "train_episodes",
    "train_episode_return",
)
"""Columns of ``train_metrics.csv``: one row per log interval. Policy loss, value loss and entropy
are the loss terms of an update (summed over the rollout's steps and averaged over its envs, as
the seed's loss is), and they and the gradient norm are means over the updates applied in the
interval; the training episode return is the mean raw game score of the episodes that ended in it."""

#: TensorBoard tag of each logged quantity.
TAGS = {
    "eval_reward": "eval/episode_reward",
    "eval_length": "eval/episode_length",
    "eval_mean_reward": "eval/round_mean_reward",
    "policy_loss": "loss/policy",
    "value_loss": "loss/value",
    "entropy": "loss/entropy",
    "grad_norm": "train/grad_norm",
    "steps_per_s": "train/steps_per_s",
    "lr": "train/learning_rate",
    "train_episode_return": "train/episode_return",
    "skipped_updates": "train/skipped_updates",
}


@dataclass
class WorkerReport:
    """Sums over one worker's updates since its last report."""

    rank: int
    updates: int = 0
    skipped: int = 0
    policy_loss: float = 0.0
    value_loss: float = 0.0
    entropy: float = 0.0
    grad_norm: float = 0.0
    episodes: int = 0
    """Training episodes that ended, and the sum of their raw returns: a count and a sum rather
    than a list keep every report a few hundred bytes, one atomic pipe write (under PIPE_BUF),
    so a child killed while sending can never leave half a report in the queue."""
    return_sum: float = 0.0

    @property
    def has_news(self) -> bool:
        return bool(self.updates or self.skipped or self.episodes)

    def add(self, other: "WorkerReport") -> None:
        self.updates += other.updates
        self.skipped += other.skipped
        self.policy_loss += other.policy_loss
        self.value_loss += other.value_loss
        self.entropy += other.entropy
        self.grad_norm += other.grad_norm
        self.episodes += other.episodes
        self.return_sum += other.return_sum


@dataclass
class EvalReport:
    """One greedy evaluation episode, as written to ``metrics.csv``; the last episode of a round
    also carries the round's statistics."""

    wall_time_s: float
    global_steps: int
    reward: float
    length: int
    ended_by: str
    round_mean: float | None = None
    """Mean reward of the round that this episode ends (None: the round goes on)."""
    round_std: float | None = None
    round_episodes: int = 0
    weights_step: int = 0
    """The global step at which the round's weights were copied."""


def eval_line(report: EvalReport) -> str:
    """The seed notebook's line for one evaluation episode, and the round's mean where it ends one."""
    from a3c.evaluator import format_elapsed

    note = "" if report.ended_by == "terminated" else f" ({report.ended_by})"
    line = (
        f"Time {format_elapsed(report.wall_time_s)}, num steps {report.global_steps}, "
        f"FPS {report.global_steps / max(report.wall_time_s, 1e-9):.0f}, "
        f"episode reward {report.reward:g}, episode length {report.length}{note}"
    )
    if report.round_mean is not None and report.round_episodes > 1:
        line += (
            f"; greedy mean {report.round_mean:.2f} +- {report.round_std or 0.0:.2f} over {report.round_episodes} "
            f"episodes (weights of step {report.weights_step:,})"
        )
    return line


def report_interval(config: "TrainConfig") -> float:
    """Seconds between a worker's reports: at least two per log interval, so that every
    ``train_metrics.csv`` row holds updates."""
    return min(REPORT_INTERVAL_S, config.log_interval_s / 2)


class WorkerReporter:
    """Child side: accumulate update statistics and send them now and then, never blocking."""

    def __init__(self, rank: int, events: Any, interval_s: float = REPORT_INTERVAL_S) -> None:
        self.rank = rank
        self.events = events
        self.interval_s = interval_s
        self.pending = WorkerReport(rank)
        self.last_sent = time.monotonic()

    def record(self, stats: UpdateStats) -> None:
        self.pending.episodes += len(stats.episode_returns)
        self.pending.return_sum += float(sum(stats.episode_returns))
        if stats.applied:
            self.pending.updates += 1
            self.pending.policy_loss += stats.policy_loss
            self.pending.value_loss += stats.value_loss
            self.pending.entropy += stats.entropy
            self.pending.grad_norm += stats.grad_norm
        else:
            self.pending.skipped += 1
        if time.monotonic() - self.last_sent >= self.interval_s:
            self.flush()

    def take(self) -> WorkerReport:
        """The sums since the last report, handed to the caller instead of sent: a Ray worker
        returns them to the trainer with each slice of work."""
        report, self.pending = self.pending, WorkerReport(self.rank)
        self.last_sent = time.monotonic()
        return report

    def flush(self) -> None:
        report = self.take()
        if report.has_news:
            send(self.events, report)


def send(events: Any, message: WorkerReport | EvalReport) -> None:
    """Put ``message`` on the events queue without ever blocking a training process."""
    if events is None:
        return
    try:
        events.put_nowait(message)
    except (queue.Full, ValueError, OSError):  # a full or closed queue only costs a log line
        pass


def drain(events: Any) -> list[WorkerReport | EvalReport]:
    """Everything on the queue now, without waiting."""
    messages = []
    while True:
        try:
            messages.append(events.get_nowait())
        except (queue.Empty, EOFError, OSError, ValueError):
            return messages


def _mean(total: float, count: int) -> float:
    return total / count if count else math.nan


class TrainingLog:
    """Parent side: TensorBoard scalars and ``train_metrics.csv`` for one run."""

    def __init__(self, run_path: Path, lr: float, interval_s: float = 10.0) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.lr = lr
        self.interval_s = interval_s
        self.csv_path = run_path / "train_metrics.csv"
        new_file = not self.csv_path.exists() or self.csv_path.stat().st_size == 0
        self._csv_handle = self.csv_path.open("a", newline="")
        self._csv = csv.DictWriter(self._csv_handle, TRAIN_METRICS_FIELDS)
        if new_file:
            self._csv.writeheader()
        self.writer = SummaryWriter(log_dir=str(run_path), flush_secs=10)
        self.window = WorkerReport(-1)
        self.last_time: float | None = None
        self.last_steps = 0

    def eval_episode(self, report: EvalReport) -> None:
        self.writer.add_scalar(TAGS["eval_reward"], report.reward, report.global_steps, walltime=None)
        self.writer.add_scalar(TAGS["eval_length"], report.length, report.global_steps)
        if report.round_mean is not None:
            self.writer.add_scalar(TAGS["eval_mean_reward"], report.round_mean, report.global_steps)

    def worker_report(self, report: WorkerReport) -> None:
        self.window.add(report)

    def tick(self, elapsed_s: float, global_steps: int, force: bool = False) -> dict[str, Any] | None:
        """Write one interval's row once ``interval_s`` has passed (or ``force``); return it."""
        if self.last_time is None:
            self.last_time, self.last_steps = elapsed_s, global_steps
            return None
        span = elapsed_s - self.last_time
        if span <= 0 or (span < self.interval_s and not force):
            return None
        w = self.window
        row: dict[str, Any] = {
            "wall_time_s": round(elapsed_s, 1),
            "global_steps": global_steps,
            "steps_per_s": round((global_steps - self.last_steps) / span, 1),
            "lr": self.lr,
            "updates": w.updates,
            "skipped_updates": w.skipped,
            "policy_loss": _mean(w.policy_loss, w.updates),
            "value_loss": _mean(w.value_loss, w.updates),
            "entropy": _mean(w.entropy, w.updates),
            "grad_norm": _mean(w.grad_norm, w.updates),
            "train_episodes": w.episodes,
            "train_episode_return": _mean(w.return_sum, w.episodes),
        }
        self._csv.writerow({k: f"{v:.6g}" if isinstance(v, float) else v for k, v in row.items()})
        self._csv_handle.flush()
        for key in ("steps_per_s", "lr", "skipped_updates", "policy_loss", "value_loss", "entropy", "grad_norm", "train_episode_return"):
            if not (isinstance(row[key], float) and math.isnan(row[key])):
                self.writer.add_scalar(TAGS[key], row[key], global_steps)
        self.window = WorkerReport(-1)
        self.last_time, self.last_steps = elapsed_s, global_steps
        return row

    def close(self) -> None:
        self.writer.close()
        self._csv_handle.close()
