"""The benchmarks' own arithmetic (the runs themselves are too long for the suite)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import time_to_solve  # noqa: E402


def _run(solved_s: float | None, solved_steps: int | None, last_s: float, last_steps: int) -> dict:
    return {"solved": solved_s is not None, "solved_at_s": solved_s, "solved_at_steps": solved_steps,
            "last_wall_time_s": last_s, "last_global_steps": last_steps}


def test_time_to_solve_reports_the_median_and_spread_and_counts_an_unsolved_seed_at_its_end():
    runs = {1: _run(600.0, 1_000_000, 610.0, 1_010_000), 2: _run(900.0, 1_500_000, 905.0, 1_505_000), 3: _run(None, None, 1200.0, 2_000_000)}
    summary = time_to_solve.summarise(runs)
    assert summary["seeds"] == [1, 2, 3] and summary["solved"] == 2
    assert summary["minutes"] == {"median": 15.0, "min": 10.0, "max": 20.0}
    assert summary["steps"] == {"median": 1_500_000.0, "min": 1_000_000.0, "max": 2_000_000.0}
    assert summary["unsolved_counted_at_their_end"] == [3]


def test_throughput_variants_become_typed_config_overrides_and_a_malformed_one_is_refused():
    import pytest
    import throughput

    assert throughput.parse_variant("frames=grey,update_groups=2") == {"frames": "grey", "update_groups": 2}
    assert throughput.parse_variant("lr=0.0003") == {"lr": 0.0003}
    with pytest.raises(SystemExit, match="not FIELD=VALUE"):
        throughput.parse_variant("frames")


def test_the_games_table_gives_each_game_its_row_and_a_caveat_under_the_table():
    import games

    row = {"game": "Breakout", "preset": "breakout", "minutes": 30, "steps": 1_536_040, "greedy_mean": 6.5, "greedy_std": 2.7,
           "greedy_scores": [6.0] * 20, "greedy_ended_by": ["terminated"] * 18 + ["stuck"] * 2, "random_mean": 1.1, "paper": 766.8,
           "protocol": {"stuck_guard": "screen", "stuck_steps": 100}}
    # A result from before --stuck-guard: its protocol gave the seed's repeat count, and no ended_by.
    noted = {**row, "game": "SpaceInvaders", "paper": None, "note": "trained beside another job", "protocol": {"stuck_guard": 100}}
    del noted["greedy_ended_by"]
    table = games.table([row, noted])
    assert "| Breakout | breakout | 30 | 1,536,040 | 6.5 ± 2.7 (20) | screen, 2 cut | 1.1 | 766.8 |" in table
    assert "| SpaceInvaders [1] | breakout | 30 | 1,536,040 | 6.5 ± 2.7 (20) | seed's (100 actions) | 1.1 | - |" in table
    flagged = games.table([{**row, "train_flags": ["--terminal-on-life-loss"]}])
    assert "| Breakout | breakout --terminal-on-life-loss | 30 |" in flagged
    assert table.rstrip().endswith("[1] SpaceInvaders: trained beside another job")


def test_network_variants_measure_what_they_say():
    """channels_last is a layout, so it computes fp32's gradient; bf16 really runs under autocast
    (a context that did nothing would give fp32's gradient exactly)."""
    import network_passes

    from a3c.algorithm.config import resolve_config

    config = resolve_config("fast", None)
    assert network_passes.gradient_error(config, "channels_last") < 1e-3  # summation order only
    assert network_passes.gradient_error(config, "bf16") > 1e-2


def test_the_adam_loop_variant_is_the_old_arithmetic_of_sharedadams_update_and_rounds_take_the_median():
    """``adam-loop`` times the update a3c made before the fused kernel: it must be the same update
    (else the comparison times two different things), and it must not be the fused kernel."""
    import network_passes
    import torch

    from a3c.algorithm.optim import SharedAdam

    def params() -> list[torch.nn.Parameter]:
        g = torch.Generator().manual_seed(0)
        return [torch.nn.Parameter(torch.randn(64, 9, generator=g)), torch.nn.Parameter(torch.randn(6, generator=g))]

    fused_p, loop_p = params(), params()
    fused, loop = SharedAdam(fused_p, lr=0.01), network_passes.LoopAdam(loop_p, lr=0.01)
    assert type(loop)._update_group is not SharedAdam._update_group
    g = torch.Generator().manual_seed(1)
    for _ in range(20):
        for p, q in zip(fused_p, loop_p, strict=True):
            p.grad = torch.randn(p.shape, generator=g)
            q.grad = p.grad.clone()
        fused.step()
        loop.step()
    for p, q in zip(fused_p, loop_p, strict=True):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)
    assert loop.state[loop_p[0]]["step"].item() == 20
    rounds = [{"steps_per_s": r, "round": i} for i, r in enumerate([900.0, 1500.0, 1200.0, 1100.0])]
    assert network_passes.median_round(rounds)["round"] == 3  # 1,100: the lower middle of four
    assert network_passes.median_round(rounds[:3])["round"] == 2


def test_a_run_with_rounds_of_one_solves_at_its_first_winning_episode_and_an_older_run_by_its_window(tmp_path):
    """Rounds of 1 (a deterministic game) must not fall back to the window of runs from before
    rounds, where 5 episodes with 5 different weights copies had to average >= 18."""
    import summarize_run

    from a3c.runtime.run_dir import round_size_of

    def row(t: float, reward: float) -> dict:
        return {"t": t, "steps": t * 1000, "reward": reward, "stuck": False, "weights_step": t * 1000}

    rows = [row(1, -21), row(2, 19), row(3, -5), row(4, 20), row(5, 20), row(6, 20), row(7, 20), row(8, 20)]
    (tmp_path / "config.yaml").write_text("env_name: PongDeterministic-v4\neval_episodes: 1\n")
    assert round_size_of(tmp_path) == 1
    assert summarize_run.solve_point(rows, round_size_of(tmp_path))["t"] == 2
    assert "a greedy episode" in summarize_run.criterion(1)

    (tmp_path / "config.yaml").write_text("env_name: PongDeterministic-v4\n")
    assert round_size_of(tmp_path) is None
    assert summarize_run.solve_point(rows, round_size_of(tmp_path))["t"] == 8
    assert round_size_of(tmp_path / "missing") is None


def test_adam_moments_reads_each_weights_bias_corrected_gradient_root_from_a_checkpoint(tmp_path):
    """Under a constant gradient g, Adam's bias-corrected second moment is g^2 exactly, at any step
    count: the roots read back from a trained run's kind of checkpoint must be |g|, by the model's
    parameter names."""
    import adam_moments
    import pytest
    import torch

    from a3c.algorithm.model import MLPActorCritic
    from a3c.algorithm.optim import SharedAdam
    from a3c.runtime.checkpoint import make_checkpoint, save_checkpoint

    torch.manual_seed(0)
    model = MLPActorCritic(4, 2)
    optimizer = SharedAdam(model.parameters(), lr=1e-3)
    grads = {name: torch.randn_like(param) * 10.0 ** torch.randint(-6, 1, ()).item() for name, param in model.named_parameters()}
    for _ in range(7):
        for name, param in model.named_parameters():
            param.grad = grads[name].clone()
        optimizer.step()
    path = save_checkpoint(make_checkpoint(model, env_id="Corridor", global_step=7, config={},
                                           optimizer_state=optimizer.state_dict()), tmp_path / "latest.pt")
    roots = adam_moments.moment_roots(path)
    assert list(roots) == [name for name, _ in model.named_parameters()]
    for name, grad in grads.items():
        torch.testing.assert_close(roots[name], grad.abs().flatten(), rtol=1e-4, atol=1e-12)
    (tmp_path / "bad.pt").write_text("not a checkpoint")
    with pytest.raises(SystemExit, match="not a readable a3c checkpoint"):
        adam_moments.moment_roots(tmp_path / "bad.pt")
    without_state = save_checkpoint(make_checkpoint(model, env_id="Corridor", global_step=7, config={}), tmp_path / "best.pt")
    with pytest.raises(SystemExit, match="no optimiser state"):
        adam_moments.moment_roots(without_state)


def test_summarise_only_scores_a_seed_stopped_by_hand_from_its_metrics_and_trains_nothing(tmp_path, monkeypatch, capsys):
    import json

    import pytest

    header = "wall_time_s,global_steps,fps,episode_reward,episode_length,ended_by,weights_step,unix_time\n"
    finished = {"command": "a3c train --seed 1", "solved": True, "solved_at_s": 600.0, "solved_at_steps": 900_000,
                "last_wall_time_s": 600.0, "last_global_steps": 900_000, "solved_mean": 19.0, "criterion": "kept as it was"}
    (tmp_path / "seed-1").mkdir()
    (tmp_path / "seed-1" / "result.json").write_text(json.dumps(finished))
    stopped = tmp_path / "seed-2"
    stopped.mkdir()
    (stopped / "config.yaml").write_text("env_name: PongDeterministic-v4\neval_episodes: 1\n")
    (stopped / "metrics.csv").write_text(header + "60.0,100000,1600,-21.0,800,terminated,99000,0\n"
                                                  "720.0,1100000,1500,11.0,3000,terminated,1090000,0\n")
    (tmp_path / "seed-3").mkdir()  # never started
    monkeypatch.setattr(time_to_solve, "time_to_solve", lambda *a, **k: pytest.fail("--summarise-only trained"))
    out = tmp_path / "series.json"
    argv = ["time_to_solve.py", "--seeds", "1", "2", "--summarise-only", "--sticky-games", "0", "--run-dir", str(tmp_path),
            "--out", str(out), "--", "--entropy-coef", "0.03"]
    monkeypatch.setattr(sys, "argv", argv)
    time_to_solve.main()
    series = json.loads(out.read_text())
    assert series["solved"] == 1 and series["unsolved_counted_at_their_end"] == [2]
    assert series["steps"] == {"median": 1_000_000.0, "min": 900_000.0, "max": 1_100_000.0}
    assert series["runs"]["1"]["criterion"] == "kept as it was"
    scored = json.loads((stopped / "result.json").read_text())
    assert scored["last_global_steps"] == 1_100_000 and not scored["solved"]
    assert "--entropy-coef 0.03 --seed 2" in scored["command"]
    monkeypatch.setattr(sys, "argv", [*argv[:3], "3", *argv[3:]])
    with pytest.raises(SystemExit, match="seed 3: nothing to summarise"):
        time_to_solve.main()


def test_each_solve_is_checked_under_sticky_actions_once_and_the_series_gives_their_spread(tmp_path, monkeypatch):
    """Seeds measured before the check get it on the next call; an unsolved seed is not played."""
    base = {"command": "a3c train", "criterion": "c", "solved_mean": None, "last_wall_time_s": 700.0, "last_global_steps": 1_400_000}
    results = {1: {**base, "solved": True, "solved_at_s": 600.0, "solved_at_steps": 1_000_000, "solved_mean": 20.0},
               2: {**base, "solved": False, "solved_at_s": None, "solved_at_steps": None},
               3: {**base, "solved": True, "solved_at_s": 500.0, "solved_at_steps": 900_000, "solved_mean": 18.0}}
    for seed, result in results.items():
        (tmp_path / f"seed-{seed}").mkdir()
        (tmp_path / f"seed-{seed}" / "result.json").write_text(json.dumps(result))
    checked: list[Path] = []

    def fake_check(run_dir: Path, games: int) -> dict:
        checked.append(run_dir)
        return {"sticky": 0.25, "global_step": 1, "episodes": [-9.0] * games, "mean": -9.0 if run_dir.name == "seed-1" else -19.0}

    monkeypatch.setattr(time_to_solve, "sticky_check", fake_check)
    monkeypatch.setattr(time_to_solve, "time_to_solve", lambda *a, **k: pytest.fail("a measured seed was trained again"))
    out = tmp_path / "series.json"
    argv = ["time_to_solve.py", "--seeds", "1", "2", "3", "--run-dir", str(tmp_path), "--out", str(out)]
    monkeypatch.setattr(sys, "argv", argv)
    time_to_solve.main()
    assert checked == [tmp_path / "seed-1", tmp_path / "seed-3"]
    series = json.loads(out.read_text())
    assert series["solves_under_sticky_actions"] == {"median": -14.0, "min": -19.0, "max": -9.0}
    assert series["runs"]["1"]["sticky"]["episodes"] == [-9.0] * 4 and "sticky" not in series["runs"]["2"]
    kept = json.loads((tmp_path / "seed-1" / "result.json").read_text())
    assert kept["sticky"]["mean"] == -9.0 and kept["solved_at_steps"] == 1_000_000
    time_to_solve.main()
    assert len(checked) == 2  # already checked: not played again

    monkeypatch.setattr(sys, "argv", [*argv, "--sticky-games", "-1"])
    with pytest.raises(SystemExit):
        time_to_solve.main()


@pytest.mark.slow
def test_the_sticky_check_plays_the_run_dirs_best_weights_at_0_25_and_reads_evaluates_json(run_cli, tmp_path, monkeypatch):
    """The JSON that ``a3c evaluate`` really prints (the shipped agent, a 40-step game) is what the
    check reads; a failed evaluation gives None, so the next call tries again."""
    import subprocess

    code, out, err = run_cli("evaluate", "--episodes", "1", "--json", "--max-episode-length", "40", "--num-processes", "1")
    assert code == 0, err
    commands: list[list[str]] = []

    def fake_run(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        commands.append(command)
        return subprocess.CompletedProcess(command, 0 if len(commands) == 1 else 1, out, "error: no checkpoint\n")

    monkeypatch.setattr(time_to_solve.subprocess, "run", fake_run)
    check = time_to_solve.sticky_check(tmp_path, 3)
    evaluated = json.loads(out)
    assert check == {"sticky": 0.25, "global_step": evaluated["global_step"], "episodes": evaluated["episodes"],
                     "mean": evaluated["mean_reward"]}
    command = commands[0]
    assert command[1:4] == ["-m", "a3c", "evaluate"]
    assert command[command.index("--checkpoint") + 1] == str(tmp_path) and command[command.index("--sticky") + 1] == "0.25"
    assert command[command.index("--episodes") + 1] == "3"
    assert time_to_solve.sticky_check(tmp_path, 3) is None


def test_eval_spacing_finds_each_phases_first_win_and_charges_the_evaluator_every_episode_it_played(tmp_path):
    """Snapshots every 1,000 steps; an evaluator looking every 2,000 steps in phase 0 sees snapshots
    0, 2, 4 (the win at 4,000), in phase 1 snapshots 1, 3 (the win at 3,000). Its minutes are the
    workers' CPU to that step plus every episode it played, over the cores."""
    import argparse
    import csv

    import eval_spacing

    steps, scores, cpu = [0, 1000, 2000, 3000, 4000], [-21.0, -21.0, -3.0, 19.0, 20.0], [1.0, 1.0, 2.0, 3.0, 4.0]
    assert eval_spacing.first_solve(steps, scores, cpu, 1, 18) == [(3000, 7.0)]
    assert eval_spacing.first_solve(steps, scores, cpu, 2, 18) == [(4000, 7.0), (3000, 4.0)]
    assert eval_spacing.first_solve(steps, scores, cpu, 2, 20) == [(4000, 7.0), None]

    run = tmp_path / "seed-1"
    run.mkdir()
    with (run / eval_spacing.SCORES).open("w", newline="") as f:
        writer = csv.DictWriter(f, eval_spacing.FIELDS)
        writer.writeheader()
        for i, (step, score, cpu_s) in enumerate(zip(steps, scores, cpu, strict=True)):
            writer.writerow({"snapshot": i, "global_step": step, "score": score, "length": int(1000 * cpu_s), "ended_by": "terminated", "cpu_s": cpu_s})
    # 1 ms of evaluator CPU per agent step; the run's own evaluator played 2,000 steps (2 s) of the
    # 2 cores x 21 s, so its workers spent (42 - 2) / 10,000 = 4 ms per global step.
    (run / "train_metrics.csv").write_text("wall_time_s,global_steps\n10.0,5000\n21.0,10000\n")
    (run / "metrics.csv").write_text("episode_length\n800\n1200\n")
    args = argparse.Namespace(run_dir=tmp_path, threshold=18.0, every=1000, strides=[1, 2], cores=2)
    result = eval_spacing.simulate(args)
    assert result["seeds"]["seed-1"]["worker_ms_per_step"] == 4.0
    assert result["seeds"]["seed-1"]["win_share_after_first_win"] == 1.0
    every_1k, every_2k = result["spacings"]
    assert every_1k["median_solve_step"] == 3000 and every_2k["median_solve_step"] == 3500
    never = eval_spacing.simulate(argparse.Namespace(run_dir=tmp_path, threshold=20.0, every=1000, strides=[2], cores=2))["spacings"][0]
    assert never["median_solve_step"] is None and never["median_solve_step_at_least"] == (4000 + 4000) / 2  # phase 1 counted at the end
    assert every_1k["median_minutes"] == (3000 * 0.004 + 7.0) / 2 / 60
    assert every_2k["median_minutes"] == ((4000 * 0.004 + 7.0) / 2 / 60 + (3000 * 0.004 + 4.0) / 2 / 60) / 2


def test_the_lstm_weight_gradient_in_one_product_is_the_per_step_gradient():
    """lstm_weight_grads.py times two ways to the same gradients; were they not the same (the hook
    catching the wrong step, say), its saving would be no saving."""
    import lstm_weight_grads

    rollout = lstm_weight_grads.Rollout(envs=3, steps=4, inputs=10, units=6, seed=2)
    per_step, batched = rollout.per_step(), rollout.batched()
    assert lstm_weight_grads.max_difference(per_step, batched) < 1e-5
    assert all(g.abs().sum() > 0 for g in per_step)


def test_normaliser_streaks_count_the_21_0_losses_after_each_truncated_episode(tmp_path):
    import evaluator_normaliser

    rows = [("-21.0", "terminated"), ("0.0", "truncated"), ("-21.0", "terminated"), ("-20.0", "terminated"), ("-21.0", "terminated")]
    path = tmp_path / "metrics.csv"
    path.write_text("global_steps,episode_reward,ended_by\n" + "".join(f"{i * 1000},{r},{e}\n" for i, (r, e) in enumerate(rows)))
    old = tmp_path / "old.csv"
    old.write_text("global_steps,episode_reward\n0,-21.0\n")  # from before the column existed
    found = evaluator_normaliser.streaks([path, old])
    assert found == [{"file": str(path), "global_steps": 1000, "score": 0.0, "episodes_after": 3, "lost_21_0_after": 2, "best_after": -20.0}]


def test_compare_series_counts_first_solves_with_runs_cut_short_as_ties_only_where_they_cannot_say(tmp_path, monkeypatch, capsys):
    import compare_series
    from compare_series import Run, first_to_solve

    solved, unsolved = (lambda m: Run("x", m * 1e6, True)), (lambda m: Run("x", m * 1e6, False))
    assert first_to_solve(solved(0.9), solved(1.2)) == 1.0 and first_to_solve(solved(1.2), solved(0.9)) == 0.0
    assert first_to_solve(solved(0.9), unsolved(1.4)) == 1.0  # solved before the other stopped
    assert first_to_solve(solved(1.5), unsolved(1.4)) == 0.5  # the other might have solved at 1.45M
    assert first_to_solve(unsolved(1.4), solved(0.9)) == 0.0 and first_to_solve(unsolved(1.4), unsolved(1.5)) == 0.5

    def series(path: Path, runs: dict[str, tuple[bool, float]]) -> str:
        path.write_text(json.dumps({"runs": {seed: {"solved": ok, "solved_at_steps": steps if ok else None, "last_global_steps": steps}
                                             for seed, (ok, steps) in runs.items()}}))
        return str(path)

    slow = series(tmp_path / "slow.json", {"1": (True, 1.3e6), "2": (False, 1.4e6), "3": (True, 1.2e6), "4": (True, 9e5)})
    fast = series(tmp_path / "fast.json", {str(s): (True, 5e5 + 1e4 * s) for s in range(1, 6)})
    out = tmp_path / "cmp.json"
    # Seed 4 of the slow series left out: every fast run then solves before every slow one.
    monkeypatch.setattr(sys, "argv", ["compare_series.py", "--a", f"{slow}:1,2,3", "--b", fast, "--permutations", "2000",
                                      "--out", str(out)])
    compare_series.main()
    result = json.loads(out.read_text())
    assert result["b_solves_first"] == 1.0 and result["p_value"] < 0.05
    assert result["a"]["runs"] == 3 and result["a"]["solved"] == 2 and result["a"]["median_steps"] == 1.3e6
    assert "B solves first in 100% of comparisons" in capsys.readouterr().out
    # The same runs on both sides: no difference, and shuffles say so.
    same = compare_series.compare(compare_series.load_runs(slow), compare_series.load_runs(slow), 2000)
    assert same["b_solves_first"] == 0.5 and same["p_value"] > 0.5
    for bad, message in ((f"{slow}:7", "no seed 7"), (str(tmp_path / "none.json"), "not a readable")):
        monkeypatch.setattr(sys, "argv", ["compare_series.py", "--a", bad, "--b", fast])
        with pytest.raises(SystemExit, match=message):
            compare_series.main()
