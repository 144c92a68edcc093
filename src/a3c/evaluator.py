"""Greedy evaluation: episodes with the seed's stuck guard, in rounds that share one weights copy.

The same episode loop serves the evaluation process that runs beside training and the
``a3c evaluate`` command. With sticky actions a single episode is noisy, so the evaluation
process plays rounds of ``eval_episodes`` episodes, all with the weights copied at the round's
start; ``best.pt`` and "solved" go by a round's mean, never by one lucky episode.
"""

from __future__ import annotations

import functools
import os
import statistics
import time
from collections import deque
from collections.abc import Callable, Iterator
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
from a3c.envs.atari import check_env_settings, make_atari_env, resolve_env_id
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
    seed: int | None = None,
) -> EpisodeResult | None:
    """Play one episode with argmax actions. Returns None if ``should_stop`` fired first.

    ``seed`` seeds the reset (sticky actions, no-op starts, the normaliser start afresh), so
    that the episode does not depend on the episodes played before it. ``on_step(length,
    total_reward)`` is called after every env step (``a3c record`` grabs a frame there)."""
    obs, _ = env.reset(seed=seed)
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
    """What follows each greedy episode in either backend: its ``metrics.csv`` row, the report
    for the trainer's logs, and at the end of each round of ``config.eval_episodes`` episodes,
    ``best.pt`` when the round's mean beats every round before it."""

    def __init__(self, run: RunDir, env_id: str, config: TrainConfig, start_time: float, best_reward: float | None = None) -> None:
        self.run = run
        self.env_id = env_id
        self.config_dict = config.to_dict()
        self.round_size = config.eval_episodes
        self.start_time = start_time
        """Unix time at which the run's wall clock reads 0."""
        self.best = -float("inf") if best_reward is None else best_reward
        """The best round mean so far."""
        self.round: list[float] = []
        """Rewards of the round in play."""

    @property
    def starts_round(self) -> bool:
        """True when the next episode starts a round: the caller copies the current weights first."""
        return not self.round

    def abandon_round(self) -> None:
        """Forget an unfinished round (its player died); the next episode starts a new one."""
        self.round = []

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
        report = EvalReport(elapsed, global_step, result.reward, result.length, result.ended_by)
        self.round.append(result.reward)
        if len(self.round) < self.round_size:
            return report
        report.round_mean, report.round_std = statistics.fmean(self.round), statistics.pstdev(self.round)
        report.round_episodes, report.weights_step = len(self.round), weights_step
        self.round = []
        if report.round_mean > self.best:
            self.best = report.round_mean
            checkpoint = make_checkpoint(
                model, env_id=self.env_id, global_step=weights_step, config=self.config_dict, eval_reward=report.round_mean
            )
            save_checkpoint(checkpoint, self.run.best_path)
        return report


def evaluator_main(
    rank: int,
    config: TrainConfig,
    task: Task,
    shared: SharedState,
    run_dir: str,
    start_time: float,
    best_reward: float | None = None,
) -> None:
    """Entry point of the evaluation process: copy the weights at each round's start, play greedily, log."""
    unblock_sigint()
    env, model = build_evaluator(rank, config, task)
    recorder = EpisodeRecorder(RunDir(run_dir), task.env_id, config, start_time, best_reward)
    shared.mark_evaluator_ready()
    try:
        weights_step = 0
        while not shared.should_stop(config.max_steps):
            if recorder.starts_round:
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


@dataclass(frozen=True)
class Protocol:
    """How greedy episodes are played: the game, its sticky actions and no-op starts, the cap."""

    env_id: str
    sticky: float | None = None
    """The ALE's repeat-action probability; None: the id's own."""
    noop_max: int = 0
    max_episode_length: int = 1_000_000

    @property
    def is_atari(self) -> bool:
        return self.env_id != "Corridor"

    def to_dict(self) -> dict[str, Any]:
        """The settings actually played, with the id's own defaults resolved."""
        data: dict[str, Any] = {"env_id": self.env_id}
        if self.is_atari:
            spec = resolve_env_id(self.env_id)
            frameskip = spec.frameskip
            data["frameskip"] = list(frameskip) if isinstance(frameskip, tuple) else frameskip
            data["sticky"] = spec.repeat_action_probability if self.sticky is None else float(self.sticky)
            data["noop_max"] = self.noop_max
        data["max_episode_length"] = self.max_episode_length
        data["policy"] = "greedy (argmax)"
        data["stuck_guard"] = STUCK_REPEATS
        return data

    def describe(self) -> str:
        """One line: ``ALE/Pong-v5: frameskip 4, sticky actions 0.25, no no-op starts, greedy ...``."""
        d = self.to_dict()
        if not self.is_atari:
            return f"{self.env_id}: greedy, stuck guard {STUCK_REPEATS}"
        frameskip = d["frameskip"]
        skip = f"random {frameskip[0]}-{frameskip[1] - 1}" if isinstance(frameskip, list) else str(frameskip)
        noops = f"0-{self.noop_max} random no-op starts" if self.noop_max else "no no-op starts"
        return (
            f"{self.env_id}: frameskip {skip}, sticky actions {d['sticky']:g}, {noops}, greedy with the stuck guard "
            f"({STUCK_REPEATS} repeats), episodes cut at {self.max_episode_length:,} steps"
        )


def trained_protocol(checkpoint: dict[str, Any], max_episode_length: int = 1_000_000) -> Protocol:
    """The env settings a checkpoint was trained with (older checkpoints: the id's own)."""
    config = checkpoint.get("config") or {}
    return Protocol(str(checkpoint["env_id"]), config.get("sticky"), int(config.get("noop_max") or 0), max_episode_length)


def evaluation_protocol(
    checkpoint: dict[str, Any],
    env_id: str | None = None,
    sticky: float | None = None,
    noop_max: int | None = None,
    max_episode_length: int = 1_000_000,
) -> Protocol:
    """The protocol that ``a3c evaluate`` plays: the checkpoint's training settings by default; another
    ``env_id`` brings that id's own settings; ``sticky`` and ``noop_max`` override either."""
    trained = trained_protocol(checkpoint, max_episode_length)
    base = trained if env_id is None or env_id == trained.env_id else Protocol(env_id, None, 0, max_episode_length)
    protocol = Protocol(
        base.env_id,
        base.sticky if sticky is None else sticky,
        base.noop_max if noop_max is None else noop_max,
        max_episode_length,
    )
    if protocol.is_atari:
        check_env_settings(protocol.sticky, protocol.noop_max)
        resolve_env_id(protocol.env_id)
    return protocol


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
    protocol: Protocol
    """The settings ``env`` plays with."""


def load_policy(
    checkpoint_arg: str | os.PathLike[str] | None,
    env_id: str | None = None,
    seed: int | None = 0,
    render_mode: str | None = None,
    sticky: float | None = None,
    noop_max: int | None = None,
) -> LoadedPolicy:
    """Load a checkpoint file or run dir (None: the shipped agent for ``env_id``'s game, else Pong's)
    and build its env and network.

    The env plays the checkpoint's training settings (see :func:`evaluation_protocol`): ``env_id``
    overrides the game, ``sticky`` and ``noop_max`` the settings. The network must have as many
    actions as the game. Raises :class:`UserError` for a missing or unusable checkpoint, an unknown
    game, a setting out of range or an action count mismatch. The caller closes ``env``.
    """
    if checkpoint_arg is None:
        from a3c.pretrained import shipped_checkpoint

        checkpoint_arg = shipped_checkpoint(env_id)
    checkpoint = load_checkpoint(checkpoint_arg)
    protocol = evaluation_protocol(checkpoint, env_id, sticky, noop_max)
    if not protocol.is_atari:
        if render_mode is not None:
            raise UserError("the Corridor test task has no screen to render; record an Atari game")
        env = corridor_task().make_env(seed)
    else:
        env = make_atari_env(protocol.env_id, seed, render_mode=render_mode, sticky=protocol.sticky, noop_max=protocol.noop_max)
    try:
        num_actions = int(env.action_space.n)
        if num_actions != int(checkpoint["num_actions"]):
            raise UserError(
                f"checkpoint {checkpoint['path']!r} was trained on {checkpoint['env_id']} with {checkpoint['num_actions']} "
                f"actions, but {protocol.env_id} has {num_actions}"
            )
        model = model_from_checkpoint(checkpoint)
    except BaseException:
        env.close()
        raise
    model.eval()
    return LoadedPolicy(checkpoint, protocol.env_id, env, model, protocol)


# One player per evaluation process (see play_episodes), built by its pool's initializer.
_player: LoadedPolicy | None = None


def _start_player(checkpoint_path: str, protocol: Protocol) -> None:
    global _player
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    torch.set_num_threads(1)
    _player = load_policy(checkpoint_path, protocol.env_id, None, sticky=protocol.sticky, noop_max=protocol.noop_max)


def _play_seed(seed: int, max_episode_length: int) -> EpisodeResult:
    assert _player is not None
    result = play_greedy_episode(_player.model, _player.env, max_episode_length, seed=seed)
    assert result is not None
    return result


def play_episodes(
    checkpoint_path: str, protocol: Protocol, seeds: list[int], processes: int = 1
) -> Iterator[EpisodeResult]:
    """Greedy episodes of a checkpoint, one per seed (each reset with it), in seed order.

    An episode depends only on its seed, so ``processes`` > 1 plays them in parallel (spawned
    processes, one thread each) with the same results as one process.
    """
    if processes <= 1:
        policy = load_policy(checkpoint_path, protocol.env_id, None, sticky=protocol.sticky, noop_max=protocol.noop_max)
        try:
            for seed in seeds:
                result = play_greedy_episode(policy.model, policy.env, protocol.max_episode_length, seed=seed)
                assert result is not None
                yield result
        finally:
            policy.env.close()
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(processes, mp_context=context, initializer=_start_player, initargs=(checkpoint_path, protocol)) as pool:
        try:
            yield from pool.map(functools.partial(_play_seed, max_episode_length=protocol.max_episode_length), seeds)
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
