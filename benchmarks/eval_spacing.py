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

from a3c.algorithm.evaluation import play_greedy_episode  # noqa: E402
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
                snapshots.mkdir(exist_ok=True)
                target = snapshots / f"{len(seen) + 1:05d}.pt"
                try:
                    os.link(latest, target)
                except FileNotFoundError:  # renamed away between stat and link: the next poll takes the new one
                    pass
                else:  # the file linked, which a rename between stat and link may have made a newer one
                    seen.add(target.stat().st_ino)
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
    p = _protocol
    policy = load_policy(path, p["env_id"], p["seed"], stuck_guard=p["stuck_guard"])
    try:
        protocol = policy.protocol
        result = play_greedy_episode(policy.model, policy.env, protocol.max_episode_length, protocol.stuck_guard, seed=p["seed"])
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


def first_solve(steps: list[int], scores: list[float], cpu_s: list[float], stride: int, threshold: float) -> list[tuple[int, float] | None]:
    """For each phase 0..stride-1, an evaluator that looks at snapshots phase, phase + stride, ...:
    the step of the first that scores >= threshold and the CPU seconds of every episode it played
    up to and with that one (None if none scores so)."""
    out: list[tuple[int, float] | None] = []
    for phase in range(stride):
        spent = 0.0
        found: tuple[int, float] | None = None
        for i in range(phase, len(steps), stride):
            spent += cpu_s[i]
            if scores[i] >= threshold:
                found = (steps[i], spent)
                break
        out.append(found)
    return out


def worker_cpu_per_step(run_dir: Path, eval_cpu_per_agent_step: float, cores: int) -> float:
    """CPU seconds the workers spent per global step in the run: the cores' time over its wall time,
    less what its own evaluator played (its episodes' lengths at the scored episodes' cost per step)."""
    with (run_dir / "train_metrics.csv").open() as f:
        last = list(csv.DictReader(f))[-1]
    with (run_dir / "metrics.csv").open() as f:
        own_eval_steps = sum(int(r["episode_length"]) for r in csv.DictReader(f))
    wall, steps = float(last["wall_time_s"]), int(last["global_steps"])
    return (cores * wall - own_eval_steps * eval_cpu_per_agent_step) / steps


def simulate(args: argparse.Namespace) -> dict[str, Any]:
    """Each spacing's first solve per seed (the mean over phases) and the minutes it would take: the
    workers' CPU for the steps to it, plus the evaluator's CPU for the episodes it played, over the
    cores. Start-up and the last episode's wall time are left out: the same for every spacing."""
    runs: dict[str, dict[str, Any]] = {}
    for run_dir in sorted(args.run_dir.glob("seed-*")):
        if not (run_dir / SCORES).exists():
            continue
        with (run_dir / SCORES).open() as f:
            rows = sorted(csv.DictReader(f), key=lambda r: int(r["global_step"]))
        cpu = [float(r["cpu_s"]) for r in rows]
        per_agent_step = sum(cpu) / sum(int(r["length"]) for r in rows)
        runs[run_dir.name] = {"steps": [int(r["global_step"]) for r in rows], "scores": [float(r["score"]) for r in rows],
                              "cpu_s": cpu, "eval_cpu_per_agent_step": per_agent_step,
                              "worker_cpu_per_step": worker_cpu_per_step(run_dir, per_agent_step, args.cores)}
    result: dict[str, Any] = {"command": " ".join(sys.argv), "machine": machine_info(), "threshold": args.threshold,
                              "every": args.every, "cores": args.cores, "seeds": {}, "spacings": []}
    for name, run in runs.items():
        steps, scores = run["steps"], run["scores"]
        wins = [s for s, sc in zip(steps, scores, strict=True) if sc >= args.threshold]
        result["seeds"][name] = {
            "snapshots": len(steps), "last_step": steps[-1], "first_win_step": wins[0] if wins else None, "wins": len(wins),
            # Of the snapshots from the first win on, the share that win: the chance that one more
            # look, once the policy can win, sees a win.
            "win_share_after_first_win": len(wins) / sum(1 for s in steps if s >= wins[0]) if wins else None,
            "eval_ms_per_agent_step": 1000 * run["eval_cpu_per_agent_step"],
            "worker_ms_per_step": 1000 * run["worker_cpu_per_step"],
        }
    for stride in args.strides:
        row: dict[str, Any] = {"spacing_steps": stride * args.every, "seeds": {}}
        for name, run in runs.items():
            firsts = first_solve(run["steps"], run["scores"], run["cpu_s"], stride, args.threshold)
            solved = [f for f in firsts if f is not None]
            everywhere = len(solved) == stride
            minutes = [(step * run["worker_cpu_per_step"] + spent) / args.cores / 60 for step, spent in solved]
            row["seeds"][name] = {
                "phases": stride, "phases_solved": len(solved),
                "mean_solve_step": statistics.fmean(s for s, _ in solved) if everywhere else None,
                # Phases that never saw a win counted at the run's last step: a lower bound.
                "mean_solve_step_at_least": statistics.fmean([s for s, _ in solved] + [run["steps"][-1]] * (stride - len(solved))),
                "mean_minutes": statistics.fmean(minutes) if everywhere else None,
                "eval_cpu_share": statistics.fmean(spent / (step * run["worker_cpu_per_step"] + spent) for step, spent in solved) if solved else None,
            }
        bounds = [s["mean_solve_step_at_least"] for s in row["seeds"].values()]
        row["median_solve_step_at_least"] = statistics.median(bounds) if bounds else None
        for key in ("mean_solve_step", "mean_minutes"):
            values = [s[key] for s in row["seeds"].values()]
            row[f"median_{key.removeprefix('mean_')}"] = statistics.median(values) if values and None not in values else None
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
    p.add_argument("--cores", type=int, default=2, help="the cores the runs trained on")
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
