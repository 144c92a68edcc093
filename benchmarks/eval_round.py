"""What an evaluation round costs: N greedy episodes played one after another, then side by side.

    python benchmarks/eval_round.py --episodes 5 --out docs/results/eval-round-xeon.json

Both ways play the shipped Pong agent on ``ALE/Pong-v5`` (sticky actions, so that the episodes
differ), with the same reset seeds, in this one process with one intra-op thread, as the training
evaluator does. "One by one" is the evaluator before rounds were batched
(:func:`a3c.algorithm.evaluation.play_greedy_episode` N times); "side by side" is
:func:`a3c.algorithm.evaluation.play_greedy_round`. Reported: CPU seconds, wall seconds, and
the agent steps played, for each. Run it on an idle machine.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from soak import machine_info  # noqa: E402

from a3c.algorithm.envs.atari import make_atari_env
from a3c.algorithm.evaluation import play_greedy_episode, play_greedy_round
from a3c.algorithm.seeding import seed_process
from a3c.pretrained import shipped_checkpoint
from a3c.runtime.checkpoint import load_checkpoint, model_from_checkpoint


def measure(episodes: int, env_id: str) -> dict[str, Any]:
    seed_process(0)
    model = model_from_checkpoint(load_checkpoint(shipped_checkpoint(env_id)))
    model.eval()
    seeds = list(range(1000, 1000 + episodes))
    envs = [make_atari_env(env_id, seed) for seed in seeds]
    rows: dict[str, Any] = {}
    try:
        for way in ("one by one", "side by side"):
            cpu, wall = time.process_time(), time.perf_counter()
            if way == "one by one":
                results = [play_greedy_episode(model, env, 1_000_000, seed=seed) for env, seed in zip(envs, seeds, strict=True)]
            else:
                results = list(play_greedy_round(model, envs, 1_000_000, seeds=seeds) or [])
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            steps = sum(r.length for r in results if r is not None)
            rows[way] = {
                "cpu_s": round(cpu, 2),
                "wall_s": round(wall, 2),
                "steps": steps,
                "cpu_ms_per_step": round(1000 * cpu / steps, 3),
                "rewards": [r.reward for r in results if r is not None],
            }
    finally:
        for env in envs:
            env.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--episodes", type=int, default=5)
    parser.add_argument("--env", default="ALE/Pong-v5")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    rows = measure(args.episodes, args.env)
    for way, row in rows.items():
        print(f"{way:>12}: {row['cpu_s']:6.2f} CPU s, {row['wall_s']:6.2f} s, {row['steps']:,} steps, "
              f"{row['cpu_ms_per_step']:.3f} CPU ms a step; rewards {row['rewards']}")
    ratio = rows["side by side"]["cpu_s"] / rows["one by one"]["cpu_s"]
    print(f"side by side costs {ratio:.2f} of one by one")
    if args.out:
        result = {"command": f"python benchmarks/eval_round.py --episodes {args.episodes} --env {args.env}",
                  "machine": machine_info()["cpu_model"], "env": args.env, "episodes": args.episodes,
                  **rows, "cpu_ratio": round(ratio, 3)}
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
