"""``--terminal-on-life-loss``: each lost life ends an episode for the learner while the game
plays on; workers still report whole games' scores, and evaluation never sees the wrapper."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from conftest import ScriptedRewardEnv

from a3c.algorithm.config import TrainConfig
from a3c.algorithm.envs.wrappers import LifeLossEndsEpisode
from a3c.algorithm.model import MLPActorCritic
from a3c.algorithm.seeding import seed_process
from a3c.algorithm.task import Task, make_vector_env, mlp_model
from a3c.algorithm.worker import BatchedWorker, GroupedWorker, Worker, build_envs_and_model
from a3c.runtime.shared import SharedState, process_context


class LivesEnv(ScriptedRewardEnv):
    """A game of ``lives`` lives, each lost after ``life_steps`` steps; reward 1 a step, so that a
    whole game scores ``lives * life_steps``."""

    def __init__(self, lives: int = 3, life_steps: int = 3) -> None:
        super().__init__([1.0] * (lives * life_steps))
        self.total_lives, self.life_steps = lives, life_steps

    def _lives(self) -> int:
        return self.total_lives - self.t // self.life_steps

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        obs, info = super().reset(seed=seed, options=options)
        self.resets = getattr(self, "resets", 0) + 1
        return obs, {**info, "lives": self._lives()}

    def step(self, action: int):
        obs, reward, terminated, truncated, info = super().step(action)
        return obs, reward, terminated, truncated, {**info, "lives": self._lives()}


def test_a_lost_life_ends_the_episode_and_the_reset_after_it_plays_the_same_game_on():
    env = LifeLossEndsEpisode(LivesEnv(lives=3, life_steps=3))
    obs, info = env.reset(seed=0)
    assert info["new_game"] and info["lives"] == 3
    ends = []
    for step in range(1, 10):
        obs, _, terminated, truncated, info = env.step(0)
        if terminated:
            ends.append(step)
            before = obs
            obs, info = env.reset()
            if step < 9:  # a life lost: the same game, from the last observation, not a new one
                assert not info["new_game"] and info["lives"] == 3 - step // 3
                np.testing.assert_array_equal(obs, before)
            else:
                assert info["new_game"] and info["lives"] == 3
    assert ends == [3, 6, 9] and env.unwrapped.resets == 2  # the game was reset once, at its end, after the first reset


def test_a_game_without_lives_passes_through_and_a_seeded_reset_always_starts_a_new_game():
    env = LifeLossEndsEpisode(ScriptedRewardEnv([1.0] * 5))
    env.reset(seed=0)
    ends = [env.step(0)[2] for _ in range(5)]
    assert ends == [False] * 4 + [True]
    life = LifeLossEndsEpisode(LivesEnv(lives=3, life_steps=2))
    life.reset(seed=0)
    life.step(0), life.step(0)  # a life lost
    assert life.reset(seed=1)[1]["new_game"]


def test_a_time_limit_ends_the_game_not_only_the_life():
    envs = make_vector_env(Task("Lives", lambda seed: LivesEnv(lives=3, life_steps=4), mlp_model), [0], max_episode_length=6,
                           terminal_on_life_loss=True)
    envs.reset(seed=[0])
    steps = [envs.step(np.array([0])) for _ in range(6)]
    # Step 4 lost a life: terminated, and the game plays on with 2 lives.
    _, _, terminated, truncated, infos = steps[3]
    assert terminated[0] and not truncated[0] and not infos["new_game"][0] and infos["lives"][0] == 2
    # Step 6 hit the limit: truncated, and a new game began with 3 lives.
    _, _, terminated, truncated, infos = steps[5]
    assert truncated[0] and infos["new_game"][0] and infos["lives"][0] == 3
    envs.close()


def _batched(cls: type[Worker], config: TrainConfig):
    seed_process(0)
    envs = make_vector_env(Task("Lives", lambda seed: LivesEnv(lives=3, life_steps=2 + seed), mlp_model), [0, 1],
                           max_episode_length=1000, terminal_on_life_loss=True)
    shared = SharedState.create(MLPActorCritic(4, 2), None, process_context())
    return cls(config, envs, MLPActorCritic(4, 2), shared.worker_link(0, 10**9), None)


@pytest.mark.parametrize("cls", [BatchedWorker, GroupedWorker])
def test_batched_workers_learn_from_lives_and_report_whole_games(cls):
    config = TrainConfig(env_name="Lives", num_processes=1, num_steps=10, envs_per_worker=2, update_groups=1 if cls is BatchedWorker else 2,
                         terminal_on_life_loss=True)
    worker = _batched(cls, config)
    rollout = worker.rollout()
    returns = list(rollout.episode_returns)
    if cls is GroupedWorker:
        rollout2 = worker.rollout()  # the second group of the same experience
        returns += rollout2.episode_returns
        dones = torch.cat([rollout.dones, rollout2.dones], dim=1)
    else:
        dones = rollout.dones
    # Env 0 loses a life every 2 steps, env 1 every 3: each loss is an episode end for the learner...
    assert dones[:, 0].nonzero().flatten().tolist() == [1, 3, 5, 7, 9]
    assert dones[:, 1].nonzero().flatten().tolist() == [2, 5, 8]
    # ...and only whole games (3 lives) are scored: env 0's at step 6, env 1's at step 9.
    assert sorted(returns) == [6.0, 9.0]


def test_the_classic_worker_learns_from_lives_and_reports_whole_games():
    seed_process(0)
    config = TrainConfig(env_name="Lives", num_processes=1, num_steps=20, terminal_on_life_loss=True)
    shared = SharedState.create(MLPActorCritic(4, 2), None, process_context())
    worker = Worker(config, LifeLossEndsEpisode(LivesEnv(lives=3, life_steps=2)), MLPActorCritic(4, 2), shared.worker_link(0, 10**9), None)
    worker.obs, _ = worker.env.reset(seed=0)
    lengths, returns = [], []
    for _ in range(6):
        rollout = worker.rollout()
        lengths.append(len(rollout.rewards))
        returns += rollout.episode_returns
        assert rollout.done  # every rollout ended at a lost life: bootstrapped from 0
    assert lengths == [2] * 6 and returns == [6.0, 6.0]


def test_workers_build_the_life_loss_env_only_when_asked_and_the_evaluator_never():
    from a3c.algorithm.evaluation import build_evaluator
    from a3c.algorithm.task import atari_task

    task = atari_task("ALE/Breakout-v5")
    for k in (1, 2):
        config = TrainConfig(env_name="ALE/Breakout-v5", num_processes=1, envs_per_worker=k, terminal_on_life_loss=True)
        env, _ = build_envs_and_model(0, config, task)
        single = env if k == 1 else env.envs[0]
        assert isinstance(single, LifeLossEndsEpisode)
        env.close()
        plain, _ = build_envs_and_model(0, TrainConfig(env_name="ALE/Breakout-v5", num_processes=1, envs_per_worker=k), task)
        assert not isinstance(plain if k == 1 else plain.envs[0], LifeLossEndsEpisode)
        plain.close()
    config = TrainConfig(env_name="ALE/Breakout-v5", num_processes=1, eval_episodes=2, terminal_on_life_loss=True)
    envs, _, _ = build_evaluator(1, config, task)
    assert not any(isinstance(e, LifeLossEndsEpisode) for e in envs)


def test_breakout_loses_five_lives_as_five_episodes_of_one_game():
    from a3c.algorithm.envs.atari import make_atari_env

    env = LifeLossEndsEpisode(make_atari_env("ALE/Breakout-v5", seed=0))
    env.reset(seed=3)
    ends, lives, new_games = 0, [], []
    for _ in range(5000):  # NOOP: our FIRE wrapper launches each ball, and each is lost
        _, _, terminated, truncated, info = env.step(0)
        if terminated or truncated:
            ends += 1
            _, info = env.reset()
            lives.append(info["lives"])
            new_games.append(info["new_game"])
            if info["new_game"]:
                break
    assert ends == 5 and lives == [4, 3, 2, 1, 5] and new_games == [False] * 4 + [True]
    env.close()


def test_the_flag_is_on_in_the_breakout_preset_only():
    # A whole run with it on: tests/test_games.py::test_breakout_trains_evaluates_and_records.
    from a3c.algorithm.config import resolve_config

    assert not any(resolve_config(name).terminal_on_life_loss for name in ("seed", "seed-quick", "seed-16", "fast"))
    assert resolve_config("breakout").terminal_on_life_loss


def test_a_flag_turns_off_what_the_breakout_preset_turns_on():
    from a3c.algorithm.config import resolve_config
    from a3c.cli import build_parser

    parser = build_parser()
    off = parser.parse_args(["train", "--preset", "breakout", "--no-terminal-on-life-loss"])
    assert off.terminal_on_life_loss is False
    assert resolve_config("breakout", terminal_on_life_loss=off.terminal_on_life_loss).terminal_on_life_loss is False
    assert parser.parse_args(["train", "--terminal-on-life-loss"]).terminal_on_life_loss is True
    assert not hasattr(parser.parse_args(["train", "--preset", "breakout"]), "terminal_on_life_loss")  # the preset decides
    assert parser.parse_args(["train", "--no-shared"]).no_shared is True  # not --no-no-shared
