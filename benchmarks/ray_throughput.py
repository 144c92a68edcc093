"""Steps/s of the Ray backend against the local Hogwild! backend, with the same settings.

    python benchmarks/ray_throughput.py --seconds 60 --warmup 15 --out docs/results/ray-throughput.json

Each backend runs the real trainer on Pong (the fast preset unless --preset, --num-processes
workers, the evaluator as configured) for ``--warmup`` + ``--seconds`` seconds; its rate is the
slope of global steps over the last ``--seconds``. The Ray run starts its own local Ray sized to
the machine (started before the clock runs). It also reports what the scaling model in
docs/ray.md needs: each Ray worker's rate, the share of its time spent waiting for the parameter
server, and the most updates per second the server could apply (updates / seconds spent applying
them). Run it on an idle machine: a second job on 2 cores halves every figure.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

import torch
import torch.multiprocessing as mp

from a3c.algorithm.config import TrainConfig, resolve_config
from a3c.backends.local import LocalRun

sys.path.insert(0, str(Path(__file__).resolve().parent))
from throughput import rate_after_warmup, train_in_temp_dir  # noqa: E402


def run_local(config: TrainConfig, warmup: float) -> dict[str, Any]:
    return {"backend": "local", "steps_per_s": rate_after_warmup(train_in_temp_dir(LocalRun, config), warmup)}


def run_ray(config: TrainConfig, warmup: float) -> dict[str, Any]:
    from a3c.backends.ray.driver import RayRun

    trainer = train_in_temp_dir(RayRun, config)
    rate = rate_after_warmup(trainer, warmup)
    stats = trainer.server_stats
    steps_per_update = config.envs_per_worker * config.num_steps
    update_rate = stats["updates"] / max(stats["busy_s"], 1e-9)
    return {
        "backend": "ray",
        "steps_per_s": rate,
        "steps_per_s_per_worker": rate / config.num_processes,
        "worker_wait_fraction": trainer.wait_s / max(trainer.wait_s + trainer.compute_s, 1e-9),
        "server_updates": stats["updates"],
        "server_busy_fraction": stats["busy_s"] / max(stats["uptime_s"], 1e-9),
        "server_max_updates_per_s": update_rate,
        "server_max_steps_per_s": update_rate * steps_per_update,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="PongDeterministic-v4")
    parser.add_argument("--preset", default="fast")
    parser.add_argument("--num-processes", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=60.0, help="measured seconds per backend")
    parser.add_argument("--warmup", type=float, default=15.0, help="seconds excluded at the start of each run")
    parser.add_argument("--repeats", type=int, default=1, help="alternate local and Ray this many times")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args()

    config = resolve_config(
        args.preset, env_name=args.env, num_processes=args.num_processes, max_steps=10**12, checkpoint_interval_s=1e9,
        max_seconds=args.warmup + args.seconds,
    )
    rows: list[dict[str, Any]] = []
    for repeat in range(args.repeats):
        for run in (run_local, run_ray):
            row = {"repeat": repeat, **run(config, args.warmup)}
            rows.append(row)
            print(f"{row['backend']}: {row['steps_per_s']:,.0f} steps/s", flush=True)
            time.sleep(5)  # let the previous run's processes go before the next one starts

    def mean(backend: str, key: str = "steps_per_s") -> float:
        values = [float(r[key]) for r in rows if r["backend"] == backend]
        return sum(values) / len(values)

    local, ray_rate = mean("local"), mean("ray")
    summary = {
        "local_steps_per_s": local,
        "ray_steps_per_s": ray_rate,
        "ray_overhead": 1.0 - ray_rate / local,
        "ray_worker_wait_fraction": mean("ray", "worker_wait_fraction"),
        "server_max_updates_per_s": mean("ray", "server_max_updates_per_s"),
        "server_max_steps_per_s": mean("ray", "server_max_steps_per_s"),
    }
    print(json.dumps(summary, indent=2))
    if args.out:
        report = {
            "command": "python benchmarks/ray_throughput.py "
            + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if k != "out" and v is not None),
            "machine": {
                "cpus": mp.cpu_count(), "platform": platform.platform(), "python": platform.python_version(), "torch": torch.__version__,
                "ray": importlib.metadata.version("ray"),
            },
            "settings": {
                k: v
                for k, v in config.to_dict().items()
                if k in ("env_name", "num_processes", "envs_per_worker", "num_steps", "eval_interval_s", "optimizer")
            },
            "summary": summary,
            "rows": rows,
        }
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
