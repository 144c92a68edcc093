"""Every Atari game, not just Pong: the games of our results table play through our wrappers
under the field's protocol, and Breakout trains, evaluates and records end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest

# The games of benchmarks/games.py; lives, FIRE to start and more actions than Pong are where
# wrapper bugs hide. (game, actions, lives at the start, waits for FIRE)
SHIPPED_GAMES = [
    ("Pong", 6, 0, False),
    ("Breakout", 4, 5, True),
    ("SpaceInvaders", 6, 3, False),
    ("Seaquest", 18, 4, False),
    ("BeamRider", 9, 3, False),
]


@pytest.mark.parametrize("game, actions, lives, fire", SHIPPED_GAMES, ids=[g[0] for g in SHIPPED_GAMES])
def test_each_results_game_plays_a_whole_episode_under_sticky_actions_and_noop_starts(game, actions, lives, fire):
    from a3c.algorithm.envs.atari import make_atari_env, waits_for_fire
    from a3c.algorithm.envs.wrappers import FireAtLifeStart, NoopStart

    env = make_atari_env(f"ALE/{game}-v5", seed=0, noop_max=30)
    assert env.unwrapped.ale.getFloat("repeat_action_probability") == pytest.approx(0.25)
    assert env.action_space.n == actions and waits_for_fire(game) == fire
    stack = []
    layer = env
    while hasattr(layer, "env"):
        stack.append(type(layer))
        layer = layer.env
    assert NoopStart in stack and (FireAtLifeStart in stack) == fire
    if fire:  # the no-ops come before FIRE, or FIRE would be pressed into a game not yet started
        assert stack.index(FireAtLifeStart) < stack.index(NoopStart)
    obs, info = env.reset(seed=1)
    assert info["lives"] == lives and 0 <= info["noops"] <= 30
    rng = np.random.default_rng(0)
    seen = [info["lives"]]
    for _ in range(5000):
        obs, reward, terminated, truncated, info = env.step(int(rng.integers(actions)))
        assert obs.shape == (1, 42, 42) and np.isfinite(obs).all()
        seen.append(info["lives"])
        if terminated or truncated:
            break
    # A random policy loses every life, one at a time, and the game ends: never a hang.
    assert terminated and seen[-1] == 0
    assert all(a >= b for a, b in zip(seen, seen[1:], strict=False)) and set(seen) == set(range(lives + 1))
    env.close()


def test_breakout_with_noop_starts_still_launches_every_ball():
    from a3c.algorithm.envs.atari import make_atari_env

    env = make_atari_env("ALE/Breakout-v5", seed=0, noop_max=30)
    env.reset(seed=2)
    for _ in range(3000):  # NOOP only: every life is lost only if FIRE launched each ball
        _, _, terminated, truncated, info = env.step(0)
        if terminated or truncated:
            break
    assert terminated and info["lives"] == 0
    env.close()


@pytest.mark.slow
def test_breakout_trains_evaluates_and_records(tmp_path, run_cli):
    import imageio.v3 as iio

    from a3c.runtime.checkpoint import load_checkpoint

    run = tmp_path / "breakout"
    code, _, err = run_cli("train", "--env", "BreakoutDeterministic-v4", "--num-processes", "2", "--envs-per-worker", "2",
                           "--max-steps", "1000", "--eval-interval", "0", "--terminal-on-life-loss", "--run-dir", str(run), "--quiet")
    assert code == 0, err
    latest = load_checkpoint(run / "checkpoints" / "latest.pt")
    assert latest["env_id"] == "BreakoutDeterministic-v4" and latest["num_actions"] == 4 and latest["global_step"] >= 1000
    assert latest["config"]["terminal_on_life_loss"] is True

    # An untrained greedy policy may never press FIRE; the env launches each ball, so every
    # episode is really played (or ends by the stuck guard), never hangs.
    code, out, err = run_cli("evaluate", "--checkpoint", str(run / "checkpoints" / "latest.pt"), "--episodes", "1",
                             "--max-episode-length", "1000", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["env_id"] == "BreakoutDeterministic-v4" and len(report["episodes"]) == 1
    assert set(report["ended_by"]) <= {"terminated", "stuck", "max_length"}

    out = tmp_path / "breakout.gif"
    code, _, err = run_cli("record", "--checkpoint", str(run), "--out", str(out), "--max-episode-length", "40")
    assert code == 0, err
    frames = iio.imread(out, index=None)
    assert frames.shape[1:3] == (210, 160) and frames.shape[0] == 40  # one frame per agent step

    # A Breakout checkpoint refuses to play Pong, which has 6 actions.
    code, _, err = run_cli("evaluate", "--checkpoint", str(run), "--env", "PongDeterministic-v4", "--episodes", "1")
    assert code == 2 and "with 4 actions, but PongDeterministic-v4 has 6" in err


@pytest.mark.slow
def test_envs_lists_games_that_all_resolve():
    from a3c.algorithm.envs.atari import atari_games, resolve_env_id

    games = atari_games()
    assert {"Pong", "Breakout", "SpaceInvaders", "Seaquest", "MsPacman"} <= set(games)
    for game in games:
        assert resolve_env_id(f"{game}NoFrameskip-v4").ale_id == f"ALE/{game}-v5"


class _Hold:
    """A greedy policy that ignores what it sees and always picks ``action``."""

    def __init__(self, action: int, actions: int) -> None:
        self.action, self.actions = action, actions

    def initial_state(self, n: int = 1):
        import torch

        return torch.zeros(n, 1), torch.zeros(n, 1)

    def __call__(self, obs, hidden):
        import torch

        logits = torch.zeros(obs.shape[0], self.actions)
        logits[:, self.action] = 1.0
        return torch.zeros(obs.shape[0], 1), logits, hidden


@pytest.mark.parametrize("game", ["SpaceInvaders", "BeamRider"])
def test_holding_fire_is_play_not_a_stuck_agent(game):
    """The seed's stuck guard (100 identical actions) cut most greedy episodes of these games short,
    scores included; the screen guard lets an agent that holds FIRE play its game out."""
    from a3c.algorithm.envs.atari import make_atari_env
    from a3c.algorithm.evaluation import STUCK_REPEATS, play_greedy_episode

    fire = 1
    env = make_atari_env(f"ALE/{game}-v5", seed=0)
    assert env.unwrapped.get_action_meanings()[fire] == "FIRE"
    seed_rule = play_greedy_episode(_Hold(fire, env.action_space.n), env, 100_000, "actions", seed=3)
    assert (seed_rule.ended_by, seed_rule.length) == ("stuck", STUCK_REPEATS)
    screen_rule = play_greedy_episode(_Hold(fire, env.action_space.n), env, 6 * STUCK_REPEATS, "screen", seed=3)
    assert screen_rule.ended_by == "max_length"  # still playing, and scoring, when the test's cap came
    assert screen_rule.reward > seed_rule.reward
    env.close()


def test_the_screen_guard_ends_breakout_waiting_for_a_fire_that_never_comes():
    """Breakout without our FIRE wrapper shows a still screen until FIRE: with NOOPs only, the
    episode would run to the ALE's 108,000-frame cap; the screen guard ends it after 100 steps."""
    import gymnasium as gym

    from a3c.algorithm.envs.wrappers import FireAtLifeStart
    from a3c.algorithm.evaluation import STUCK_REPEATS, play_greedy_episode

    env = make_atari_env_without(FireAtLifeStart, "ALE/Breakout-v5")
    assert isinstance(env, gym.Env)
    result = play_greedy_episode(_Hold(0, 4), env, 100_000, "screen", seed=0)
    assert (result.ended_by, result.reward) == ("stuck", 0.0) and result.length == STUCK_REPEATS
    env.close()


def make_atari_env_without(wrapper: type, env_id: str):
    """``make_atari_env(env_id)`` with one wrapper layer taken out of its stack."""
    from a3c.algorithm.envs.atari import make_atari_env

    outer = env = make_atari_env(env_id, seed=0)
    while hasattr(env, "env"):
        if isinstance(env.env, wrapper):
            env.env = env.env.env
            return outer
        env = env.env
    raise AssertionError(f"{env_id} has no {wrapper.__name__}")
