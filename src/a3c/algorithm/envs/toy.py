"""A tiny vector-observation task that A3C learns in seconds and a random policy fails.

Used by the fast learning test and handy for trying the training loop without Atari.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np


class Corridor(gym.Env):
    """Walk from the left end of a corridor to the right end before time runs out.

    Observation: one-hot position (float32, shape ``(length,)``). Actions: 0 = left,
    1 = stay, 2 = right. Reward +1 on reaching the right end (episode terminates), else 0.
    Episodes are truncated after ``time_limit`` steps.

    With the defaults (length 10, 20 steps) a uniform random policy reaches the goal in
    under 2% of episodes; walking right takes 9 steps and scores 1.
    """

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(self, length: int = 10, time_limit: int = 20) -> None:
        self.length = length
        self.time_limit = time_limit
        self.observation_space = gym.spaces.Box(0.0, 1.0, (length,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(3)
        self._position = 0
        self._t = 0

    def _obs(self) -> np.ndarray:
        obs = np.zeros(self.length, dtype=np.float32)
        obs[self._position] = 1.0
        return obs

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self._position = 0
        self._t = 0
        return self._obs(), {}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict]:
        self._t += 1
        self._position = int(np.clip(self._position + int(action) - 1, 0, self.length - 1))
        terminated = self._position == self.length - 1
        truncated = not terminated and self._t >= self.time_limit
        return self._obs(), float(terminated), terminated, truncated, {}


CORRIDOR_ID = "a3c/Corridor-v0"
"""Registered with gymnasium, so that a Corridor env has a spec and ``env.spec.make()`` rebuilds it."""

if CORRIDOR_ID not in gym.registry:
    gym.register(CORRIDOR_ID, entry_point=f"{__name__}:Corridor")


def make_corridor(seed: int | None = None, length: int = 10, time_limit: int = 20) -> gym.Env:
    """Env factory with the same signature shape as :func:`a3c.algorithm.envs.make_atari_env`."""
    env = gym.make(CORRIDOR_ID, length=length, time_limit=time_limit)
    env.reset(seed=seed)
    env.action_space.seed(seed)
    return env
