"""Every Atari game, not just Pong: Breakout trains, evaluates and records end to end."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.slow


def test_breakout_trains_evaluates_and_records(tmp_path, run_cli):
    import imageio.v3 as iio

    from a3c.checkpoint import load_checkpoint

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


def test_envs_lists_games_that_all_resolve():
    from a3c.envs.atari import atari_games, resolve_env_id

    games = atari_games()
    assert {"Pong", "Breakout", "SpaceInvaders", "Seaquest", "MsPacman"} <= set(games)
    for game in games:
        assert resolve_env_id(f"{game}NoFrameskip-v4").ale_id == f"ALE/{game}-v5"
