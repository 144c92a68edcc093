"""Presets and config files: layering, round trips, and one clear line for a bad file."""

from __future__ import annotations

import dataclasses

import pytest
import yaml

from a3c.algorithm.config import TrainConfig, load_config_file, resolve_config
from a3c.errors import UserError
from a3c.presets import DEFAULT_PRESET, preset_names
from a3c.runtime.run_dir import RunDir


def test_plain_train_runs_the_fast_batched_preset():
    config = resolve_config()
    assert DEFAULT_PRESET == "fast"
    assert config.envs_per_worker > 1 and config.num_steps < 20
    assert config.eval_interval_s > 0  # the evaluator must not starve the workers


def test_seed_preset_is_the_seed_algorithm_exactly():
    seed = resolve_config("seed")
    defaults = TrainConfig()  # the dataclass documents the seed's algorithm
    for name in ("lr", "gamma", "gae_lambda", "entropy_coef", "value_loss_coef", "max_grad_norm", "num_steps",
                 "envs_per_worker", "max_episode_length", "optimizer", "no_shared", "eval_interval_s", "stuck_guard"):
        assert getattr(seed, name) == getattr(defaults, name), name
    assert (seed.envs_per_worker, seed.num_steps, seed.lr, seed.eval_interval_s) == (1, 20, 0.0001, 0.0)
    assert seed.stuck_guard == "actions"  # the seed's: 100 identical actions end a greedy episode


def test_the_presets_for_games_beyond_the_seed_end_only_episodes_whose_screen_stands_still():
    assert resolve_config("fast").stuck_guard == resolve_config("breakout").stuck_guard == "screen"
    with pytest.raises(UserError, match="--stuck-guard must be one of screen, actions, got 'never'"):
        TrainConfig(stuck_guard="never").validate()


@pytest.mark.parametrize("name, processes, steps", [("seed-quick", 4, 20_000), ("seed-16", 16, 2_000_000)])
def test_seed_run_presets(name, processes, steps):
    config = resolve_config(name)
    assert (config.num_processes, config.max_steps, config.envs_per_worker, config.num_steps) == (processes, steps, 1, 20)


def test_every_shipped_preset_is_a_valid_partial_config():
    assert {"fast", "seed", "seed-quick", "seed-16"} <= set(preset_names())
    for name in preset_names():
        resolve_config(name)


def test_layers_preset_then_file_then_flags(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("lr: 0.0005\nnum_steps: 7\n")
    config = resolve_config("seed", path, num_steps=9)
    assert config.lr == 0.0005  # the file beats the preset
    assert config.num_steps == 9  # the flag beats the file
    assert config.envs_per_worker == 1  # the preset fills the rest


def test_a_run_dirs_config_repeats_the_run(tmp_path):
    original = resolve_config("seed-quick", lr=0.0003, seed=5)
    run = RunDir(tmp_path / "run").create()
    run.write_config(original, extra={"a3c run": "PongDeterministic-v4", "torch": "2.x"})
    assert resolve_config(config_file=run.config_path) == original
    assert resolve_config(config_file=run.path) == original  # the run dir itself works too


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("lr: [1, 2\n", "not valid YAML at line"),
        ("- lr\n- 0.1\n", "must hold a mapping"),
        ("learning_rate: 0.1\n", "unknown config key(s): learning_rate"),
        ("lr: fast\n", "'lr' must be number, got 'fast'"),
        ("num_steps: 2.5\n", "'num_steps' must be int"),
        ("no_shared: 1\n", "'no_shared' must be bool"),
        ("env_name: 3\n", "'env_name' must be str"),
        ("max_seconds: abc\n", "'max_seconds' must be number or null"),
        ("lr: -1\n", "--lr must be > 0"),
    ],
)
def test_bad_config_files_give_one_clear_error(tmp_path, text, fragment):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(UserError) as info:
        resolve_config(config_file=path)
    assert fragment in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_and_binary_config_files(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        load_config_file(tmp_path / "nope.yaml")
    (tmp_path / "bin.yaml").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(UserError, match="not a text file"):
        load_config_file(tmp_path / "bin.yaml")


def test_unknown_preset():
    with pytest.raises(UserError, match="unknown preset 'fastest'; choose one of: breakout, fast, seed"):
        resolve_config("fastest")


def test_cli_bad_config_is_one_line_and_creates_nothing(run_cli, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("lr: 0.1\nbogus: 1\n")
    run_dir = tmp_path / "run"
    code, out, err = run_cli("train", "--config", str(path), "--run-dir", str(run_dir))
    assert code == 2 and err.strip().count("\n") == 0 and "unknown config key(s): bogus" in err
    assert "Traceback" not in out + err and not run_dir.exists()


def test_config_yaml_written_by_a_run_lists_every_field(tmp_path):
    run = RunDir(tmp_path / "run").create()
    run.write_config(resolve_config())
    data = yaml.safe_load(run.config_path.read_text())
    assert set(data) == {f.name for f in dataclasses.fields(TrainConfig)}


@pytest.mark.parametrize(
    "text, expected",
    [("60", {"checkpoint_interval_s": 60.0}), ("2.5s", {"checkpoint_interval_s": 2.5}), ("50000steps", {"checkpoint_interval_steps": 50000}),
     ("200_000 steps", {"checkpoint_interval_steps": 200000})],
)
def test_checkpoint_interval_by_seconds_or_steps(text, expected):
    from a3c.cli.args import parse_interval

    assert parse_interval(text) == expected


@pytest.mark.parametrize("text", ["0", "-5s", "abc", "0steps", "1.5steps", "nan"])
def test_bad_checkpoint_intervals(text):
    from a3c.cli.args import parse_interval

    with pytest.raises(UserError, match="--checkpoint-interval must be seconds"):
        parse_interval(text)


@pytest.mark.parametrize(
    "text, expected",
    [("20", {"eval_interval_s": 20.0, "eval_interval_steps": None}), ("0", {"eval_interval_s": 0.0, "eval_interval_steps": None}),
     ("10000steps", {"eval_interval_steps": 10000, "eval_interval_s": 0.0})],
)
def test_eval_interval_by_seconds_or_steps_replaces_the_other(text, expected):
    """Whichever unit is typed replaces the other, which may come from the preset (fast pauses 20 s)."""
    from a3c.cli.args import parse_eval_interval

    assert parse_eval_interval(text) == expected
    config = resolve_config("fast", **parse_eval_interval(text))
    assert (config.eval_interval_s, config.eval_interval_steps) == (expected["eval_interval_s"], expected["eval_interval_steps"])


@pytest.mark.parametrize("text", ["-1", "0steps", "1.5steps", "abc", "inf"])
def test_bad_eval_intervals(text):
    from a3c.cli.args import parse_eval_interval

    with pytest.raises(UserError, match="--eval-interval must be seconds"):
        parse_eval_interval(text)
    with pytest.raises(UserError, match="--eval-interval must be an integer >= 1"):
        TrainConfig(eval_interval_steps=0).validate()


def test_lr_schedules():
    constant = TrainConfig(lr=3e-4, max_steps=1000)
    assert [constant.lr_at(s) for s in (0, 500, 2000)] == [3e-4] * 3
    linear = TrainConfig(lr=4e-4, lr_schedule="linear", max_steps=1000)
    assert [linear.lr_at(s) for s in (0, 250, 1000, 1500)] == pytest.approx([4e-4, 3e-4, 0.0, 0.0])
    with pytest.raises(UserError, match="--lr-schedule must be one of constant, linear"):
        TrainConfig(lr_schedule="cosine").validate()
