"""The evaluation log: what follows each greedy episode of a training run.

The evaluator plays rounds of ``eval_episodes`` episodes side by side, all with the weights
copied at the round's start. Each episode gets its ``metrics.csv`` row and a report for the
trainer; each round its mean, and ``best.pt`` when that mean beats every round before it. With sticky
actions a single episode is noisy: ``best.pt`` and "solved" go by a round's mean, never by one
lucky episode. Both backends use it.
"""

from __future__ import annotations

import statistics
import time

from torch import nn

from a3c.algorithm.config import TrainConfig
from a3c.algorithm.evaluation import EpisodeResult
from a3c.runtime.checkpoint import make_checkpoint, save_checkpoint
from a3c.runtime.messages import EvalReport
from a3c.runtime.run_dir import RunDir


class EvaluationLog:
    """What follows each greedy episode in either backend: its ``metrics.csv`` row, the report
    for the trainer's logs, and at the end of each round of ``config.eval_episodes`` episodes,
    ``best.pt`` when the round's mean beats every round before it."""

    def __init__(self, run: RunDir, env_id: str, config: TrainConfig, start_time: float, best_reward: float | None = None) -> None:
        self.run = run
        self.env_id = env_id
        self.config_dict = config.to_dict()
        self.start_time = start_time
        """Unix time at which the run's wall clock reads 0."""
        self.best = -float("inf") if best_reward is None else best_reward
        """The best round mean so far."""

    def add_round(self, results: list[EpisodeResult], model: nn.Module, weights_step: int, global_step: int) -> list[EvalReport]:
        """Log a round: ``model`` holds the weights that played every episode of ``results``,
        copied at global step ``weights_step``; the run is at ``global_step`` now. One report per
        episode; the last carries the round's mean."""
        reports = [self._add_episode(result, weights_step, global_step) for result in results]
        rewards = [result.reward for result in results]
        report = reports[-1]
        report.round_mean, report.round_std = statistics.fmean(rewards), statistics.pstdev(rewards)
        report.round_episodes, report.weights_step = len(rewards), weights_step
        if report.round_mean > self.best:
            self.best = report.round_mean
            checkpoint = make_checkpoint(
                model, env_id=self.env_id, global_step=weights_step, config=self.config_dict, eval_reward=report.round_mean
            )
            save_checkpoint(checkpoint, self.run.best_path)
        return reports

    def _add_episode(self, result: EpisodeResult, weights_step: int, global_step: int) -> EvalReport:
        now = time.time()
        elapsed = now - self.start_time
        fps = global_step / max(elapsed, 1e-9)
        self.run.append_metrics(
            {
                "wall_time_s": f"{elapsed:.1f}",
                "global_steps": global_step,
                "fps": f"{fps:.0f}",
                "episode_reward": result.reward,
                "episode_length": result.length,
                "ended_by": result.ended_by,
                "weights_step": weights_step,
                "unix_time": f"{now:.1f}",
            }
        )
        return EvalReport(elapsed, global_step, result.reward, result.length, result.ended_by, cpu_s=result.cpu_s)
