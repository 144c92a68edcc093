"""How a greedy Pong game depends on the running normaliser's statistics (issue 12).

    python benchmarks/evaluator_normaliser.py streaks docs/results/tts-*/seed*-metrics.csv
    python benchmarks/evaluator_normaliser.py shift docs/results/evaluator-normaliser-epyc/tts-fused-seed2-latest.pt \
        --out docs/results/evaluator-normaliser-epyc/shift.json

``streaks`` reads training runs' ``metrics.csv`` (one row per greedy episode) and, for each
episode cut at the ALE's 108,000-frame cap (``truncated``), counts the 21-0 losses among the
episodes that the same evaluator played after it. Until commit cb6c2c4 the evaluator reset its
env without a seed, so the normaliser's statistics carried over from one episode to the next.

``shift`` plays a checkpoint's greedy game from a fresh env (the normaliser starting afresh, as
the evaluator now does at every round), then from envs whose normaliser holds converged
statistics (as after a long history) scaled by each factor: what a drift of the statistics does
to one set of weights. Pong without sticky actions is deterministic, so each game is a function of
the weights and the statistics alone. Run ``shift`` on an idle machine only if its time matters;
its figures are scores, not speeds.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

#: Agent steps a converged normaliser has seen: three time constants of its alpha (0.9999).
CONVERGED_STEPS = 30_000
SHIFTS = ((1.0, 1.0), (0.9, 1.0), (1.1, 1.0), (1.0, 0.8), (1.0, 1.25))


def streaks(paths: list[Path]) -> list[dict[str, Any]]:
    """For each truncated greedy episode of each file: what the evaluator played after it."""
    found = []
    for path in paths:
        with path.open() as handle:
            rows = list(csv.DictReader(handle))
        for i, row in enumerate(rows):
            if row.get("ended_by") != "truncated":  # older files have no such column
                continue
            after = rows[i + 1:]
            losses = sum(1 for r in after if float(r["episode_reward"]) == -21.0)
            found.append({"file": str(path), "global_steps": int(row["global_steps"]), "score": float(row["episode_reward"]),
                          "episodes_after": len(after), "lost_21_0_after": losses,
                          "best_after": max((float(r["episode_reward"]) for r in after), default=None)})
    return found


def converged_statistics(env: Any, frames: int = 2_000) -> tuple[float, float]:
    """The bias-corrected frame mean and std that the normaliser reaches on this game's frames."""
    env.reset(seed=0)
    for _ in range(frames):
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            env.reset()
    correction = 1 - env.alpha**env.num_steps
    return env.state_mean / correction, env.state_std / correction


def play(checkpoint: str, mean_scale: float | None, std_scale: float, episodes: int) -> list[tuple[float, int]]:
    """Greedy episodes one after another in one env: from fresh statistics (``mean_scale`` None),
    else from converged ones scaled, carried over between the episodes as the old evaluator did."""
    from a3c.algorithm.evaluation import play_greedy_round
    from a3c.runtime.policy import load_policy

    policy = load_policy(checkpoint, seed=0)
    env = policy.env
    seeds: list[int | None] | None = [0]
    if mean_scale is not None:
        mean, std = converged_statistics(env)
        env.reset()
        correction = 1 - env.alpha**CONVERGED_STEPS
        env.num_steps = CONVERGED_STEPS
        env.state_mean, env.state_std = mean * mean_scale * correction, std * std_scale * correction
        seeds = None  # an unseeded reset keeps the statistics
    results = []
    for _ in range(episodes):
        result = play_greedy_round(policy.model, [env], 10**6, "screen", seeds=seeds)
        assert result is not None
        results.append((result[0].reward, result[0].length))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("streaks", help="what followed each truncated greedy episode")
    s.add_argument("metrics", nargs="+", type=Path)
    p = sub.add_parser("shift", help="one checkpoint's greedy game under shifted normaliser statistics")
    p.add_argument("checkpoint")
    p.add_argument("--episodes", type=int, default=3)
    p.add_argument("--out", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.command == "streaks":
        for f in streaks(args.metrics):
            print(f"{f['file']}: truncated at {f['global_steps']:,} steps (score {f['score']:+.0f}); "
                  f"after it {f['lost_21_0_after']} of {f['episodes_after']} episodes lost 21-0, best {f['best_after']}")
        return
    rows = [{"normaliser": "fresh at each episode", "episodes": play(args.checkpoint, None, 1.0, args.episodes)}]
    for mean_scale, std_scale in SHIFTS:
        rows.append({"normaliser": f"converged, mean x{mean_scale}, std x{std_scale}",
                     "episodes": play(args.checkpoint, mean_scale, std_scale, args.episodes)})
    for row in rows:
        print(f"{row['normaliser']}: " + ", ".join(f"{score:+.0f} in {length:,} steps" for score, length in row["episodes"]))
    if args.out is not None:
        from soak import machine_info

        report = {"command": "python benchmarks/evaluator_normaliser.py " + " ".join(sys.argv[1:]), "machine": machine_info(),
                  "checkpoint": args.checkpoint, "rows": rows}
        args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    from a3c.errors import UserError

    try:
        main()
    except (UserError, OSError) as error:  # a checkpoint or metrics file that is missing or unreadable
        raise SystemExit(f"evaluator_normaliser.py: {error}") from None
