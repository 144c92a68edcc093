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
                           "--max-steps", "1000", "--eval-interval", "0", "--run-dir", str(run), "--quiet")
    assert code == 0, err
    latest = load_checkpoint(run / "checkpoints" / "latest.pt")
    assert latest["env_id"] == "BreakoutDeterministic-v4" and latest["num_actions"] == 4 and latest["global_step"] >= 1000

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
