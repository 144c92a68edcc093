"""Greedy evaluation: one episode at a time with the seed's stuck guard.

The same episode loop serves the evaluation process that runs beside training and the
``a3c evaluate`` command.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from a3c.checkpoint import load_checkpoint, make_checkpoint, model_from_checkpoint, save_checkpoint
from a3c.config import TrainConfig
from a3c.run_dir import RunDir
from a3c.shared import SharedState, seed_process, unblock_sigint
from a3c.envs.atari import make_atari_env
from a3c.errors import UserError
from a3c.task import Task, corridor_task
from a3c.telemetry import EvalReport, send

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
    on_step: Callable[[int, float], None] | None = None,
) -> EpisodeResult | None:
    """Play one episode with argmax actions. Returns None if ``should_stop`` fired first.

    ``on_step(length, total_reward)`` is called after every env step (``a3c record`` grabs a
    frame there)."""
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
        if on_step is not None:
            on_step(length, total)
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


def build_evaluator(rank: int, config: TrainConfig, task: Task) -> tuple[gym.Env, nn.Module]:
    """The evaluator's env and network (in eval mode), with the process seeded with ``seed + rank``."""
    seed_process(config.seed + rank)
    env = task.make_env(config.seed + rank)
    model = task.make_model(env)
    model.eval()
    return env, model


class EpisodeRecorder:
    """What follows each greedy episode in either backend: its ``metrics.csv`` row, ``best.pt``
    when it beats every episode before it, and the report for the trainer's logs."""

    def __init__(self, run: RunDir, env_id: str, config: TrainConfig, start_time: float, best_reward: float | None = None) -> None:
        self.run = run
        self.env_id = env_id
        self.config_dict = config.to_dict()
        self.start_time = start_time
        """Unix time at which the run's wall clock reads 0."""
        self.best = -float("inf") if best_reward is None else best_reward

    def record(self, result: EpisodeResult, model: nn.Module, weights_step: int, global_step: int) -> EvalReport:
        """``model`` holds the weights that played, copied at global step ``weights_step``; the run is
        at ``global_step`` now."""
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
        if result.reward > self.best:
            self.best = result.reward
            checkpoint = make_checkpoint(
                model, env_id=self.env_id, global_step=weights_step, config=self.config_dict, eval_reward=result.reward
            )
            save_checkpoint(checkpoint, self.run.best_path)
        return EvalReport(elapsed, global_step, result.reward, result.length, result.ended_by)


def evaluator_main(
    rank: int,
    config: TrainConfig,
    task: Task,
    shared: SharedState,
    run_dir: str,
    start_time: float,
    best_reward: float | None = None,
) -> None:
    """Entry point of the evaluation process: sync at each episode start, play greedily, log."""
    unblock_sigint()
    env, model = build_evaluator(rank, config, task)
    recorder = EpisodeRecorder(RunDir(run_dir), task.env_id, config, start_time, best_reward)
    shared.mark_evaluator_ready()
    try:
        while not shared.should_stop(config.max_steps):
            model.load_state_dict(shared.model.state_dict())
            weights_step = shared.global_step
            result = play_greedy_episode(
                model, env, config.max_episode_length, should_stop=lambda: shared.should_stop(config.max_steps)
            )
            if result is None:
                break
            send(shared.events, recorder.record(result, model, weights_step, shared.global_step))
            if config.eval_interval_s > 0:
                shared.sleep(config.eval_interval_s)
    finally:
        env.close()


@dataclass
class LoadedPolicy:
    """A checkpoint's network, ready for greedy play, and the env it plays."""

    checkpoint: dict[str, Any]
    """As :func:`a3c.checkpoint.load_checkpoint` returns it; ``checkpoint["path"]`` is the file used."""
    env_id: str
    """The game played: ``--env`` if given, else the checkpoint's."""
    env: gym.Env
    model: nn.Module
    """In eval mode."""


def load_policy(
    checkpoint_arg: str | os.PathLike[str] | None,
    env_id: str | None = None,
    seed: int | None = 0,
    render_mode: str | None = None,
) -> LoadedPolicy:
    """Load a checkpoint file or run dir (None: the shipped Pong agent) and build its env and network.

    ``env_id`` overrides the checkpoint's game; the network must have as many actions as the game.
    Raises :class:`UserError` for a missing or unusable checkpoint, an unknown game or an action
    count mismatch. The caller closes ``env``.
    """
    if checkpoint_arg is None:
        from a3c.pretrained import pong_checkpoint

        checkpoint_arg = pong_checkpoint()
    checkpoint = load_checkpoint(checkpoint_arg)
    env_id = env_id or str(checkpoint["env_id"])
    if env_id == "Corridor":
        if render_mode is not None:
            raise UserError("the Corridor test task has no screen to render; record an Atari game")
        env = corridor_task().make_env(seed)
    else:
        env = make_atari_env(env_id, seed, render_mode=render_mode)
    try:
        num_actions = int(env.action_space.n)
        if num_actions != int(checkpoint["num_actions"]):
            raise UserError(
                f"checkpoint {checkpoint['path']!r} was trained on {checkpoint['env_id']} with {checkpoint['num_actions']} "
                f"actions, but {env_id} has {num_actions}"
            )
        model = model_from_checkpoint(checkpoint)
    except BaseException:
        env.close()
        raise
    model.eval()
    return LoadedPolicy(checkpoint, env_id, env, model)
