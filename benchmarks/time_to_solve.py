"""Train Pong and record the wall time and steps until it is solved.

    python benchmarks/time_to_solve.py --run-dir runs/tts-fast --out docs/results/tts-fast.json
    python benchmarks/time_to_solve.py --run-dir runs/tts-seed -- --preset seed

"Solved" is the first evaluation round (``--eval-episodes`` greedy episodes with one weights
copy, 5 by default) whose mean is >= ``--threshold`` (18, Pong); see ``summarize_run.solve_point``.
The run stops there (SIGTERM, which checkpoints) unless
``--keep-going``; it stops anyway at ``--max-minutes``. It trains with a plain ``a3c train``, the
fast preset; flags after ``--`` go to ``a3c train`` and override it.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from summarize_run import criterion, load, solve_point  # noqa: E402

from a3c.runtime.run_dir import round_size_of  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run-dir", type=Path, required=True)
    parser.add_argument("--max-minutes", type=float, default=45.0)
    parser.add_argument("--keep-going", action="store_true", help="train to --max-minutes even once solved")
    parser.add_argument("--out", type=Path, help="write the result as JSON here")
    parser.add_argument("--threshold", type=float, default=18.0, help="greedy round mean that counts as solved (default 18)")
    args, train_flags = parser.parse_known_args()
    train_flags = [f for f in train_flags if f != "--"]

    command = [sys.executable, "-m", "a3c", "train", "--max-steps", str(10**9)]
    command += ["--max-seconds", str(args.max_minutes * 60), *train_flags, "--run-dir", str(args.run_dir), "--quiet"]
    print("running:", " ".join(command), flush=True)
    proc = subprocess.Popen(command)
    metrics = args.run_dir / "metrics.csv"
    solved = None
    while proc.poll() is None:
        time.sleep(10)
        if solved is None and metrics.exists():
            solved = solve_point(load(metrics), round_size_of(args.run_dir), args.threshold)
            if solved is not None:
                print(f"solved at {solved['t'] / 60:.1f} min, {solved['steps']:,.0f} steps", flush=True)
                if not args.keep_going:
                    proc.send_signal(signal.SIGTERM)
    proc.wait()
    rows = load(metrics) if metrics.exists() else []
    round_size = round_size_of(args.run_dir)
    solved = solve_point(rows, round_size, args.threshold) if rows else None
    result = {
        "command": " ".join(command),
        "criterion": criterion(round_size, args.threshold),
        "solved_mean": None if solved is None else solved["mean"],
        "solved": solved is not None,
        "solved_at_s": None if solved is None else solved["t"],
        "solved_at_steps": None if solved is None else solved["steps"],
        "last_wall_time_s": rows[-1]["t"] if rows else None,
        "last_global_steps": rows[-1]["steps"] if rows else None,
    }
    print(json.dumps(result))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
