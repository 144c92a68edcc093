"""A checkpoint ready to play: its network and env, and greedy episodes of it in parallel.

Used by ``a3c evaluate``, ``a3c record``, the notebook and the benchmarks. Without a checkpoint,
the agent shipped for the game (:mod:`a3c.pretrained`) plays.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import torch

from a3c.algorithm.envs.atari import make_atari_env
from a3c.algorithm.evaluation import (
    EpisodeResult,
    Protocol,
    evaluation_protocol,
    play_greedy_episode,
)
from a3c.algorithm.model import RecurrentActorCritic
from a3c.algorithm.task import corridor_task
from a3c.errors import UserError
from a3c.runtime.checkpoint import load_checkpoint, model_from_checkpoint


@dataclass
class LoadedPolicy:
    """A checkpoint's network, ready for greedy play, and the env it plays."""

    checkpoint: dict[str, Any]
    """As :func:`a3c.runtime.checkpoint.load_checkpoint` returns it; ``checkpoint["path"]`` is the file used."""
    env_id: str
    """The game played: ``--env`` if given, else the checkpoint's."""
    env: gym.Env
    model: RecurrentActorCritic
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
    stuck_guard: str = "screen",
) -> LoadedPolicy:
    """Load a checkpoint file or run dir (None: the shipped agent for ``env_id``'s game, else Pong's)
    and build its env and network.

    The env plays the checkpoint's training settings (see :func:`evaluation_protocol`): ``env_id``
    overrides the game, ``sticky`` and ``noop_max`` the settings, and ``stuck_guard`` is the rule of
    the protocol's stuck guard. The network must have as many
    actions as the game. Raises :class:`UserError` for a missing or unusable checkpoint, an unknown
    game, a setting out of range or an action count mismatch. The caller closes ``env``.
    """
    if checkpoint_arg is None:
        from a3c.pretrained import shipped_checkpoint

        checkpoint_arg = shipped_checkpoint(env_id)
    checkpoint = load_checkpoint(checkpoint_arg)
    protocol = evaluation_protocol(checkpoint, env_id, sticky, noop_max, stuck_guard=stuck_guard)
    if not protocol.is_atari:
        if render_mode is not None:
            raise UserError("the Corridor test task has no screen to render; record an Atari game")
        env = corridor_task().make_env(seed)
    else:
        frames = str((checkpoint.get("config") or {}).get("frames", "seed"))  # what the network was trained to see
        env = make_atari_env(protocol.env_id, seed, render_mode=render_mode, sticky=protocol.sticky, noop_max=protocol.noop_max, frames=frames)
    try:
        assert isinstance(env.action_space, gym.spaces.Discrete)
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

    from a3c.runtime.shared import continue_when_orphaned

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    continue_when_orphaned()  # so that the forkserver goes with the parent
    torch.set_num_threads(1)
    _player = load_policy(checkpoint_path, protocol.env_id, None, sticky=protocol.sticky, noop_max=protocol.noop_max)


def _play_seed(seed: int, protocol: Protocol) -> EpisodeResult:
    assert _player is not None
    result = play_greedy_episode(_player.model, _player.env, protocol.max_episode_length, protocol.stuck_guard, seed=seed)
    assert result is not None
    return result


def play_episodes(
    checkpoint_path: str, protocol: Protocol, seeds: list[int], processes: int = 1
) -> Iterator[EpisodeResult]:
    """Greedy episodes of a checkpoint, one per seed (each reset with it), in seed order.

    An episode depends only on its seed, so ``processes`` > 1 plays them in parallel (child
    processes, one thread each) with the same results as one process.
    """
    if processes <= 1:
        policy = load_policy(checkpoint_path, protocol.env_id, None, sticky=protocol.sticky, noop_max=protocol.noop_max)
        try:
            for seed in seeds:
                result = play_greedy_episode(policy.model, policy.env, protocol.max_episode_length, protocol.stuck_guard, seed=seed)
                assert result is not None
                yield result
        finally:
            policy.env.close()
        return
    from concurrent.futures import ProcessPoolExecutor

    from a3c.runtime.shared import process_context

    context = process_context(preload=[__name__])
    with ProcessPoolExecutor(processes, mp_context=context, initializer=_start_player, initargs=(checkpoint_path, protocol)) as pool:
        try:
            yield from pool.map(functools.partial(_play_seed, protocol=protocol), seeds)
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
