"""Throughput on this machine: env-only, classic A3C (1 env per worker) and batched A3C.

    python benchmarks/throughput.py --seconds 60 --out docs/results/throughput-epyc.json

Each training mode runs the real trainer (workers + evaluator, the package's own code) on
Pong for ``--warmup`` + ``--seconds`` seconds; its rate is the slope of global steps over the
last ``--seconds``. Env-only steps ``--num-processes`` processes, each a vector of
``--envs-per-worker`` preprocessed Pong envs with random actions: the most the CPU can step
through the same observation pipeline with no learning at all. Network-only runs the real
worker (the preset's worker class, rollouts, loss, backward, clip, optimiser step) over envs that
cost nothing (fixed random frames), one thread per process: the most the CPU can learn with free
envs. A process alternates between the two, so the **bound** on training is
``1 / (1 / env_only + 1 / network_only)`` for the same K and T; each training row gives its ratio
to that bound (what the evaluator, the trainer and the hand-offs cost). Run it on an idle
machine: a second job on 2 cores halves every figure.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
import yaml

from a3c.algorithm.config import TrainConfig, resolve_config
from a3c.algorithm.optim import make_optimizer
from a3c.algorithm.seeding import seed_process
from a3c.algorithm.task import atari_task, make_vector_env
from a3c.algorithm.worker import worker_class
from a3c.backends.base import TrainingRun
from a3c.backends.local import LocalRun
from a3c.runtime.shared import process_context


def _env_only_process(env_id: str, frames: str, num_envs: int, seconds: float, seed: int, queue) -> None:
    seed_process(seed)
    envs = make_vector_env(atari_task(env_id, frames=frames), [seed * 1000 + i for i in range(num_envs)], 10**9)
    envs.reset()
    rng = np.random.default_rng(seed)
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        envs.step(rng.integers(envs.single_action_space.n, size=num_envs))
        steps += num_envs
    queue.put(steps / (time.perf_counter() - start))
    envs.close()


def summed_rates(target: Any, args: list[tuple]) -> float:
    """Run ``target(*args[i], queue)`` in one process per ``args`` entry, side by side, and sum the
    rates they put on the queue."""
    ctx = process_context(preload=["a3c.algorithm.worker", "a3c.algorithm.task"])
    queue = ctx.Queue()
    procs = [ctx.Process(target=target, args=(*a, queue)) for a in args]
    for p in procs:
        p.start()
    rates = [queue.get() for _ in procs]
    for p in procs:
        p.join()
    return float(sum(rates))


def env_only(env_id: str, frames: str, processes: int, num_envs: int, seconds: float) -> float:
    return summed_rates(_env_only_process, [(env_id, frames, num_envs, seconds, rank) for rank in range(processes)])


class FreeEnv(gym.Env):
    """An env that costs nothing: the same random 42x42 frame every step, no reward, no end."""

    def __init__(self, num_actions: int = 6) -> None:
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (1, 42, 42), np.float32)
        self.action_space = gym.spaces.Discrete(num_actions)
        self.frame = np.random.default_rng(0).standard_normal((1, 42, 42)).astype(np.float32)

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        return self.frame, {}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict]:
        return self.frame, 0.0, False, False, {}


class _NoLink:
    """A worker link to a model in this process that counts nothing and never stops."""

    global_step = 0

    def __init__(self, model: torch.nn.Module) -> None:
        self.model = model

    def sync(self, model: torch.nn.Module) -> None:
        model.load_state_dict(self.model.state_dict())

    def count_steps(self, n: int) -> None:
        pass

    def should_stop(self) -> bool:
        return False


def _network_only_process(config: TrainConfig, seconds: float, queue) -> None:
    torch.set_num_threads(1)
    seed_process(config.seed)
    task = atari_task(config.env_name)
    k = config.envs_per_worker
    envs = FreeEnv() if k == 1 else gym.vector.SyncVectorEnv([FreeEnv for _ in range(k)])
    shared = task.make_model(FreeEnv())
    optimizer = make_optimizer(config.optimizer, shared.parameters(), config.lr)
    worker = worker_class(config)(config, envs, task.make_model(FreeEnv()), _NoLink(shared), optimizer)
    worker.update()  # the first update pays for lazy initialisation
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        steps += worker.update().steps
    queue.put(steps / (time.perf_counter() - start))


def network_only(config: TrainConfig, processes: int, seconds: float) -> float:
    """Steps/s of ``processes`` workers with free envs, side by side."""
    return summed_rates(_network_only_process, [(config, seconds)] * processes)


def bound(env_rate: float, network_rate: float) -> float:
    """The training rate of processes that each step their envs, then learn, with nothing else."""
    return 1.0 / (1.0 / env_rate + 1.0 / network_rate)


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


def training(config: TrainConfig, warmup: float, seconds: float) -> tuple[float, float | None]:
    """Global steps/s after the warm-up, and the evaluator's share of the children's CPU time."""
    config.max_seconds = warmup + seconds
    trainer = train_in_temp_dir(LocalRun, config)
    return rate_after_warmup(trainer, warmup), trainer.evaluator_cpu_share


def parse_variant(variant: str) -> dict[str, Any]:
    """``"frames=grey,update_groups=2"`` as config overrides (values read as YAML scalars)."""
    overrides: dict[str, Any] = {}
    for item in variant.split(","):
        field, sep, value = item.partition("=")
        if not sep or not field:
            raise SystemExit(f"--variants: {item!r} is not FIELD=VALUE")
        overrides[field.strip()] = yaml.safe_load(value)
    return overrides


def _share(share: object) -> str:
    return "-" if not isinstance(share, float) else f"{share:.0%}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", nargs="+", default=["fast", "seed"], help="presets to measure (default: fast seed)")
    parser.add_argument("--env", help="game of every row (default: each preset's own)")
    parser.add_argument("--num-processes", type=int, default=2)
    parser.add_argument("--envs-per-worker", type=int, nargs="*", default=[16], help="extra rows: the fast preset with these K")
    parser.add_argument("--variants", nargs="*", default=[], metavar="FIELD=VALUE[,FIELD=VALUE]",
                        help="extra rows: the fast preset with these config fields changed, e.g. frames=grey update_groups=2")
    parser.add_argument("--seconds", type=float, default=60.0, help="measured seconds per mode")
    parser.add_argument("--warmup", type=float, default=15.0, help="seconds excluded at the start of training modes")
    parser.add_argument("--out", type=Path, help="write the table as JSON here")
    args = parser.parse_args()

    def config(preset: str, **kwargs: object) -> TrainConfig:
        game = {"env_name": args.env} if args.env else {}
        return resolve_config(preset, num_processes=args.num_processes, max_steps=10**12, checkpoint_interval_s=1e9, **game, **kwargs)

    modes = [(preset, config(preset)) for preset in args.presets]
    modes += [(f"fast, {k} envs per worker", config("fast", envs_per_worker=k)) for k in args.envs_per_worker]
    modes += [(f"fast, {variant}", config("fast", **parse_variant(variant))) for variant in args.variants]
    env_rates: dict[tuple[str, str, int], float] = {}
    network_rates: dict[tuple[str, int, int, str, int], float] = {}
    rows: list[dict[str, object]] = []
    for label, cfg in modes:
        k, t = cfg.envs_per_worker, cfg.num_steps
        env_key = (cfg.env_name, cfg.frames, k)
        if env_key not in env_rates:
            env_rates[env_key] = env_only(cfg.env_name, cfg.frames, args.num_processes, k, args.seconds)
        net_key = (cfg.env_name, k, t, cfg.optimizer, cfg.update_groups)
        if net_key not in network_rates:
            network_rates[net_key] = network_only(cfg, args.num_processes, args.seconds)
        env_rate, net_rate = env_rates[env_key], network_rates[net_key]
        ceiling = bound(env_rate, net_rate)
        trained, evaluator_share = training(cfg, args.warmup, args.seconds)
        rows.append({
            "preset": label, "env": cfg.env_name, "envs_per_worker": k, "num_steps": t, "eval_interval_s": cfg.eval_interval_s,
            "env_only": env_rate, "network_only": net_rate, "bound": ceiling, "training": trained, "ratio_to_bound": trained / ceiling,
            "evaluator_cpu_share": evaluator_share,
        })
        print(f"{label}: env-only {env_rate:,.0f}, network-only {net_rate:,.0f}, bound {ceiling:,.0f}, training {trained:,.0f} steps/s "
              f"({trained / ceiling:.2f} of the bound)", flush=True)

    print(f"| preset ({args.num_processes} workers) | K x T | env-only | network-only | bound | training | ratio to bound | evaluator's CPU |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(f"| {r['preset']} ({r['env']}) | {r['envs_per_worker']} x {r['num_steps']} | {r['env_only']:,.0f} | {r['network_only']:,.0f} "
              f"| {r['bound']:,.0f} | {r['training']:,.0f} | {r['ratio_to_bound']:.2f} | {_share(r['evaluator_cpu_share'])} |")
    if args.out:
        from soak import machine_info

        report = {"command": "python benchmarks/throughput.py " + " ".join(sys.argv[1:]), "machine": machine_info(), "rows": rows}
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
