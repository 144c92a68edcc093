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

from a3c.runtime.run_dir import eval_rounds, round_size_of


def load(path: Path) -> list[dict[str, float]]:
    with path.open(newline="") as handle:
        return [
            {
                "t": float(r["wall_time_s"]),
                "steps": float(r["global_steps"]),
                "reward": float(r["episode_reward"]),
                "length": float(r["episode_length"]),
                "stuck": r.get("ended_by") == "stuck",
                "weights_step": r.get("weights_step", ""),
            }
            for r in csv.DictReader(handle)
        ]


def solve_point(rows: list[dict[str, float]], round_size: int | None = None, threshold: float = 18.0, window: int = 5) -> dict[str, float] | None:
    """The evaluation row at which the run first counts as solved, with ``mean`` added.

    Runs with rounds (``round_size``: ``--eval-episodes`` episodes with one weights copy, 1 on a
    deterministic game): the first round whose mean is >= ``threshold``, every episode counted.
    Runs from before rounds (``round_size`` None, each episode with weights of its own): the first
    time the last ``window`` full episodes average >= ``threshold`` (stuck-guard episodes left
    out), the criterion of our earlier results.
    """
    if round_size is not None:
        for played in eval_rounds(rows, round_size):
            mean = statistics.fmean(r["reward"] for r in played)
            if mean >= threshold:
                return {**played[-1], "mean": mean}
        return None
    recent: list[float] = []
    for row in rows:
        if row["stuck"]:
            continue
        recent = (recent + [row["reward"]])[-window:]
        if len(recent) == window and statistics.fmean(recent) >= threshold:
            return {**row, "mean": statistics.fmean(recent)}
    return None


def criterion(round_size: int | None, threshold: float = 18.0, window: int = 5) -> str:
    if round_size == 1:
        return f"a greedy episode (a round of 1, the game being deterministic) scores >= {threshold:g}"
    if round_size is not None:
        return f"a round of {round_size} greedy episodes with one weights copy averages >= {threshold:g}"
    return f"the last {window} full greedy episodes average >= {threshold:g}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("metrics", type=Path)
    parser.add_argument("--every", type=float, default=300.0, help="window length in seconds (default 300)")
    parser.add_argument("--warmup", type=float, default=300.0, help="seconds excluded from the steady-state rate")
    parser.add_argument("--threshold", type=float, default=18.0, help="greedy mean that counts as solved (default 18, Pong)")
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
    round_size = round_size_of(args.metrics.parent)
    solved = solve_point(rows, round_size, args.threshold)
    if solved is None:
        print(f"not solved: never {criterion(round_size, args.threshold)}")
    else:
        print(f"solved ({criterion(round_size, args.threshold)}) at {solved['t'] / 60:.1f} min, {solved['steps']:,.0f} steps")
    print(f"final: {rows[-1]['steps']:,.0f} steps at {end / 60:.1f} min; best full episode {max(r['reward'] for r in rows if not r['stuck']):g}")


if __name__ == "__main__":
    main()
