"""Train Pong and record the wall time and steps until it is solved, for one seed or several.

    python benchmarks/time_to_solve.py --run-dir runs/tts-fast --out docs/results/tts-fast.json
    python benchmarks/time_to_solve.py --seeds 1 2 3 --run-dir runs/tts-fast --out docs/results/tts-fast-3seeds.json
    python benchmarks/time_to_solve.py --run-dir runs/tts-seed -- --preset seed

"Solved" is the first evaluation round (``--eval-episodes`` greedy episodes with one weights
copy: 5 by default, 1 on a deterministic game such as ``PongDeterministic-v4``) whose mean is >=
``--threshold`` (18, Pong); see ``summarize_run.solve_point``.
A run stops there (SIGTERM, which checkpoints) unless ``--keep-going``; it stops anyway at
``--max-minutes``. It trains with a plain ``a3c train``, the fast preset; flags after ``--`` go to
``a3c train`` and override it.

With ``--seeds``, the seeds train one after another (never side by side: they would share the
cores), each in ``RUN_DIR/seed-N``, and the result adds the median and the spread (min, max) of
the minutes and steps to solve. A seed whose run dir already holds a result (``result.json``) is
not trained again, so an interrupted series can be taken up where it stopped. ``--summarise-only``
trains nothing: it scores a seed stopped by hand from its ``metrics.csv`` and writes the series'
JSON, for a series stopped once its median was decided.

Each solved seed's best weights then play ``--sticky-games`` greedy games (4 by default) under
sticky actions (repeat-action probability 0.25, the field's protocol; Machado et al. 2018), and
the result gives their mean beside the solve. It does not change the criterion: it says whether a
solve learnt Pong or memorised one deterministic game, which scores near -20 under sticky actions.
A seed measured before this check (its ``result.json`` has no ``sticky``) gets it on the next call.
"""

from __future__ import annotations

import argparse
import json
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from soak import machine_info  # noqa: E402
from summarize_run import criterion, load, solve_point  # noqa: E402

from a3c.cli.args import non_negative_int  # noqa: E402
from a3c.runtime.run_dir import round_size_of  # noqa: E402


def train_command(run_dir: Path, train_flags: list[str], args: argparse.Namespace) -> list[str]:
    """The ``a3c train`` command of one run: the fast preset, ``train_flags`` over it, capped in time."""
    command = [sys.executable, "-m", "a3c", "train", "--max-steps", str(10**9)]
    return command + ["--max-seconds", str(args.max_minutes * 60), *train_flags, "--run-dir", str(run_dir), "--quiet"]


def time_to_solve(run_dir: Path, train_flags: list[str], args: argparse.Namespace) -> dict[str, Any]:
    """One training run, stopped once solved (unless ``--keep-going``)."""
    command = train_command(run_dir, train_flags, args)
    print("running:", " ".join(command), flush=True)
    proc = subprocess.Popen(command)
    metrics = run_dir / "metrics.csv"
    solved = None
    while proc.poll() is None:
        time.sleep(10)
        if solved is None and metrics.exists():
            solved = solve_point(load(metrics), round_size_of(run_dir), args.threshold)
            if solved is not None:
                print(f"solved at {solved['t'] / 60:.1f} min, {solved['steps']:,.0f} steps", flush=True)
                if not args.keep_going:
                    proc.send_signal(signal.SIGTERM)
    proc.wait()
    return score(run_dir, command, args.threshold)


def score(run_dir: Path, command: list[str], threshold: float) -> dict[str, Any]:
    """What a run's ``metrics.csv`` says: solved or not, when, and where it ended."""
    metrics = run_dir / "metrics.csv"
    rows = load(metrics) if metrics.exists() else []
    round_size = round_size_of(run_dir)
    solved = solve_point(rows, round_size, threshold) if rows else None
    return {
        "command": " ".join(command),
        "criterion": criterion(round_size, threshold),
        "solved_mean": None if solved is None else solved["mean"],
        "solved": solved is not None,
        "solved_at_s": None if solved is None else solved["t"],
        "solved_at_steps": None if solved is None else solved["steps"],
        "last_wall_time_s": rows[-1]["t"] if rows else None,
        "last_global_steps": rows[-1]["steps"] if rows else None,
    }


STICKY = 0.25


def sticky_check(run_dir: Path, games: int) -> dict[str, Any] | None:
    """``games`` greedy games of the run's best weights under sticky actions, or None if it failed."""
    command = [sys.executable, "-m", "a3c", "evaluate", "--checkpoint", str(run_dir), "--episodes", str(games),
               "--sticky", str(STICKY), "--json"]
    print("sticky check:", " ".join(command), flush=True)
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        print(f"sticky check failed ({done.returncode}): {done.stderr.strip().splitlines()[-1:]}", flush=True)
        return None
    played = json.loads(done.stdout)
    return {"sticky": STICKY, "global_step": played["global_step"], "episodes": played["episodes"],
            "mean": played["mean_reward"]}


def with_sticky_check(run: dict[str, Any], run_dir: Path, games: int) -> dict[str, Any]:
    """The run's result, with the sticky check of its solve added if it solved and has none yet."""
    if games == 0 or not run["solved"] or run.get("sticky") is not None:
        return run
    return {**run, "sticky": sticky_check(run_dir, games)}


def spread(values: list[float]) -> dict[str, float] | None:
    """Median, min and max, or None when there is nothing to summarise."""
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def steps_of(run: dict[str, Any]) -> float:
    """Steps to solve, or for a run that did not solve the steps where it stopped (a lower bound)."""
    return float(run["solved_at_steps"] if run["solved"] else run["last_global_steps"] or 0.0)


def summarise(runs: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """The series: how many seeds solved, and the median and spread of minutes and steps to solve.
    A seed that did not solve is counted at its last figures (a lower bound), so the median never
    flatters a series where some seeds failed."""
    minutes = [(r["solved_at_s"] if r["solved"] else r["last_wall_time_s"] or 0.0) / 60 for r in runs.values()]
    steps = [steps_of(r) for r in runs.values()]
    return {
        "seeds": sorted(runs),
        "solved": sum(r["solved"] for r in runs.values()),
        "minutes": spread([round(m, 2) for m in minutes]),
        "steps": spread(steps),
        "unsolved_counted_at_their_end": [seed for seed, r in runs.items() if not r["solved"]],
        "solves_under_sticky_actions": spread([r["sticky"]["mean"] for r in runs.values() if r.get("sticky")]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run-dir", type=Path, required=True)
    parser.add_argument("--seeds", type=int, nargs="+", help="train each of these seeds in turn, in RUN_DIR/seed-N")
    parser.add_argument("--max-minutes", type=float, default=45.0)
    parser.add_argument("--keep-going", action="store_true", help="train to --max-minutes even once solved")
    parser.add_argument("--out", type=Path, help="write the result as JSON here")
    parser.add_argument("--threshold", type=float, default=18.0, help="greedy round mean that counts as solved (default 18)")
    parser.add_argument("--summarise-only", action="store_true",
                        help="with --seeds: train nothing; a seed with no result.json (stopped by hand) is scored from "
                        "the metrics.csv in its run dir, and the series' JSON is written from what is there")
    parser.add_argument("--sticky-games", type=non_negative_int, default=4,
                        help=f"greedy games under sticky actions ({STICKY}) of each solve's best weights (default 4; 0 skips)")
    args, train_flags = parser.parse_known_args()
    train_flags = [f for f in train_flags if f != "--"]

    if args.summarise_only and not args.seeds:
        raise SystemExit("--summarise-only needs --seeds")
    if not args.seeds:
        result = with_sticky_check(time_to_solve(args.run_dir, train_flags, args), args.run_dir, args.sticky_games)
    else:
        runs = {}
        for seed in args.seeds:
            run_dir = args.run_dir / f"seed-{seed}"
            done = run_dir / "result.json"
            if done.exists():
                run = json.loads(done.read_text())
                print(f"seed {seed}: already measured ({done})", flush=True)
            else:
                seed_flags = [*train_flags, "--seed", str(seed)]
                if args.summarise_only:
                    if not (run_dir / "metrics.csv").exists():
                        raise SystemExit(f"seed {seed}: nothing to summarise, {run_dir / 'metrics.csv'} does not exist")
                    run = score(run_dir, train_command(run_dir, seed_flags, args), args.threshold)
                    print(f"seed {seed}: scored from its metrics.csv, not trained", flush=True)
                else:
                    run = time_to_solve(run_dir, seed_flags, args)
                # The result first, so a failed or interrupted check loses no training.
                done.write_text(json.dumps(run, indent=2) + "\n")
            runs[seed] = with_sticky_check(run, run_dir, args.sticky_games)
            if runs[seed] is not run:
                done.write_text(json.dumps(runs[seed], indent=2) + "\n")
        result = {"machine": machine_info(), **summarise(runs), "runs": {str(seed): run for seed, run in runs.items()}}
    print(json.dumps(result))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
