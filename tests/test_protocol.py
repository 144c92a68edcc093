"""The evaluation protocol: sticky actions and no-op starts really act, checkpoints carry the
settings they were trained with, and ``a3c evaluate`` reports what it played."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from a3c.algorithm.envs import make_atari_env
from a3c.errors import UserError


def _ram_after(env_id: str, action: int, sticky: float | None, steps: int = 40) -> np.ndarray:
    env = make_atari_env(env_id, seed=0, sticky=sticky)
    env.reset()
    for _ in range(steps):
        env.step(action)
    ram = env.unwrapped.ale.getRAM().copy()
    env.close()
    return ram


def test_sticky_actions_really_repeat_the_previous_action():
    up = 2  # Pong's RIGHT, which moves the paddle up
    # Without sticky actions, pressing UP moves the paddle: the console RAM differs from NOOPs'.
    assert not np.array_equal(_ram_after("PongDeterministic-v4", up, 0.0), _ram_after("PongDeterministic-v4", 0, 0.0))
    # With probability 1 every frame repeats the previous action, the reset's NOOP: UP never acts.
    np.testing.assert_array_equal(_ram_after("PongDeterministic-v4", up, 1.0), _ram_after("PongDeterministic-v4", 0, 1.0))
    # The setting reaches the emulator, over the id's own (0.25 for v5, 0 for Deterministic-v4).
    for env_id, sticky, expected in [("ALE/Pong-v5", None, 0.25), ("ALE/Pong-v5", 0.0, 0.0), ("PongDeterministic-v4", 0.25, 0.25)]:
        env = make_atari_env(env_id, seed=0, sticky=sticky)
        assert env.unwrapped.ale.getFloat("repeat_action_probability") == pytest.approx(expected)
        env.close()


def test_noop_starts_take_0_to_n_noops_after_each_reset_reproducibly():
    env = make_atari_env("PongDeterministic-v4", seed=0, noop_max=30)
    counts = []
    for seed in range(8):
        _, info = env.reset(seed=seed)
        # Each no-op is a real agent step of 4 frames on the emulator.
        assert env.unwrapped.ale.getEpisodeFrameNumber() == 4 * info["noops"]
        counts.append(info["noops"])
    assert all(0 <= n <= 30 for n in counts) and len(set(counts)) >= 4
    assert [env.reset(seed=seed)[1]["noops"] for seed in range(8)] == counts  # a seed fixes them
    env.close()
    plain = make_atari_env("PongDeterministic-v4", seed=0)
    plain.reset(seed=3)
    assert plain.unwrapped.ale.getEpisodeFrameNumber() == 0
    plain.close()


def test_out_of_range_settings_get_one_clear_line():
    from a3c.algorithm.config import TrainConfig

    with pytest.raises(UserError, match=r"^--sticky must be a probability in \[0, 1\], got 1.5$"):
        make_atari_env("ALE/Pong-v5", sticky=1.5)
    with pytest.raises(UserError, match=r"^--noop-max must be an integer >= 0, got -1$"):
        make_atari_env("ALE/Pong-v5", noop_max=-1)
    with pytest.raises(UserError, match="--sticky"):
        TrainConfig(sticky=-0.1).validate()
    with pytest.raises(UserError, match="--eval-episodes"):
        TrainConfig(eval_episodes=0).validate()


def test_a_training_task_plays_its_configs_settings():
    from a3c.algorithm.task import atari_task

    env = atari_task("PongDeterministic-v4", sticky=0.5, noop_max=7).make_env(0)
    assert env.unwrapped.ale.getFloat("repeat_action_probability") == pytest.approx(0.5)
    _, info = env.reset(seed=1)
    assert 0 <= info["noops"] <= 7
    env.close()


def _checkpoint(env_id: str, **config) -> dict:
    return {"env_id": env_id, "config": config}


def test_evaluate_plays_the_checkpoints_training_settings_unless_told_otherwise():
    from a3c.algorithm.evaluation import evaluation_protocol

    trained = _checkpoint("PongDeterministic-v4", sticky=0.25, noop_max=30)
    p = evaluation_protocol(trained)
    assert (p.env_id, p.sticky, p.noop_max) == ("PongDeterministic-v4", 0.25, 30)
    assert p.to_dict()["sticky"] == 0.25 and p.to_dict()["frameskip"] == 4
    # Flags override the trained settings.
    p = evaluation_protocol(trained, sticky=0.0, noop_max=0)
    assert (p.sticky, p.noop_max) == (0.0, 0)
    # Another id brings its own settings: v5's sticky actions, no no-ops.
    p = evaluation_protocol(trained, env_id="ALE/Pong-v5")
    assert (p.sticky, p.noop_max, p.to_dict()["sticky"]) == (None, 0, 0.25)
    # A checkpoint from before these settings (the shipped one's config has none): the id's own.
    p = evaluation_protocol(_checkpoint("PongDeterministic-v4", lr=1e-4))
    assert p.to_dict()["sticky"] == 0.0 and p.noop_max == 0
    assert "sticky actions 0, no no-op starts" in p.describe()
    assert "sticky actions 0.25, 0-30 random no-op starts" in evaluation_protocol(trained).describe()


def test_evaluate_reports_its_protocol_and_statistics(run_cli):
    code, out, err = run_cli("evaluate", "--env", "ALE/Pong-v5", "--noop-max", "30", "--episodes", "2",
                             "--max-episode-length", "60", "--num-processes", "1", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["protocol"] == {"env_id": "ALE/Pong-v5", "frameskip": 4, "sticky": 0.25, "noop_max": 30,
                                  "max_episode_length": 60, "policy": "greedy (argmax)", "stuck_guard": "screen",
                                  "stuck_steps": 100}
    assert report["num_episodes"] == 2 and report["seeds"] == [0, 1] and len(report["episodes"]) == 2
    for key in ("mean_reward", "std_reward", "min_reward", "max_reward"):
        assert isinstance(report[key], float)

    code, out, err = run_cli("evaluate", "--sticky", "0.5", "--episodes", "1", "--max-episode-length", "30", "--num-processes", "1")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[1].startswith("protocol: ALE/Pong-v5: frameskip 4, sticky actions 0.5, no no-op starts")  # the agent's game, our P
    assert lines[-1].startswith("1 episodes: mean ")

    code, out, err = run_cli("evaluate", "--stuck-guard", "actions", "--episodes", "1", "--max-episode-length", "30",
                             "--num-processes", "1", "--json")
    assert code == 0, err and json.loads(out)["protocol"]["stuck_guard"] == "actions"

    for flags, fragment in [(["--sticky", "1.1"], "--sticky: must be a probability"), (["--noop-max", "x"], "--noop-max: expected an integer"),
                            (["--stuck-guard", "never"], "--stuck-guard: invalid choice")]:
        code, out, err = run_cli("evaluate", *flags)
        assert code == 2 and err.startswith("a3c: error:") and fragment in err and err.count("\n") == 1


@pytest.mark.slow
def test_parallel_episodes_play_exactly_as_one_process_does(run_cli):
    flags = ["evaluate", "--env", "ALE/Pong-v5", "--noop-max", "30", "--episodes", "3", "--seed", "7",
             "--max-episode-length", "300", "--json"]
    code, serial, err = run_cli(*flags, "--num-processes", "1")
    assert code == 0, err
    code, parallel, err = run_cli(*flags, "--num-processes", "2")
    assert code == 0, err
    a, b = json.loads(serial), json.loads(parallel)
    assert (a["episodes"], a["lengths"]) == (b["episodes"], b["lengths"])
    assert a["seeds"] == [7, 8, 9]


def test_without_a_checkpoint_the_games_shipped_agent_plays_or_one_line_says_none_ships(run_cli):
    from a3c import pretrained
    from a3c.pretrained import shipped_checkpoint, shipped_games

    assert "pong" in shipped_games()
    assert shipped_checkpoint().name == "pong.pt" and shipped_checkpoint("ALE/Pong-v5") == shipped_checkpoint()
    assert "seaquest" not in shipped_games()
    code, _, err = run_cli("evaluate", "--env", "ALE/Seaquest-v5", "--episodes", "1")
    assert code == 2 and "no agent for Seaquest ships with a3c" in err and "--checkpoint" in err
    from a3c.runtime.checkpoint import load_checkpoint

    for game in shipped_games():  # each shipped agent plays its own game when none is named
        env_id = load_checkpoint(Path(pretrained.__file__).parent / f"{game}.pt")["env_id"]
        code, out, err = run_cli("evaluate", "--env", env_id, "--episodes", "1", "--max-episode-length", "50", "--json")
        report = json.loads(out)
        assert code == 0 and report["checkpoint"].endswith(f"pretrained/{game}.pt") and report["protocol"]["env_id"] == env_id
    code, _, err = run_cli("evaluate", "--env", "Pongg-v4", "--episodes", "1")
    assert code == 2 and "did you mean 'Pong-v4'" in err


@pytest.mark.slow
def test_no_process_prints_the_ale_banner_onto_the_terminal():
    import subprocess
    import sys

    # Two spawned players build an Atari env each; the ALE's C++ banner would go straight to fd 1.
    done = subprocess.run(
        [sys.executable, "-m", "a3c", "evaluate", "--episodes", "2", "--num-processes", "2", "--max-episode-length", "20"],
        capture_output=True, text=True, timeout=240,
    )
    assert done.returncode == 0, done.stderr
    assert "A.L.E" not in done.stdout + done.stderr and "Stella" not in done.stdout + done.stderr
    assert done.stdout.splitlines()[-1].startswith("2 episodes: mean 0.00")


@pytest.mark.parametrize(
    "env_id, sticky, noop_max, deterministic",
    [
        ("PongDeterministic-v4", None, 0, True),
        ("ALE/Pong-v5", None, 0, False),  # sticky actions
        ("ALE/Pong-v5", 0.0, 0, True),
        ("PongDeterministic-v4", None, 30, False),  # no-op starts
        ("Pong-v4", None, 0, False),  # a random frame skip, 2 to 4
    ],
)
def test_a_task_knows_whether_one_policy_always_plays_the_same_game(env_id, sticky, noop_max, deterministic):
    from a3c.algorithm.task import atari_task

    assert atari_task(env_id, sticky, noop_max).deterministic == deterministic


@pytest.mark.parametrize("env_id, same", [("PongDeterministic-v4", True), ("ALE/Pong-v5", False)])
def test_a_deterministic_game_is_one_game_whatever_the_seed(env_id, same):
    """The premise of one-episode rounds: the same actions give the same screens under any seed."""
    from a3c.algorithm.task import atari_task

    task = atari_task(env_id)
    plays = []
    for seed in (1, 2):
        env = task.make_env(seed)
        env.reset(seed=seed)
        rng = np.random.default_rng(0)
        screens = []
        for _ in range(300):
            env.step(int(rng.integers(env.action_space.n)))
            screens.append(env.unwrapped.ale.getScreen().tobytes())
        plays.append(screens)
        env.close()
    assert (plays[0] == plays[1]) == same


def test_a_deterministic_games_rounds_are_one_episode_and_a_resumed_run_keeps_its_own(tmp_path):
    from a3c.algorithm.config import TrainConfig
    from a3c.backends import make_run

    run = make_run(TrainConfig(eval_episodes=5), run_dir=tmp_path / "a")
    assert run.config.eval_episodes == 1 and run.round_note is not None and "not 5" in run.round_note
    sticky = make_run(TrainConfig(env_name="ALE/Pong-v5", eval_episodes=5), run_dir=tmp_path / "b")
    assert sticky.config.eval_episodes == 5 and sticky.round_note is None
    # A run from before keeps its rounds of 5 when resumed, or its metrics.csv would mix round sizes.
    resumed = make_run(TrainConfig(eval_episodes=5), run_dir=tmp_path / "a", resume=True)
    assert resumed.config.eval_episodes == 5 and resumed.round_note is None
