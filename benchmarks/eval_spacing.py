"""How often must the evaluator play for Pong's "solved" to be seen early? (issue 12)

    python benchmarks/eval_spacing.py train --seeds 1 2 3 --max-steps 1400000 --run-dir runs/eval-spacing
    python benchmarks/eval_spacing.py score --run-dir runs/eval-spacing --processes 2
    python benchmarks/eval_spacing.py simulate --run-dir runs/eval-spacing --out docs/results/eval-spacing-epyc.json

A run is "solved" at the first greedy evaluation that scores >= 18. On the deterministic game a
greedy policy plays one fixed game per set of weights, so that score can jump from -21 to 21 between
two evaluations a few tens of thousands of steps apart. How soon a run is found solved then
depends on how many sets of weights the evaluator gets to see, which this benchmark measures
apart from the training, with the same training runs for every spacing:

- ``train``: a plain ``a3c train`` (the fast preset, its own evaluator as it is) per seed, to
  ``--max-steps``, writing ``latest`` every ``--every`` global steps. Each ``latest.pt`` is a new
  file (written to a temp file and renamed), so hard-linking it into ``snapshots/`` keeps every one.
- ``score``: one greedy episode of each snapshot under the run evaluator's protocol (its game,
  the stuck guard, a round of one, the evaluator's env seed, reset afresh), in parallel processes
  of one thread each, into ``snapshot_scores.csv``.
- ``simulate``: for an evaluator that looks at the weights every D steps, the first step at which
  it would see a score >= ``--threshold``, averaged over the D / every phases (where in the run
  the first look falls), and the evaluator's CPU per training step at that spacing; then the
  minutes that follow from both at the runs' own training rate.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from soak import machine_info  # noqa: E402

from a3c.runtime.checkpoint import load_checkpoint  # noqa: E402
from a3c.runtime.policy import load_policy  # noqa: E402
from a3c.runtime.shared import process_context  # noqa: E402

SCORES = "snapshot_scores.csv"
FIELDS = ["snapshot", "global_step", "score", "length", "ended_by", "cpu_s"]


def train(args: argparse.Namespace) -> None:
    for seed in args.seeds:
        run_dir = args.run_dir / f"seed-{seed}"
        snapshots = run_dir / "snapshots"
        command = [sys.executable, "-m", "a3c", "train", "--seed", str(seed), "--max-steps", str(args.max_steps),
                   "--checkpoint-interval", f"{args.every}steps", *args.train_flags, "--run-dir", str(run_dir), "--quiet"]
        print("running:", " ".join(command), flush=True)
        proc = subprocess.Popen(command)
        latest = run_dir / "checkpoints" / "latest.pt"
        seen: set[int] = set()
        while True:
            done = proc.poll() is not None
            try:
                inode = latest.stat().st_ino
            except FileNotFoundError:
                inode = None
            if inode is not None and inode not in seen:
                seen.add(inode)
                snapshots.mkdir(exist_ok=True)
                try:
                    os.link(latest, snapshots / f"{len(seen):05d}.pt")
                except FileNotFoundError:  # renamed over between stat and link: the next poll takes the new one
                    seen.discard(inode)
            if done:
                break
            time.sleep(0.1)
        print(f"seed {seed}: exit {proc.returncode}, {len(seen)} snapshots", flush=True)


_protocol: dict[str, Any] = {}


def _start_scorer(protocol: dict[str, Any]) -> None:
    import torch

    torch.set_num_threads(1)
    _protocol.update(protocol)


def _score(path: str) -> dict[str, Any]:
    from a3c.algorithm.evaluation import play_greedy_episode

    p = _protocol
    policy = load_policy(path, p["env_id"], p["seed"], stuck_guard=p["stuck_guard"])
    try:
        result = play_greedy_episode(policy.model, policy.env, policy.protocol.max_episode_length, p["stuck_guard"], seed=p["seed"])
    finally:
        policy.env.close()
    assert result is not None
    return {"snapshot": Path(path).stem, "global_step": int(policy.checkpoint["global_step"]), "score": result.reward,
            "length": result.length, "ended_by": result.ended_by, "cpu_s": round(result.cpu_s, 4)}


def score(args: argparse.Namespace) -> None:
    for run_dir in sorted(args.run_dir.glob("seed-*")):
        paths = sorted(str(p) for p in (run_dir / "snapshots").glob("*.pt"))
        if not paths or (run_dir / SCORES).exists():
            continue
        config = load_checkpoint(paths[0])["config"]
        # The run's evaluator: rank num_processes, a round of one plays the env seeded seed + rank.
        protocol = {"env_id": config["env_name"], "seed": int(config["seed"]) + int(config["num_processes"]),
                    "stuck_guard": config["stuck_guard"]}
        context = process_context(preload=[__name__])
        with ProcessPoolExecutor(args.processes, mp_context=context, initializer=_start_scorer, initargs=(protocol,)) as pool:
            rows = list(pool.map(_score, paths))
        tmp = run_dir / (SCORES + ".tmp")
        with tmp.open("w", newline="") as f:
            writer = csv.DictWriter(f, FIELDS)
            writer.writeheader()
            writer.writerows(rows)
        tmp.replace(run_dir / SCORES)
        print(f"{run_dir.name}: {len(rows)} snapshots scored, best {max(r['score'] for r in rows)}", flush=True)


def first_solve(steps: list[int], scores: list[float], stride: int, threshold: float) -> list[int | None]:
    """For each phase 0..stride-1, the step of the first snapshot at phase, phase + stride, ... that
    scores >= threshold (None if none does)."""
    out: list[int | None] = []
    for phase in range(stride):
        out.append(next((steps[i] for i in range(phase, len(steps), stride) if scores[i] >= threshold), None))
    return out


def simulate(args: argparse.Namespace) -> dict[str, Any]:
    runs = {}
    for run_dir in sorted(args.run_dir.glob("seed-*")):
        if not (run_dir / SCORES).exists():
            continue
        with (run_dir / SCORES).open() as f:
            rows = sorted(csv.DictReader(f), key=lambda r: int(r["global_step"]))
        train_rows = list(csv.DictReader((run_dir / "train_metrics.csv").open()))
        last = train_rows[-1]
        runs[run_dir.name] = {
            "steps": [int(r["global_step"]) for r in rows],
            "scores": [float(r["score"]) for r in rows],
            "cpu_s": [float(r["cpu_s"]) for r in rows],
            "steps_per_s": float(last["global_steps"]) / float(last["wall_time_s"]) if "global_steps" in last else None,
        }
    result: dict[str, Any] = {"command": " ".join(sys.argv), "machine": machine_info(), "threshold": args.threshold,
                              "every": args.every, "seeds": {}, "spacings": []}
    for name, run in runs.items():
        steps, scores = run["steps"], run["scores"]
        wins = [s for s, sc in zip(steps, scores, strict=True) if sc >= args.threshold]
        result["seeds"][name] = {"snapshots": len(steps), "last_step": steps[-1], "first_win_step": wins[0] if wins else None,
                                 "wins": len(wins), "wins_after_first": sum(1 for s in steps if wins and s >= wins[0]),
                                 "eval_cpu_s_mean": statistics.fmean(run["cpu_s"]), "steps_per_s": run["steps_per_s"]}
    for stride in args.strides:
        row: dict[str, Any] = {"spacing_steps": stride * args.every, "seeds": {}}
        for name, run in runs.items():
            firsts = first_solve(run["steps"], run["scores"], stride, args.threshold)
            solved = [f for f in firsts if f is not None]
            # An evaluator's CPU per training step: one episode per spacing.
            eval_cpu_per_step = statistics.fmean(run["cpu_s"]) / (stride * args.every)
            row["seeds"][name] = {"phases": stride, "phases_solved": len(solved),
                                  "mean_solve_step": statistics.fmean(solved) if len(solved) == stride else None,
                                  "eval_cpu_s_per_1k_steps": 1000 * eval_cpu_per_step}
        means = [s["mean_solve_step"] for s in row["seeds"].values()]
        row["median_solve_step"] = statistics.median(means) if None not in means else None
        result["spacings"].append(row)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("train")
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument("--max-steps", type=int, default=1_400_000)
    p.add_argument("--every", type=int, default=5000, help="global steps between snapshots")
    p.add_argument("--run-dir", type=Path, required=True)
    p.add_argument("train_flags", nargs="*", help="after --: flags for a3c train")
    p = sub.add_parser("score")
    p.add_argument("--run-dir", type=Path, required=True)
    p.add_argument("--processes", type=int, default=2)
    p = sub.add_parser("simulate")
    p.add_argument("--run-dir", type=Path, required=True)
    p.add_argument("--every", type=int, default=5000, help="as given to train")
    p.add_argument("--strides", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    p.add_argument("--threshold", type=float, default=18.0)
    p.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.command == "train":
        train(args)
    elif args.command == "score":
        score(args)
    else:
        result = simulate(args)
        text = json.dumps(result, indent=2)
        print(text)
        if args.out:
            args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
