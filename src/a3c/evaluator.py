"""Greedy evaluation: one episode at a time with the seed's stuck guard.

The same episode loop serves the evaluation process that runs beside training and the
``a3c evaluate`` command.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from a3c.checkpoint import make_checkpoint, save_checkpoint
from a3c.config import TrainConfig
from a3c.run_dir import RunDir
from a3c.shared import SharedState, seed_process
from a3c.task import Task

#: End an episode when this many consecutive greedy actions were the same. A greedy policy
#: that has collapsed onto one action (e.g. never pressing FIRE) would otherwise play forever.
STUCK_REPEATS = 100


@dataclass
class EpisodeResult:
    reward: float
    """Sum of the unclipped env rewards."""
    length: int
    ended_by: str
    """``terminated``, ``truncated`` (by the env's own time limit), ``max_length`` or ``stuck``."""


def greedy_action(model: nn.Module, obs: np.ndarray, hidden: tuple[torch.Tensor, torch.Tensor]) -> tuple[int, tuple[torch.Tensor, torch.Tensor]]:
    with torch.no_grad():
        _, logits, hidden = model(torch.from_numpy(np.asarray(obs, dtype=np.float32)).unsqueeze(0), hidden)
    return int(logits.argmax(dim=1).item()), hidden


def play_greedy_episode(
    model: nn.Module,
    env: gym.Env,
    max_episode_length: int,
    stuck_repeats: int = STUCK_REPEATS,
    should_stop: Callable[[], bool] | None = None,
) -> EpisodeResult | None:
    """Play one episode with argmax actions. Returns None if ``should_stop`` fired first."""
    obs, _ = env.reset()
    hidden = model.initial_state()
    recent: deque[int] = deque(maxlen=stuck_repeats)
    total, length = 0.0, 0
    while True:
        if should_stop is not None and should_stop():
            return None
        action, hidden = greedy_action(model, obs, hidden)
        obs, reward, terminated, truncated, _ = env.step(action)
        total += float(reward)
        length += 1
        recent.append(action)
        if terminated:
            return EpisodeResult(total, length, "terminated")
        if truncated:
            return EpisodeResult(total, length, "truncated")
        if length >= max_episode_length:
            return EpisodeResult(total, length, "max_length")
        if len(recent) == stuck_repeats and recent.count(recent[0]) == stuck_repeats:
            return EpisodeResult(total, length, "stuck")


def format_elapsed(seconds: float) -> str:
    return time.strftime("%Hh %Mm %Ss", time.gmtime(seconds))


def evaluator_main(
    rank: int,
    config: TrainConfig,
    task: Task,
    shared: SharedState,
    run_dir: str,
    start_time: float,
    best_reward: float | None = None,
    quiet: bool = False,
) -> None:
    """Entry point of the evaluation process: sync at each episode start, play greedily, log."""
    seed_process(config.seed + rank)
    env = task.make_env(config.seed + rank)
    model = task.make_model(env)
    model.eval()
    run = RunDir(run_dir)
    best = -float("inf") if best_reward is None else best_reward
    config_dict = config.to_dict()
    shared.evaluator_ready.set()
    try:
        while not shared.should_stop(config.max_steps):
            model.load_state_dict(shared.model.state_dict())
            weights_step = shared.global_step
            result = play_greedy_episode(
                model, env, config.max_episode_length, should_stop=lambda: shared.should_stop(config.max_steps)
            )
            if result is None:
                break
            now = time.time()
            elapsed = now - start_time
            steps = shared.global_step
            fps = steps / max(elapsed, 1e-9)
            run.append_metrics(
                {
                    "wall_time_s": f"{elapsed:.1f}",
                    "global_steps": steps,
                    "fps": f"{fps:.0f}",
                    "episode_reward": result.reward,
                    "episode_length": result.length,
                    "ended_by": result.ended_by,
                    "weights_step": weights_step,
                    "unix_time": f"{now:.1f}",
                }
            )
            if not quiet:
                print(
                    f"Time {format_elapsed(elapsed)}, num steps {steps}, FPS {fps:.0f}, "
                    f"episode reward {result.reward:g}, episode length {result.length}"
                    + ("" if result.ended_by == "terminated" else f" ({result.ended_by})"),
                    flush=True,
                )
            if result.reward > best:
                best = result.reward
                checkpoint = make_checkpoint(
                    model, env_id=task.env_id, global_step=weights_step, config=config_dict, eval_reward=result.reward
                )
                save_checkpoint(checkpoint, run.best_path)
            if config.eval_interval_s > 0:
                shared.stop.wait(config.eval_interval_s)
    except KeyboardInterrupt:
        pass
    finally:
        env.close()
