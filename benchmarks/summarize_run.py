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
            {"t": float(r["wall_time_s"]), "steps": float(r["global_steps"]), "reward": float(r["episode_reward"]), "length": float(r["episode_length"]), "stuck": r.get("ended_by") == "stuck"}
            for r in csv.DictReader(handle)
        ]


def solve_point(rows: list[dict[str, float]], threshold: float = 18.0, window: int = 5) -> dict[str, float] | None:
    """The first evaluation row at which the last ``window`` full episodes average >= threshold."""
    recent: list[float] = []
    for row in rows:
        if row["stuck"]:
            continue
        recent = (recent + [row["reward"]])[-window:]
        if len(recent) == window and statistics.fmean(recent) >= threshold:
            return row
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("metrics", type=Path)
    parser.add_argument("--every", type=float, default=300.0, help="window length in seconds (default 300)")
    parser.add_argument("--warmup", type=float, default=300.0, help="seconds excluded from the steady-state rate")
    args = parser.parse_args()
    rows = load(args.metrics)
    if not rows:
        raise SystemExit(f"{args.metrics}: no evaluation episodes")

    print("Rewards are over full episodes; episodes cut by the stuck guard are counted apart.\n")
    print("| wall time (min) | global steps | steps/s in window | full episodes | mean reward | min | max | stuck-guard episodes |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    end = rows[-1]["t"]
    start = 0.0
    prev_t, prev_steps = 0.0, 0.0
    while start < end:
        window = [r for r in rows if start < r["t"] <= start + args.every]
        full = [r["reward"] for r in window if not r["stuck"]]
        stuck = len(window) - len(full)
        if window:
            rate = (window[-1]["steps"] - prev_steps) / max(window[-1]["t"] - prev_t, 1e-9)
            prev_t, prev_steps = window[-1]["t"], window[-1]["steps"]
            stats = f"{statistics.fmean(full):.1f} | {min(full):g} | {max(full):g}" if full else "- | - | -"
            print(
                f"| {(start + args.every) / 60:.0f} | {window[-1]['steps']:,.0f} | {rate:.0f} | {len(full)} | {stats} | {stuck} |"
            )
        start += args.every
    steady = [r for r in rows if r["t"] >= args.warmup]
    if len(steady) >= 2:
        rate = (steady[-1]["steps"] - steady[0]["steps"]) / (steady[-1]["t"] - steady[0]["t"])
        print(f"\nsteady-state rate after {args.warmup:.0f} s: {rate:.0f} global steps/s")
    solved = solve_point(rows)
    if solved is None:
        print("not solved: the greedy evaluation never averaged >= 18 over its last 5 full episodes")
    else:
        print(f"solved (last 5 full greedy episodes average >= 18) at {solved['t'] / 60:.1f} min, {solved['steps']:,.0f} steps")
    print(f"final: {rows[-1]['steps']:,.0f} steps at {end / 60:.1f} min; best full episode {max(r['reward'] for r in rows if not r['stuck']):g}")


if __name__ == "__main__":
    main()
