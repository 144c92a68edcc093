import datetime as dt

import torch

from a3c.evaluator import STUCK_REPEATS, play_greedy_episode
from a3c.model import MLPActorCritic
from a3c.run_dir import default_run_dir

from conftest import ScriptedRewardEnv


class FixedPolicy(MLPActorCritic):
    """Greedy action = ``action_fn(step)``."""

    def __init__(self, action_fn):
        super().__init__(4, 2)
        self.action_fn = action_fn
        self.t = 0

    def forward(self, obs, hidden=None):
        value, logits, hidden = super().forward(obs, hidden)
        logits = torch.zeros_like(logits)
        logits[0, self.action_fn(self.t)] = 1.0
        self.t += 1
        return value, logits, hidden


def test_stuck_guard_ends_an_episode_after_100_identical_actions():
    env = ScriptedRewardEnv([1.0] * 1000)
    result = play_greedy_episode(FixedPolicy(lambda t: 0), env, max_episode_length=10_000)
    assert result.ended_by == "stuck" and result.length == STUCK_REPEATS == 100
    assert result.reward == 100.0


def test_varied_actions_play_to_the_end_or_the_length_cap():
    alternating = FixedPolicy(lambda t: t % 2)
    result = play_greedy_episode(alternating, ScriptedRewardEnv([-2.0] * 250), max_episode_length=10_000)
    assert (result.ended_by, result.length, result.reward) == ("terminated", 250, -500.0)  # raw, unclipped
    result = play_greedy_episode(FixedPolicy(lambda t: t % 2), ScriptedRewardEnv([0.0] * 250), max_episode_length=30)
    assert (result.ended_by, result.length) == ("max_length", 30)


def test_should_stop_abandons_the_episode():
    calls = iter(range(1000))
    result = play_greedy_episode(
        FixedPolicy(lambda t: t % 2), ScriptedRewardEnv([0.0] * 250), 10_000, should_stop=lambda: next(calls) >= 5
    )
    assert result is None


def test_default_run_dir_names_the_env_and_time():
    path = default_run_dir("ALE/Pong-v5", dt.datetime(2026, 11, 25, 14, 5, 9))
    assert str(path) == "runs/ALE-Pong-v5-20261125-140509"
