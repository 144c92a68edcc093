"""Telemetry: worker reports, the parent's TensorBoard/CSV log, and the progress display."""

from __future__ import annotations

import csv
import io
import math
import time

import pytest

from a3c.algorithm.config import TrainConfig
from a3c.algorithm.worker import UpdateStats
from a3c.runtime.messages import EvalReport, WorkerReport, WorkerReporter, eval_line
from a3c.runtime.progress import Progress, eta_seconds
from a3c.runtime.training_log import TrainingLog


class ListQueue:
    def __init__(self) -> None:
        self.items: list = []

    def put_nowait(self, item) -> None:
        self.items.append(item)


def _stats(loss: float, applied: bool = True, returns: list[float] | None = None) -> UpdateStats:
    return UpdateStats(steps=5, policy_loss=loss, value_loss=2 * loss, entropy=1.0, grad_norm=3.0, applied=applied, episode_returns=returns or [])


def test_worker_reporter_sums_updates_and_sends_at_its_interval():
    events = ListQueue()
    reporter = WorkerReporter(rank=1, events=events, interval_s=3600)
    reporter.record(_stats(1.0, returns=[-21.0]))
    reporter.record(_stats(3.0))
    reporter.record(_stats(math.nan, applied=False))  # a skipped update counts, its loss does not
    assert events.items == []  # nothing before the interval
    reporter.flush()
    (report,) = events.items
    assert (report.rank, report.updates, report.skipped) == (1, 2, 1)
    assert (report.policy_loss, report.value_loss, report.grad_norm) == (4.0, 8.0, 6.0)
    assert (report.episodes, report.return_sum) == (1, -21.0)
    reporter.flush()
    assert len(events.items) == 1  # an empty window sends nothing


class ProcessClock:
    """Stands in for the ``time`` module in messages.py: CPU time moves only when the test says,
    so the windows below do not depend on what else this process's threads did meanwhile."""

    def __init__(self) -> None:
        self.cpu_s = 100.0

    def process_time(self) -> float:
        return self.cpu_s

    def monotonic(self) -> float:
        return time.monotonic()


def test_worker_reports_carry_the_cpu_time_used_since_the_last_one_and_none_is_lost(monkeypatch):
    import a3c.runtime.messages

    clock = ProcessClock()
    monkeypatch.setattr(a3c.runtime.messages, "time", clock)
    events = ListQueue()
    reporter = WorkerReporter(rank=0, events=events, interval_s=3600)
    clock.cpu_s += 0.05
    reporter.flush()  # no update yet: nothing sent, the CPU time waits
    assert events.items == []
    clock.cpu_s += 0.05
    reporter.record(_stats(1.0))
    reporter.flush()
    (report,) = events.items
    assert report.cpu_s == pytest.approx(0.1)
    clock.cpu_s += 0.02
    reporter.record(_stats(1.0))
    reporter.flush()
    assert events.items[1].cpu_s == pytest.approx(0.02)  # only what came after the first report


def test_a_report_stays_one_atomic_pipe_write_however_many_episodes_end():
    # A child killed (kill -9) while it sends cannot leave half a report in the queue's pipe
    # only if each report goes out in one write() of at most PIPE_BUF bytes (4,096 on Linux).
    import pickle

    events = ListQueue()
    reporter = WorkerReporter(rank=7, events=events, interval_s=3600)
    for _ in range(10_000):
        reporter.record(_stats(1.0, returns=[1.0] * 16))
    reporter.flush()
    (report,) = events.items
    assert (report.episodes, report.return_sum) == (160_000, 160_000.0)
    assert len(pickle.dumps(report)) + 4 < 4096  # the connection's 4-byte length header included


def test_training_log_writes_interval_means_to_csv_and_tensorboard(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    # The linear schedule: 2e-4 at step 0, half of it half way, at step 1,000 of 2,000.
    schedule = TrainConfig(lr=0.0002, lr_schedule="linear", max_steps=2000).lr_at
    log = TrainingLog(tmp_path, lr=schedule, interval_s=10.0)
    assert log.tick(0.0, 0) is None  # the first tick only sets the origin
    log.worker_report(WorkerReport(0, updates=2, policy_loss=1.0, value_loss=4.0, entropy=2.0, grad_norm=10.0, episodes=1, return_sum=-20.0))
    log.worker_report(WorkerReport(1, updates=2, skipped=1, policy_loss=3.0, value_loss=0.0, entropy=2.0, grad_norm=2.0, episodes=1, return_sum=-10.0))
    assert log.tick(5.0, 500) is None  # not yet an interval
    row = log.tick(10.0, 1000)
    assert row is not None
    assert row["steps_per_s"] == 100.0 and row["updates"] == 4 and row["skipped_updates"] == 1
    assert (row["policy_loss"], row["value_loss"], row["entropy"], row["grad_norm"]) == (1.0, 1.0, 1.0, 3.0)
    assert row["train_episode_return"] == -15.0
    log.eval_episode(EvalReport(10.0, 1000, -21.0, 800, "terminated"))
    row = log.tick(12.0, 1100, force=True)  # an empty window at the end still logs the rate
    assert math.isnan(row["policy_loss"]) and row["steps_per_s"] == 50.0
    log.close()

    rows = list(csv.DictReader((tmp_path / "train_metrics.csv").open()))
    assert [r["global_steps"] for r in rows] == ["1000", "1100"]
    assert (rows[0]["lr"], rows[1]["lr"]) == ("0.0001", "9e-05") and rows[1]["policy_loss"] == "nan"
    events = EventAccumulator(str(tmp_path))
    events.Reload()
    assert [e.value for e in events.Scalars("loss/policy")] == [1.0]  # NaN windows are not plotted
    assert [(e.step, e.value) for e in events.Scalars("eval/episode_reward")] == [(1000, -21.0)]
    assert [e.value for e in events.Scalars("train/steps_per_s")] == [100.0, 50.0]

    # A resumed run appends to the CSV rather than writing a second header.
    TrainingLog(tmp_path, lr=schedule).close()
    assert (tmp_path / "train_metrics.csv").read_text().count("wall_time_s") == 1


def test_eval_line_is_the_seeds():
    assert eval_line(EvalReport(61.0, 6100, 3.0, 900, "terminated")) == (
        "Time 00h 01m 01s, num steps 6100, FPS 100, episode reward 3, episode length 900"
    )
    assert eval_line(EvalReport(1.0, 0, -2.0, 101, "stuck")).endswith("episode length 101 (stuck)")


def test_progress_without_a_terminal_prints_plain_lines_at_its_interval():
    out = io.StringIO()
    progress = Progress(1000, interactive=False, interval_s=30.0, stream=out)
    progress.update(0.0, 0, 0.0)
    progress.update(10.0, 100, 10.0)  # within the interval: no line
    progress.eval_result(-21.0)
    progress.eval_result(-5.0)
    progress.eval_result(-9.0)
    progress.update(31.0, 500, 20.0)
    progress.close()
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0] == "[a3c] 00h 00m 00s  step 0/1,000 (0.0%)  0 steps/s  ETA -  eval -"
    assert lines[1] == "[a3c] 00h 00m 31s  step 500/1,000 (50.0%)  20 steps/s  ETA 00h 00m 25s  eval last -9 best -5"
    assert "\r" not in out.getvalue() and "\x1b" not in out.getvalue()


def test_progress_on_a_terminal_draws_a_bar_and_quiet_draws_only_warnings():
    out = io.StringIO()
    progress = Progress(1000, interactive=True, stream=out)
    progress.eval_result(4.0)
    progress.update(1.0, 250, 250.0)
    progress.log("a line above the bar")
    progress.close()
    text = out.getvalue()
    assert "\r" in text and "250/1" in text and "eval last 4 best 4" in text and "a line above the bar" in text

    quiet = io.StringIO()
    progress = Progress(1000, quiet=True, interactive=True, stream=quiet)
    progress.update(1.0, 250, 250.0)
    progress.log("hidden")
    progress.close()
    assert quiet.getvalue() == ""
    progress.log("[a3c] a3c-worker-1 died (exit code -9) at step 1,000; restarting it (1/3)", warning=True)
    assert quiet.getvalue() == "[a3c] a3c-worker-1 died (exit code -9) at step 1,000; restarting it (1/3)\n"


@pytest.mark.parametrize(
    "steps, total, rate, elapsed, max_seconds, expected",
    [(0, 100, 10.0, 0.0, None, 10.0), (50, 100, 10.0, 5.0, 7.0, 2.0), (0, 100, 0.0, 0.0, None, None), (200, 100, 5.0, 0.0, None, 0.0)],
)
def test_eta(steps, total, rate, elapsed, max_seconds, expected):
    assert eta_seconds(steps, total, rate, elapsed, max_seconds) == expected
