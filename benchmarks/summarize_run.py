"""Summarise a run's metrics.csv as a markdown table: wall time, global steps, eval reward.

    python benchmarks/summarize_run.py runs/pong-seed-2proc/metrics.csv --every 300

Steady-state steps/s is the slope of global steps over wall time after a warm-up, the way
the seed design's 570 steps/s in issue #2 was measured.
"""

from __future__ import annotations

import argparse
import csv
import statistics
from pathlib import Path


def load(path: Path) -> list[dict[str, float]]:
    with path.open(newline="") as handle:
        return [
            {"t": float(r["wall_time_s"]), "steps": float(r["global_steps"]), "reward": float(r["episode_reward"]), "length": float(r["episode_length"])}
            for r in csv.DictReader(handle)
        ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("metrics", type=Path)
    parser.add_argument("--every", type=float, default=300.0, help="window length in seconds (default 300)")
    parser.add_argument("--warmup", type=float, default=300.0, help="seconds excluded from the steady-state rate")
    args = parser.parse_args()
    rows = load(args.metrics)
    if not rows:
        raise SystemExit(f"{args.metrics}: no evaluation episodes")

    print("| wall time (min) | global steps | eval episodes | mean reward | min | max |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    end = rows[-1]["t"]
    start = 0.0
    while start < end:
        window = [r for r in rows if start < r["t"] <= start + args.every]
        if window:
            rewards = [r["reward"] for r in window]
            print(
                f"| {(start + args.every) / 60:.0f} | {window[-1]['steps']:,.0f} | {len(window)} | "
                f"{statistics.fmean(rewards):.1f} | {min(rewards):g} | {max(rewards):g} |"
            )
        start += args.every
    steady = [r for r in rows if r["t"] >= args.warmup]
    if len(steady) >= 2:
        rate = (steady[-1]["steps"] - steady[0]["steps"]) / (steady[-1]["t"] - steady[0]["t"])
        print(f"\nsteady-state rate after {args.warmup:.0f} s: {rate:.0f} global steps/s")
    print(f"final: {rows[-1]['steps']:,.0f} steps at {end / 60:.1f} min; best episode {max(r['reward'] for r in rows):g}")


if __name__ == "__main__":
    main()
