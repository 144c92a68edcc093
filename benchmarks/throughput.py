"""Throughput on this machine: env-only, classic A3C (1 env per worker) and batched A3C.

    python benchmarks/throughput.py --seconds 60 --out docs/results/throughput.json

Each training mode runs the real trainer (workers + evaluator, the package's own code) on
Pong for ``--warmup`` + ``--seconds`` seconds; its rate is the slope of global steps over the
last ``--seconds``. Env-only steps ``--num-processes`` processes, each a vector of
``--envs-per-worker`` preprocessed Pong envs with random actions: the most the CPU can step
through the same observation pipeline with no learning at all. Run it on an idle machine: a
second job on 2 cores halves every figure.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.multiprocessing as mp

from a3c.algorithm.config import TrainConfig, resolve_config
from a3c.algorithm.seeding import seed_process
from a3c.algorithm.task import atari_task, make_vector_env
from a3c.backends.base import TrainingRun
from a3c.backends.local import LocalRun
from a3c.runtime.shared import START_METHOD


def _env_only_process(env_id: str, num_envs: int, seconds: float, seed: int, queue) -> None:
    seed_process(seed)
    envs = make_vector_env(atari_task(env_id), [seed * 1000 + i for i in range(num_envs)], 10**9)
    envs.reset()
    rng = np.random.default_rng(seed)
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        envs.step(rng.integers(envs.single_action_space.n, size=num_envs))
        steps += num_envs
    queue.put(steps / (time.perf_counter() - start))
    envs.close()


def env_only(env_id: str, processes: int, num_envs: int, seconds: float) -> float:
    ctx = mp.get_context(START_METHOD)
    queue = ctx.Queue()
    procs = [ctx.Process(target=_env_only_process, args=(env_id, num_envs, seconds, rank, queue)) for rank in range(processes)]
    for p in procs:
        p.start()
    rates = [queue.get() for _ in procs]
    for p in procs:
        p.join()
    return float(sum(rates))


def train_in_temp_dir(trainer_class: type[TrainingRun], config: TrainConfig) -> TrainingRun:
    """Run the real trainer (until the config's ``max_seconds``) in a run dir that is thrown away."""
    with tempfile.TemporaryDirectory() as folder:
        trainer = trainer_class(config, run_dir=Path(folder) / "run", quiet=True)
        trainer.train()
    return trainer


def rate_after_warmup(trainer: TrainingRun, warmup: float) -> float:
    """Global steps per second over the samples taken after ``warmup`` seconds."""
    samples = [(t, s) for t, s in trainer.step_samples if t >= warmup]
    (t0, s0), (t1, s1) = samples[0], samples[-1]
    return (s1 - s0) / (t1 - t0)


def training(config: TrainConfig, warmup: float, seconds: float) -> float:
    config.max_seconds = warmup + seconds
    return rate_after_warmup(train_in_temp_dir(LocalRun, config), warmup)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="PongDeterministic-v4")
    parser.add_argument("--num-processes", type=int, default=2)
    parser.add_argument("--envs-per-worker", type=int, nargs="+", default=[8, 16], help="K values of the batched rows; env-only uses the largest")
    parser.add_argument("--seconds", type=float, default=60.0, help="measured seconds per mode")
    parser.add_argument("--warmup", type=float, default=15.0, help="seconds excluded at the start of training modes")
    parser.add_argument("--eval-interval", type=float, default=10.0, help="evaluator pause of the 'evaluator pausing' rows (the fast preset's 10 s)")
    parser.add_argument("--out", type=Path, help="write the table as JSON here")
    args = parser.parse_args()

    def config(preset: str, **kwargs: object) -> TrainConfig:
        return resolve_config(preset, env_name=args.env, num_processes=args.num_processes, max_steps=10**12, checkpoint_interval_s=1e9, **kwargs)

    k_max = max(args.envs_per_worker)
    rows: list[dict[str, object]] = []
    env_rate = env_only(args.env, args.num_processes, k_max, args.seconds)
    rows.append({"mode": f"env only ({args.num_processes} processes x {k_max} envs, random actions)", "steps_per_s": env_rate})
    modes = [("classic A3C (the seed preset: 1 env per worker, 20-step rollouts), evaluator without pause", config("seed"))]
    for k in args.envs_per_worker:
        modes.append((f"batched A3C (fast preset), {k} envs per worker, evaluator without pause", config("fast", envs_per_worker=k, eval_interval_s=0.0)))
        modes.append(
            (f"batched A3C (fast preset), {k} envs per worker, evaluator pausing {args.eval_interval:g} s",
             config("fast", envs_per_worker=k, eval_interval_s=args.eval_interval))
        )
    for label, cfg in modes:
        rows.append({"mode": label, "steps_per_s": training(cfg, args.warmup, args.seconds)})
        print(f"{label}: {rows[-1]['steps_per_s']:,.0f} steps/s", flush=True)
    for row in rows:
        row["ratio_to_env_only"] = float(row["steps_per_s"]) / env_rate  # type: ignore[arg-type]

    print(f"| mode ({args.num_processes} workers, {args.env}) | steps/s | ratio to env-only |")
    print("| --- | ---: | ---: |")
    for row in rows:
        print(f"| {row['mode']} | {row['steps_per_s']:,.0f} | {row['ratio_to_env_only']:.2f} |")
    if args.out:
        report = {
            "command": "python benchmarks/throughput.py " + " ".join(
                f"--{k.replace('_', '-')} {' '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in vars(args).items() if k != "out" and v is not None
            ),
            "machine": {"cpus": mp.cpu_count(), "platform": platform.platform(), "python": platform.python_version(), "torch": torch.__version__},
            "rows": rows,
        }
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
