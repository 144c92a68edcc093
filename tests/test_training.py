"""End to end: the trainer with real processes, on the toy task and on real Pong."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time

import numpy as np
import proctree
import pytest
import torch
import yaml

from a3c.algorithm.config import TrainConfig
from a3c.algorithm.envs import make_corridor
from a3c.algorithm.evaluation import play_greedy_episode
from a3c.algorithm.seeding import env_seed
from a3c.algorithm.task import Task, corridor_task, mlp_model
from a3c.backends import train
from a3c.backends.base import TrainingFailed
from a3c.runtime.checkpoint import load_checkpoint, model_from_checkpoint

pytestmark = pytest.mark.slow


def _sampled_success_rate(model: torch.nn.Module | None, episodes: int, seed: int) -> float:
    """Success rate of the stochastic policy (or of uniform random actions when model is None)."""
    env = make_corridor(seed)
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    wins = 0.0
    for _ in range(episodes):
        obs, _ = env.reset()
        hidden = None if model is None else model.initial_state()
        while True:
            if model is None:
                action = int(rng.integers(3))
            else:
                with torch.no_grad():
                    _, logits, hidden = model(torch.from_numpy(obs).unsqueeze(0), hidden)
                action = int(torch.softmax(logits, -1).multinomial(1).item())
            obs, reward, terminated, truncated, _ = env.step(action)
            if terminated or truncated:
                wins += reward
                break
    return wins / episodes


#: The Corridor learning runs: the seed's one-env worker, and batched workers (here and on Ray,
#: tests/test_ray.py). The evaluator plays once every 3,000 global steps (--eval-interval
#: 3000steps), so that a run gets 8-10 rounds on any machine, and the workers get the cores
#: between them; train_metrics.csv gets a row every 0.5 s, so that even a fast machine writes
#: several rows before the run ends.
CORRIDOR_RUNS = {
    # At 24,000 steps the classic run had not yet learned in 2 of 16 runs beside a CPU hog, and
    # once in a full-suite run; at 40,000, 16 of 16 succeeded in >= 96% of sampled episodes.
    "classic": dict(envs_per_worker=1, max_steps=40_000, lr=1e-3),
    "batched": dict(envs_per_worker=4, max_steps=30_000, lr=3e-3),
}


def corridor_learning_config(kind: str, **extra) -> TrainConfig:
    return TrainConfig(
        # Rounds of one episode: the evaluator copies the weights before every episode, so a run this
        # short is evaluated with weights it has learned (a round of 5 may still play older ones).
        env_name="Corridor", num_processes=2, num_steps=5, max_episode_length=1000, eval_interval_s=0.0, eval_interval_steps=3000,
        log_interval_s=0.5, eval_episodes=1,
        **CORRIDOR_RUNS[kind], **extra,
    )


def assert_learned_the_corridor(result, config: TrainConfig) -> None:
    """The run trained its steps, its policy succeeds where a random one fails, and its logs show it."""
    assert config.max_steps <= result.global_step < config.max_steps + config.num_processes * config.envs_per_worker * config.num_steps
    assert load_checkpoint(result.latest_checkpoint)["global_step"] == result.global_step
    model = model_from_checkpoint(load_checkpoint(result.latest_checkpoint))
    untrained = mlp_model(make_corridor(0))
    random_rate = _sampled_success_rate(None, 300, seed=1)
    untrained_rate = _sampled_success_rate(untrained, 300, seed=1)
    learned_rate = _sampled_success_rate(model, 300, seed=1)
    assert random_rate < 0.1 and untrained_rate < 0.1
    assert learned_rate >= 0.9, f"learned policy succeeds in {learned_rate:.0%} (random {random_rate:.0%})"
    greedy = [play_greedy_episode(model, make_corridor(s), 1000).reward for s in range(5)]
    assert greedy == [1.0] * 5
    _assert_training_logs(result.run_dir, config)


@pytest.mark.parametrize("kind", sorted(CORRIDOR_RUNS))
def test_a3c_learns_the_corridor_where_a_random_policy_fails(tmp_path, kind):
    config = corridor_learning_config(kind)
    result = train(config, run_dir=tmp_path / "run", task=corridor_task(), quiet=True)
    assert set(result.exit_codes.values()) == {0}
    assert_learned_the_corridor(result, config)
    # The evaluator plays a 9-step episode every 3,000 steps: a small share of the CPU.
    assert result.evaluator_cpu_share is not None and 0 < result.evaluator_cpu_share < 0.5


def _assert_training_logs(run_dir, config: TrainConfig) -> None:
    """TensorBoard holds every named tag, and train_metrics.csv the same data, showing learning."""
    import csv

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from a3c.runtime.training_log import TAGS

    events = EventAccumulator(str(run_dir))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    for key in ("eval_reward", "eval_length", "policy_loss", "value_loss", "entropy", "grad_norm", "steps_per_s", "lr", "train_episode_return"):
        assert TAGS[key] in tags, key
    assert all(e.value == pytest.approx(config.lr) for e in events.Scalars(TAGS["lr"]))
    assert max(e.value for e in events.Scalars(TAGS["eval_reward"])) == 1.0
    rows = list(csv.DictReader((run_dir / "train_metrics.csv").open()))
    assert len(rows) >= 3, f"{len(rows)} rows: one every {config.log_interval_s} s was asked for"
    steps = [int(r["global_steps"]) for r in rows]
    assert steps == sorted(steps) and steps[-1] >= config.max_steps
    assert sum(int(r["updates"]) for r in rows) > 1000
    returns = [float(r["train_episode_return"]) for r in rows if r["train_episode_return"] != "nan"]
    assert len(returns) >= 2 and returns[-1] > returns[0]  # the sampled policy's training episodes improve
    assert all(float(r["grad_norm"]) >= 0 for r in rows if r["grad_norm"] != "nan")
    assert len(events.Scalars(TAGS["steps_per_s"])) == len(rows)


def test_max_seconds_ends_a_no_shared_rmsprop_run_and_the_evaluator_pause_does_not_delay_the_stop(tmp_path):
    # --no-shared and RMSprop go through the same loop as the default; --max-seconds ends a run
    # that would otherwise go on for ever. How far it got by then depends on the machine, so
    # only what holds at any speed is checked (tests/test_worker.py checks the private optimiser).
    config = TrainConfig(
        env_name="Corridor", num_processes=2, max_steps=10**9, max_seconds=3, eval_interval_s=1000, num_steps=5,
        optimizer="rmsprop", no_shared=True,
    )
    start = time.monotonic()
    result = train(config, run_dir=tmp_path / "run", task=corridor_task(), quiet=True)
    assert time.monotonic() - start < 3 + 30  # a 1000 s evaluator pause does not hold up the stop
    assert result.step_samples[-1][0] >= 3 and result.global_step < 10**9
    assert set(result.exit_codes.values()) == {0}
    rows = (tmp_path / "run" / "metrics.csv").read_text().splitlines()[1:]
    assert len(rows) <= config.eval_episodes  # at most one round, then the evaluator waits out the run
    latest = load_checkpoint(result.latest_checkpoint)
    assert "optimizer" not in latest and latest["config"]["optimizer"] == "rmsprop"  # each worker kept its own statistics


def _env_that_reports_its_seed(seed, folder):
    """Record, per process, the env seed, torch's seed and the intra-op thread count."""
    import os
    from pathlib import Path

    Path(folder, f"{os.getpid()}.txt").write_text(f"{seed} {torch.initial_seed()} {torch.get_num_threads()}")
    return make_corridor(seed)


def test_a_run_stops_at_max_steps_leaves_a_complete_run_dir_and_seeds_each_process_with_seed_plus_rank(tmp_path):
    import functools
    import os

    folder = tmp_path / "seeds"
    folder.mkdir()
    task = Task("Corridor", functools.partial(_env_that_reports_its_seed, folder=str(folder)), mlp_model)
    config = TrainConfig(env_name="Corridor", num_processes=2, max_steps=2_000, num_steps=5, seed=7)
    result = train(config, run_dir=tmp_path / "run", task=task, quiet=True)
    run = tmp_path / "run"
    assert 2_000 <= result.global_step < 2_000 + 2 * 5
    assert result.exit_codes == {"a3c-evaluator": 0, "a3c-worker-0": 0, "a3c-worker-1": 0}
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved == config.to_dict()
    header, *rows = (run / "metrics.csv").read_text().splitlines()
    assert header.split(",")[:5] == ["wall_time_s", "global_steps", "fps", "episode_reward", "episode_length"]
    assert rows, "the evaluator logged no episode"
    latest = load_checkpoint(run / "checkpoints" / "latest.pt")
    assert latest["global_step"] == result.global_step and latest["env_id"] == "Corridor"
    assert latest["config"]["seed"] == 7 and "optimizer" in latest
    best = load_checkpoint(run / "checkpoints" / "best.pt")
    assert best["eval_reward"] == max(float(r.split(",")[3]) for r in rows)

    children = {}
    for path in folder.iterdir():
        if int(path.stem) != os.getpid():  # the trainer's own probe env
            its_seed, torch_seed, threads = map(int, path.read_text().split())
            children[its_seed] = (torch_seed, threads)
    # workers are ranks 0 and 1, the evaluator rank num_processes = 2; its round's envs are seeded
    # env_seed(9, i), and the probe keeps the last one it built
    assert children == {7: (7, 1), 8: (8, 1), env_seed(9, config.eval_episodes - 1): (9, 1)}


def _env_that_breaks_in_workers(seed, base_seed=0):
    if seed != base_seed:
        raise RuntimeError("simulated worker crash")
    return make_corridor(seed)


def test_a_failing_worker_stops_the_run_instead_of_hanging(tmp_path):
    task = Task("Corridor", _env_that_breaks_in_workers, mlp_model)
    config = TrainConfig(env_name="Corridor", num_processes=2, max_steps=10**9, seed=0, max_restarts=1)
    with pytest.raises(TrainingFailed, match=r"a3c-(worker-\d|evaluator) died \(exit code 1\) after 1 restarts.*resume with"):
        train(config, run_dir=tmp_path / "run", task=task, quiet=True)
    assert (tmp_path / "run" / "checkpoints" / "latest.pt").exists()


def _evaluator_env_slow_to_build(seed, evaluator_seed=2):
    if seed == env_seed(evaluator_seed, 0):  # the evaluator's first env (rank 2 with seed 0): as if imports took a minute
        time.sleep(60)
    return make_corridor(seed)


def test_a_run_stopped_while_a_child_is_still_starting_up_ends_it_without_a_fault(tmp_path):
    task = Task("Corridor", _evaluator_env_slow_to_build, mlp_model)
    config = TrainConfig(env_name="Corridor", num_processes=2, max_steps=10**9, seed=0, max_seconds=2.0)
    result = train(config, run_dir=tmp_path / "run", task=task, quiet=True)  # no TrainingFailed
    assert result.exit_codes["a3c-evaluator"] not in (0, None)  # ended by the stop, from inside its start-up
    assert result.global_step == 0  # the workers waited for it, as they do


def test_short_real_pong_run_then_evaluate(tmp_path, run_cli):
    run = tmp_path / "pong"
    # Two envs per worker, not the fast preset's 8: tests/test_config.py checks the presets.
    code, out, err = run_cli(
        "train", "--num-processes", "2", "--envs-per-worker", "2", "--max-steps", "2000", "--run-dir", str(run), "--seed", "3"
    )
    assert code == 0, err
    # Not a terminal: plain progress lines, no bar, no control characters.
    assert re.search(r"^\[a3c\] \d\dh \d\dm \d\ds  step [\d,]+/2,000 \(\d+\.\d%\)  [\d,]+ steps/s  ETA \S+", out, re.MULTILINE), out
    assert "[a3c] done: " in out
    assert not any(c in out + err for c in "\r\x1b")
    saved = yaml.safe_load((run / "config.yaml").read_text())
    # A plain `a3c train` runs the fast preset; flags still win.
    assert saved["seed"] == 3 and saved["num_processes"] == 2 and saved["max_steps"] == 2000 and saved["envs_per_worker"] == 2
    assert (saved["num_steps"], saved["lr"]) == (10, 0.0003)
    latest = load_checkpoint(run / "checkpoints" / "latest.pt")
    assert latest["env_id"] == "PongDeterministic-v4" and latest["global_step"] >= 2000
    assert latest["num_actions"] == 6

    code, out, err = run_cli("evaluate", "--checkpoint", str(run), "--episodes", "2", "--max-episode-length", "300", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert len(report["episodes"]) == 2 and report["mean_reward"] == pytest.approx(np.mean(report["episodes"]))
    assert all(length <= 300 for length in report["lengths"])

    code, out, err = run_cli("evaluate", "--checkpoint", str(run / "checkpoints" / "latest.pt"), "--episodes", "1", "--max-episode-length", "200")
    assert code == 0, err
    assert "episode 1 (seed 0): reward" in out and "mean" in out and "std" in out


def _wait_until_workers_have_stepped(metrics, timeout_s: float = 90) -> None:
    """Until the evaluator has logged an episode played after the workers' first steps."""
    import csv

    def stepped() -> bool:
        if not metrics.exists():
            return False
        with metrics.open() as handle:
            return any(int(row["global_steps"]) > 0 for row in csv.DictReader(handle) if row.get("global_steps"))

    proctree.wait_for(stepped, timeout_s, "training to start")


@pytest.mark.skipif(sys.platform != "linux", reason="signals")
def test_sigterm_stops_every_process_and_saves_a_checkpoint(tmp_path):
    import signal

    script = tmp_path / "train_forever.py"
    script.write_text(proctree.TRAIN_CORRIDOR_FOREVER)
    proc = subprocess.Popen([sys.executable, "-X", "faulthandler", str(script), str(tmp_path / "run")], stderr=subprocess.PIPE, text=True)
    try:
        _wait_until_workers_have_stepped(tmp_path / "run" / "metrics.csv")
        children = proctree.children(proc.pid)
        workers_and_evaluator = proctree.spawned_children(proc.pid)
        start = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        err = proctree.communicate_or_dump_stacks(proc, 30)
    finally:  # a failed wait must not leave it training on both cores
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
    assert time.monotonic() - start < 25  # documented: a stop within seconds (room for a loaded machine)
    assert proc.returncode == 143, err
    assert "latest checkpoint saved" in err
    assert load_checkpoint(tmp_path / "run" / "checkpoints" / "latest.pt")["global_step"] > 0
    # The workers and the evaluator were joined before the trainer exited; multiprocessing's
    # resource tracker exits once it sees the trainer's end, a moment later on a busy machine.
    assert not any(proctree.alive(c) for c in workers_and_evaluator)
    proctree.wait_for(lambda: not any(proctree.alive(c) for c in children), 30, "every child to exit")


def test_an_evaluator_spaced_by_steps_plays_weights_at_least_that_many_steps_apart(tmp_path):
    """``--eval-interval 3000steps``: each round waits until the run has trained 3,000 global steps
    past the weights the last round played, however fast the machine (the seed's evaluator, with no
    pause, would play 9-step Corridor episodes a few hundred steps apart)."""
    import csv

    config = TrainConfig(env_name="Corridor", num_processes=2, num_steps=5, envs_per_worker=4, max_steps=24_000, lr=3e-3,
                         eval_episodes=1, eval_interval_s=0.0, eval_interval_steps=3000, log_interval_s=0.5)
    result = train(config, run_dir=tmp_path / "run", task=corridor_task(), quiet=True)
    assert set(result.exit_codes.values()) == {0}
    with (result.run_dir / "metrics.csv").open() as f:
        weights_steps = [int(row["weights_step"]) for row in csv.DictReader(f)]
    assert len(weights_steps) >= 2
    gaps = [b - a for a, b in zip(weights_steps, weights_steps[1:], strict=False)]
    assert min(gaps) >= 3000, gaps
