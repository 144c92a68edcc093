"""What ``a3c train`` shows while it runs.

On a terminal: a tqdm bar of global steps out of ``max_steps`` with steps/s, ETA and the last
and best evaluation round's mean reward (``eval mean/5 last 12.4 best 15.0``: rounds of 5 greedy
episodes with one weights copy each; ``eval last 3 best 7`` when each episode is a round); log
lines print above it. Elsewhere (CI, ``nohup``, a pipe): the same facts as a plain line every
``interval_s`` seconds, with no control characters. ``quiet`` shows nothing but warnings
(a child restarted, weights not finite): a run that fixed a fault itself still says so.
"""

from __future__ import annotations

import math
import sys
import time
from typing import IO


def format_elapsed(seconds: float) -> str:
    return time.strftime("%Hh %Mm %Ss", time.gmtime(seconds))


class Progress:
    def __init__(
        self,
        total_steps: int,
        *,
        quiet: bool = False,
        interactive: bool | None = None,
        interval_s: float = 30.0,
        stream: IO[str] | None = None,
        initial_steps: int = 0,
    ) -> None:
        self.total = total_steps
        self.quiet = quiet
        self.stream = stream or sys.stdout
        self.interactive = self.stream.isatty() if interactive is None else interactive
        self.interval_s = interval_s
        self.last_line_at = -math.inf
        self.last_eval: float | None = None
        self.best_eval: float | None = None
        self.round_episodes = 1
        self._bar = None
        if not quiet and self.interactive:
            from tqdm import tqdm

            self._bar = tqdm(
                total=total_steps, initial=initial_steps, unit="step", unit_scale=True, dynamic_ncols=True, file=self.stream, smoothing=0.05
            )

    def log(self, line: str, warning: bool = False) -> None:
        """Print a line without breaking the bar; with ``quiet``, only a ``warning``."""
        if self.quiet and not warning:
            return
        if self._bar is not None:
            self._bar.write(line, file=self.stream)
        else:
            print(line, file=self.stream, flush=True)

    def eval_result(self, mean_reward: float, episodes: int = 1) -> None:
        """A finished evaluation round: its mean reward over ``episodes`` greedy episodes."""
        self.last_eval = mean_reward
        self.round_episodes = episodes
        self.best_eval = mean_reward if self.best_eval is None else max(self.best_eval, mean_reward)

    def _evals(self) -> str:
        if self.last_eval is None:
            return "eval -"
        if self.round_episodes == 1:
            return f"eval last {self.last_eval:g} best {self.best_eval:g}"
        return f"eval mean/{self.round_episodes} last {self.last_eval:.1f} best {self.best_eval:.1f}"

    def update(self, elapsed_s: float, global_steps: int, steps_per_s: float, max_seconds: float | None = None) -> None:
        if self.quiet:
            return
        if self._bar is not None:
            # update() by the delta, not assigning n, so that tqdm's rate and ETA stay right.
            self._bar.set_postfix_str(self._evals(), refresh=False)
            self._bar.update(max(0, min(global_steps, self.total) - self._bar.n))
            return
        if elapsed_s - self.last_line_at < self.interval_s:
            return
        self.last_line_at = elapsed_s
        eta = eta_seconds(global_steps, self.total, steps_per_s, elapsed_s, max_seconds)
        eta_text = "-" if eta is None else format_elapsed(eta)
        percent = 100.0 * global_steps / max(self.total, 1)
        self.log(
            f"[a3c] {format_elapsed(elapsed_s)}  step {global_steps:,}/{self.total:,} ({percent:.1f}%)  "
            f"{steps_per_s:,.0f} steps/s  ETA {eta_text}  {self._evals()}"
        )

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def eta_seconds(global_steps: int, total: int, steps_per_s: float, elapsed_s: float, max_seconds: float | None) -> float | None:
    """Seconds left until ``total`` steps at the current rate, or until ``max_seconds`` if sooner."""
    candidates = []
    if steps_per_s > 0:
        candidates.append(max(0.0, (total - global_steps) / steps_per_s))
    if max_seconds is not None:
        candidates.append(max(0.0, max_seconds - elapsed_s))
    return min(candidates) if candidates else None
