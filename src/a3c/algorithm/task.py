"""A task pairs an env factory with the network that fits it.

Processes start from a forkserver (or with ``spawn``), so a task must pickle: it holds module-level functions
and ``functools.partial`` objects, never lambdas.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import gymnasium as gym

from a3c.algorithm.envs.atari import check_env_settings, make_atari_env, resolve_env_id
from a3c.algorithm.envs.toy import make_corridor
from a3c.algorithm.envs.wrappers import LifeLossEndsEpisode
from a3c.algorithm.model import ActorCritic, MLPActorCritic, RecurrentActorCritic


class HasSpaces(Protocol):
    """What a network factory reads from an env: its spaces (a vector env's single-env ones will do)."""

    observation_space: gym.Space
    action_space: gym.Space


@dataclass(frozen=True)
class Task:
    env_id: str
    """Name recorded in checkpoints and metrics."""
    make_env: Callable[[int | None], gym.Env]
    """``make_env(seed)`` builds one env seeded with ``seed``."""
    make_model: Callable[[HasSpaces], RecurrentActorCritic]
    """``make_model(env)`` builds a freshly initialised network for ``env``'s spaces."""
    deterministic: bool = False
    """Whatever the seed, one policy always plays the same game: an Atari game with no sticky
    actions, no no-op starts and a fixed frame skip (the ALE is deterministic without them;
    Machado et al. 2018). A greedy evaluation round then needs one episode, not several."""


def _inputs_and_actions(env: HasSpaces) -> tuple[int, gym.spaces.Discrete]:
    shape, actions = env.observation_space.shape, env.action_space
    assert shape is not None and isinstance(actions, gym.spaces.Discrete), "a3c's networks take a Box and act in a Discrete space"
    return shape[0], actions


def conv_model(env: HasSpaces) -> RecurrentActorCritic:
    return ActorCritic(*_inputs_and_actions(env))


def mlp_model(env: HasSpaces) -> RecurrentActorCritic:
    return MLPActorCritic(*_inputs_and_actions(env))


def atari_task(env_id: str, sticky: float | None = None, noop_max: int = 0, frames: str = "seed") -> Task:
    """The seed's setting: a preprocessed Atari game and the conv+LSTM network, with the
    sticky-action probability (None: the id's own) and no-op starts of
    :func:`a3c.algorithm.envs.atari.make_atari_env`.

    Raises :class:`a3c.errors.UserError` at once for an id that is not an Atari game.
    """
    spec = resolve_env_id(env_id)
    check_env_settings(sticky, noop_max)
    sticky_p = spec.repeat_action_probability if sticky is None else sticky
    deterministic = sticky_p == 0 and noop_max == 0 and isinstance(spec.frameskip, int)
    make_env = functools.partial(make_atari_env, env_id, sticky=sticky, noop_max=noop_max, frames=frames)
    return Task(env_id, make_env, conv_model, deterministic)


def corridor_task(length: int = 10, time_limit: int = 20) -> Task:
    """The tiny :class:`a3c.algorithm.envs.toy.Corridor` task with the MLP network, for fast tests."""
    return Task("Corridor", functools.partial(make_corridor, length=length, time_limit=time_limit), mlp_model)


def make_vector_env(
    task: Task, seeds: list[int], max_episode_length: int, terminal_on_life_loss: bool = False
) -> gym.vector.SyncVectorEnv:
    """``len(seeds)`` envs of ``task`` stepped together. An env whose episode ends is reset in the
    same step (its next observation is the new episode's first), and episodes are cut at
    ``max_episode_length`` steps. ``terminal_on_life_loss`` makes each life an episode
    (:func:`training_env`)."""
    fns = [functools.partial(_training_env, task.make_env, seed, max_episode_length, terminal_on_life_loss) for seed in seeds]
    return gym.vector.SyncVectorEnv(fns, autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)


def training_env(env: gym.Env, terminal_on_life_loss: bool) -> gym.Env:
    """The env a worker learns from: ``env``, where ``terminal_on_life_loss`` ends its episodes
    at each lost life as well (:class:`a3c.algorithm.envs.wrappers.LifeLossEndsEpisode`)."""
    return LifeLossEndsEpisode(env) if terminal_on_life_loss else env


def _training_env(make_env: Callable[[int | None], gym.Env], seed: int, max_episode_length: int, terminal_on_life_loss: bool) -> gym.Env:
    # The time limit sits below the lives, so that a cut episode ends the game too.
    return training_env(gym.wrappers.TimeLimit(make_env(seed), max_episode_steps=max_episode_length), terminal_on_life_loss)
