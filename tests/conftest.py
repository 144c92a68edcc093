"""Shared test helpers: tiny envs with known rewards, and a way to run the CLI in-process."""

from __future__ import annotations

import os
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")


class ScriptedRewardEnv(gym.Env):
    """Vector obs; the reward at step t is ``rewards[t]``; the episode ends after ``len(rewards)`` steps."""

    def __init__(self, rewards: list[float], obs_dim: int = 4) -> None:
        self.rewards = rewards
        self.observation_space = gym.spaces.Box(-1.0, 1.0, (obs_dim,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self.t = 0

    def _obs(self) -> np.ndarray:
        return np.full(self.observation_space.shape, np.sin(self.t), dtype=np.float32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.t = 0
        return self._obs(), {}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict]:
        reward = self.rewards[self.t]
        self.t += 1
        return self._obs(), reward, self.t >= len(self.rewards), False, {}


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]):
    """Run ``a3c ARGS`` in-process; return (exit code, stdout, stderr)."""
    from a3c.cli import main

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def sigint_as_in_a_terminal():
    """Python's own Ctrl-C handler in this process, as in a terminal, for the test's duration: a
    test run started in the background (``nohup pytest &``) has SIGINT ignored."""
    import signal

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)
