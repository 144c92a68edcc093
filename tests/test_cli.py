"""Bad input: one clear line on stderr, exit code 2, no traceback, nothing overwritten."""

from __future__ import annotations

import subprocess
import sys

import pytest

from a3c.algorithm.model import ActorCritic
from a3c.runtime.checkpoint import make_checkpoint, save_checkpoint


def _assert_one_line_error(code: int, out: str, err: str, fragment: str) -> None:
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("a3c: error: ") and fragment in lines[0]
    assert "Traceback" not in err + out


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--env-name", "NoSuchGame-v4"], "unknown Atari env id"),
        (["--env", "CartPole-v1"], "not an Atari game"),
        (["--lr", "0"], "--lr must be > 0"),
        (["--lr", "-0.001"], "--lr must be > 0"),
        (["--lr", "nan"], "--lr must be a finite number"),
        (["--num-processes", "0"], "--num-processes must be an integer >= 1"),
        (["--gamma", "1.5"], "--gamma must be in (0, 1]"),
        (["--gamma", "0"], "--gamma must be in (0, 1]"),
        (["--num-steps", "0"], "--num-steps must be an integer >= 1"),
        (["--max-steps", "-5"], "--max-steps must be an integer >= 1"),
        (["--lr", "fast"], "invalid float value"),
        (["--optimizer", "sgd"], "invalid choice"),
        (["--no-such-flag"], "unrecognized arguments"),
        (["--envs-per-worker", "0"], "--envs-per-worker must be an integer >= 1"),
        (["--max-seconds", "0"], "--max-seconds must be > 0"),
        (["--eval-interval", "-1"], "--eval-interval must be seconds (20, 20s, 0) or steps (10000steps)"),
        (["--eval-interval", "0steps"], "--eval-interval must be seconds"),
        (["--log-interval", "0"], "--log-interval must be > 0 seconds"),
        (["--log-interval", "nan"], "--log-interval must be a finite number"),
    ],
)
def test_train_rejects_bad_values_with_one_line(run_cli, tmp_path, args, fragment):
    run_dir = tmp_path / "run"
    code, out, err = run_cli("train", "--run-dir", str(run_dir), *args)
    _assert_one_line_error(code, out, err, fragment)
    assert not run_dir.exists()  # nothing was created


def test_train_refuses_a_non_empty_run_dir_and_keeps_its_files(run_cli, tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "notes.txt").write_text("keep me")
    code, out, err = run_cli("train", "--run-dir", str(run_dir), "--max-steps", "10")
    _assert_one_line_error(code, out, err, "not empty")
    assert [p.name for p in run_dir.iterdir()] == ["notes.txt"]
    assert (run_dir / "notes.txt").read_text() == "keep me"


def test_force_moves_the_earlier_run_aside_so_the_new_logs_start_fresh_and_nothing_is_lost(tmp_path):
    from a3c.runtime.run_dir import RunDir

    path = tmp_path / "run"
    (path / "checkpoints").mkdir(parents=True)
    (path / "metrics.csv").write_text("wall_time_s,global_steps\n1.0,500\n")
    (path / "checkpoints" / "latest.pt").write_bytes(b"old weights")
    run = RunDir(path).create(force=True)
    assert run.replaced is not None and run.replaced.parent == path
    assert (run.replaced / "metrics.csv").read_text() == "wall_time_s,global_steps\n1.0,500\n"
    assert (run.replaced / "checkpoints" / "latest.pt").read_bytes() == b"old weights"
    run.start_metrics()
    assert len(run.metrics_path.read_text().splitlines()) == 1  # a fresh header, no old rows
    assert not run.latest_path.exists()

    (path / "config.yaml").write_text("second run")
    again = RunDir(path).create(force=True)  # earlier replaced-* folders stay where they are
    assert sorted(p.name for p in again.replaced.iterdir()) == ["checkpoints", "config.yaml", "metrics.csv"]
    assert sorted(p.name for p in path.iterdir()) == sorted(["checkpoints", run.replaced.name, again.replaced.name])


def test_train_reports_an_unwritable_run_dir(run_cli, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, out, err = run_cli("train", "--run-dir", str(blocker / "run"), "--max-steps", "10")
    _assert_one_line_error(code, out, err, "cannot write to run dir")


def _write_checkpoint(path, num_actions: int, env_id: str):
    return save_checkpoint(make_checkpoint(ActorCritic(1, num_actions), env_id=env_id, global_step=5, config={}), path)


def test_evaluate_rejects_bad_checkpoints(run_cli, tmp_path):
    (tmp_path / "empty.pt").write_bytes(b"")
    (tmp_path / "text.pt").write_text("not a checkpoint")
    good = _write_checkpoint(tmp_path / "good.pt", 6, "PongDeterministic-v4").read_bytes()
    (tmp_path / "cut.pt").write_bytes(good[:1000])
    cases = [
        (tmp_path / "missing.pt", "not found"),
        (tmp_path / "empty.pt", "is empty"),
        (tmp_path / "text.pt", "not a readable a3c checkpoint"),
        (tmp_path / "cut.pt", "not a readable a3c checkpoint"),
        (tmp_path, "no checkpoint in run directory"),
    ]
    for path, fragment in cases:
        code, out, err = run_cli("evaluate", "--checkpoint", str(path), "--episodes", "1")
        _assert_one_line_error(code, out, err, fragment)
    assert (tmp_path / "empty.pt").read_bytes() == b""  # inputs are never modified


def test_evaluate_rejects_a_checkpoint_from_a_game_with_other_actions(run_cli, tmp_path):
    path = _write_checkpoint(tmp_path / "breakout.pt", 4, "BreakoutDeterministic-v4")
    code, out, err = run_cli("evaluate", "--checkpoint", str(path), "--env", "PongDeterministic-v4", "--episodes", "1")
    _assert_one_line_error(code, out, err, "with 4 actions, but PongDeterministic-v4 has 6")


def test_evaluate_needs_a_positive_episode_count(run_cli, tmp_path):
    code, out, err = run_cli("evaluate", "--checkpoint", "x", "--episodes", "0")
    _assert_one_line_error(code, out, err, "must be >= 1")


def test_envs_lists_every_game_with_its_legacy_forms(run_cli):
    code, out, err = run_cli("envs")
    assert code == 0
    lines = out.splitlines()
    assert len(lines) >= 50
    assert "ALE/Pong-v5  PongDeterministic-v4  PongNoFrameskip-v4  Pong-v4" in lines


def test_debug_shows_the_traceback():
    proc = subprocess.run(
        [sys.executable, "-m", "a3c", "--debug", "train", "--lr", "0"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode != 0 and "Traceback" in proc.stderr and "UserError" in proc.stderr


SEED_FLAGS = [
    "--lr", "--gamma", "--gae-lambda", "--entropy-coef", "--value-loss-coef", "--max-grad-norm", "--seed",
    "--num-processes", "--num-steps", "--max-episode-length", "--env-name", "--env", "--no-shared", "--max-steps",
]


def test_help_lists_every_seed_flag(capsys):
    from a3c.cli import main

    with pytest.raises(SystemExit) as info:
        main(["train", "--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    for flag in SEED_FLAGS:
        assert f"{flag} " in text or f"{flag}," in text or f"{flag}\n" in text, flag


@pytest.mark.slow
def test_evaluate_without_a_checkpoint_plays_the_shipped_pong_agent(run_cli):
    import json

    # It was trained under sticky actions and plays them by default; it wins the deterministic game.
    code, out, err = run_cli("evaluate", "--episodes", "1", "--json", "--max-episode-length", "40", "--num-processes", "1")
    assert code == 0, err
    report = json.loads(out)
    assert report["checkpoint"].endswith("pretrained/pong.pt")
    assert report["env_id"] == "ALE/Pong-v5" and report["protocol"]["sticky"] == 0.25
    code, out, err = run_cli("evaluate", "--env", "PongDeterministic-v4", "--episodes", "1", "--json", "--max-episode-length", "4000",
                             "--num-processes", "1")
    assert code == 0, err
    assert json.loads(out)["mean_reward"] == 21  # the deterministic game is one game, which the shipped agent wins 21-0


def test_every_config_field_names_a_flag_that_exists_in_its_error_messages():
    import dataclasses

    from a3c.algorithm.config import TrainConfig, flag_name
    from a3c.cli import build_parser

    train = next(a for a in build_parser()._subparsers._group_actions[0].choices.values() if a.prog.endswith(" train"))
    flags = {option for action in train._actions for option in action.option_strings}
    assert [f.name for f in dataclasses.fields(TrainConfig) if flag_name(f.name) not in flags] == []


def test_train_help_is_generated_from_every_config_fields_docstring(capsys):
    import dataclasses
    import re

    from a3c.algorithm.config import TrainConfig, field_docs, flag_name
    from a3c.cli import main

    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    docs = field_docs(TrainConfig)
    assert set(docs) == {f.name for f in dataclasses.fields(TrainConfig)}  # every field is documented
    for name, doc in docs.items():
        assert re.search(rf"{flag_name(name)}\b", text), name
        # the docstring's words, as argparse wraps them (reST literals shown with single backquotes)
        assert " ".join(doc.replace("``", "`").rstrip(".").split()) in text, name
