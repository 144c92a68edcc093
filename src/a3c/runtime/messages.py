"""What children tell the trainer: worker and evaluation reports, sent without blocking.

Workers and the evaluator never write logs of their own beyond ``metrics.csv``: they put small
messages on one queue (or, under Ray, return them), and the parent (which does no training)
drains it, so there is one writer per file and no lock in the training loop.

- Workers send :class:`WorkerReport` about every :data:`REPORT_INTERVAL_S` seconds: sums over
  their updates since the last report.
- The evaluator sends one :class:`EvalReport` per greedy episode; a round's last one carries its mean.
"""

from __future__ import annotations

import queue
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from a3c.algorithm.config import TrainConfig
    from a3c.algorithm.worker import UpdateStats


#: Seconds between a worker's reports; a few per second over all workers keeps the queue tiny.
REPORT_INTERVAL_S = 2.0


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
    cpu_s: float = 0.0
    """CPU seconds the worker's process used since its last report."""

    @property
    def has_news(self) -> bool:
        return bool(self.updates or self.skipped or self.episodes)

    def add(self, other: WorkerReport) -> None:
        self.updates += other.updates
        self.skipped += other.skipped
        self.policy_loss += other.policy_loss
        self.value_loss += other.value_loss
        self.entropy += other.entropy
        self.grad_norm += other.grad_norm
        self.episodes += other.episodes
        self.return_sum += other.return_sum
        self.cpu_s += other.cpu_s


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
    cpu_s: float = 0.0
    """CPU seconds the episode took in the evaluator's process."""


@dataclass
class StorageReport:
    """A child's write to the run dir failed (disk full, I/O error): why, in one line."""

    message: str


#: Anything a child sends the trainer.
Message = WorkerReport | EvalReport | StorageReport


def eval_line(report: EvalReport) -> str:
    """The seed notebook's line for one evaluation episode, and the round's mean where it ends one."""
    from a3c.runtime.progress import format_elapsed

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


def report_interval(config: TrainConfig) -> float:
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
        self.cpu_mark = time.process_time()

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
        now = time.process_time()
        report.cpu_s, self.cpu_mark = report.cpu_s + now - self.cpu_mark, now
        return report

    def flush(self) -> None:
        report = self.take()
        if report.has_news:
            send(self.events, report)
        else:  # nothing worth a message: the CPU time waits for the next one
            self.pending.cpu_s = report.cpu_s


def send(events: Any, message: Message) -> None:
    """Put ``message`` on the events queue without ever blocking a training process."""
    if events is None:
        return
    try:
        events.put_nowait(message)
    except (queue.Full, ValueError, OSError):  # a full or closed queue only costs a log line
        pass


def drain(events: Any) -> list[Message]:
    """Everything on the queue now, without waiting."""
    messages = []
    while True:
        try:
            messages.append(events.get_nowait())
        except (queue.Empty, EOFError, OSError, ValueError):
            return messages
