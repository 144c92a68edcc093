"""Plot greedy evaluation reward against wall time for one or more runs' metrics.csv.

    pip install -e ".[bench]"
    python benchmarks/plot_runs.py docs/results/pong-seed-2proc-metrics.csv:classic \
        docs/results/pong-k8-t5-lr2e-4-metrics.csv:batched -o docs/results/pong-curves.png

Each argument is ``PATH[:LABEL]``. Points are full greedy episodes (stuck-guard episodes are
left out); the line is the mean of the last 5.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", help="metrics.csv[:label]")
    parser.add_argument("-o", "--out", type=Path, required=True)
    args = parser.parse_args()

    fig, ax = plt.subplots(figsize=(8, 4.5))
    for spec in args.runs:
        path, _, label = spec.partition(":")
        with open(path, newline="") as handle:
            rows = [r for r in csv.DictReader(handle) if r["ended_by"] != "stuck"]
        minutes = [float(r["wall_time_s"]) / 60 for r in rows]
        rewards = [float(r["episode_reward"]) for r in rows]
        smooth = [sum(rewards[max(0, i - 4) : i + 1]) / len(rewards[max(0, i - 4) : i + 1]) for i in range(len(rewards))]
        (line,) = ax.plot(minutes, smooth, label=label or Path(path).stem)
        ax.scatter(minutes, rewards, s=4, alpha=0.3, color=line.get_color())
    ax.axhline(18, color="grey", linestyle="--", linewidth=0.8, label="solved (mean of 5 >= 18)")
    ax.set_xlabel("wall time (minutes, 2 CPU cores)")
    ax.set_ylabel("greedy episode reward")
    ax.set_ylim(-22, 22)
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)


if __name__ == "__main__":
    main()
