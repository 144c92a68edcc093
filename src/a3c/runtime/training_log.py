"""The training log: TensorBoard scalars and ``train_metrics.csv``, written by the trainer alone.

:class:`TrainingLog` turns the children's reports (:mod:`a3c.runtime.messages`) into TensorBoard
scalars (in the run dir itself, so that ``tensorboard --logdir runs`` shows one run per folder)
and one ``train_metrics.csv`` row per log interval.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from a3c.runtime.messages import EvalReport, WorkerReport
from a3c.runtime.run_dir import append_csv_row, start_csv

if TYPE_CHECKING:
    pass


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


def _mean(total: float, count: int) -> float:
    return total / count if count else math.nan


class TrainingLog:
    """Parent side: TensorBoard scalars and ``train_metrics.csv`` for one run."""

    def __init__(self, run_path: Path, lr: Callable[[int], float], interval_s: float = 10.0) -> None:
        """``lr`` gives the learning rate at a global step (``TrainConfig.lr_at``)."""
        from torch.utils.tensorboard import SummaryWriter

        self.lr = lr
        self.interval_s = interval_s
        self.csv_path = run_path / "train_metrics.csv"
        start_csv(self.csv_path, TRAIN_METRICS_FIELDS)
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
            "lr": self.lr(global_steps),
            "updates": w.updates,
            "skipped_updates": w.skipped,
            "policy_loss": _mean(w.policy_loss, w.updates),
            "value_loss": _mean(w.value_loss, w.updates),
            "entropy": _mean(w.entropy, w.updates),
            "grad_norm": _mean(w.grad_norm, w.updates),
            "train_episodes": w.episodes,
            "train_episode_return": _mean(w.return_sum, w.episodes),
        }
        append_csv_row(self.csv_path, TRAIN_METRICS_FIELDS, {k: f"{v:.6g}" if isinstance(v, float) else v for k, v in row.items()})
        for key in ("steps_per_s", "lr", "skipped_updates", "policy_loss", "value_loss", "entropy", "grad_norm", "train_episode_return"):
            if not (isinstance(row[key], float) and math.isnan(row[key])):
                self.writer.add_scalar(TAGS[key], row[key], global_steps)
        self.window = WorkerReport(-1)
        self.last_time, self.last_steps = elapsed_s, global_steps
        return row

    def close(self) -> None:
        self.writer.close()
