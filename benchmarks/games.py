"""Train each of a list of Atari games for a fixed wall-clock budget, then write one table.

    python benchmarks/games.py --minutes 30 --out docs/results/games
    python benchmarks/games.py --games Pong Breakout --minutes 2 --episodes 3 --out /tmp/games-smoke
    python benchmarks/games.py --games Breakout --out docs/results/games-life-loss --run-root runs/games-life-loss \
        -- --terminal-on-life-loss          # flags after -- go to every game's `a3c train`

For each game: ``a3c train --env ALE/<Game>-v5`` (sticky actions 0.25) with the game's preset
(:data:`PRESETS`, else ``fast``) for ``--minutes``; then ``a3c evaluate`` plays the run's
``best.pt`` (the evaluation round with the highest mean) for ``--episodes`` greedy episodes
under the same protocol, with seeds the training evaluator never used; and a uniformly random
policy plays as many episodes under the same protocol. The table gives both beside the A3C
paper's score.

Each game's result is kept as ``<out>/<Game>.json`` with its metrics CSVs and curve, and a game
whose JSON exists is not trained again (``--again`` to redo it), so the list can be run in
pieces, a game or two at a time. ``<out>/games.md`` and ``games.json`` are rewritten from every
game's JSON at the end. Run it on an idle machine: the budget is wall time.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from soak import machine_info  # noqa: E402

GAMES = ("Pong", "Breakout", "SpaceInvaders", "Seaquest", "BeamRider")
PRESETS = {"Breakout": "breakout"}
"""The preset each game trains with; games not named here train with ``fast``."""
PAPER = {
    # A3C LSTM, Mnih et al. 2016 (arXiv:1602.01783), Table S3: trained 4 days with 16 CPU
    # threads, scored from human starts (not sticky actions; the protocols differ).
    "Pong": 10.7,
    "Breakout": 766.8,
    "SpaceInvaders": 23846.0,
    "Seaquest": 1326.1,
    "BeamRider": 24622.2,
}
PAPER_NOTE = "A3C LSTM, 4 days on 16 CPU threads, human starts (Mnih et al. 2016, Table S3)"
EVAL_SEED = 1_000_000
"""First seed of the final evaluation: far from every seed that training and its evaluator use."""


def run(command: list[str]) -> str:
    print("running:", " ".join(command), flush=True)
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True)
    if done.returncode != 0:
        raise SystemExit(f"failed ({done.returncode}): {' '.join(command)}")
    return done.stdout


def random_scores(env_id: str, episodes: int, seed: int, max_steps: int = 27_000) -> list[float]:
    """A uniformly random policy's raw scores, each episode reset with its own seed."""
    from a3c.algorithm.envs.atari import make_atari_env

    env = make_atari_env(env_id, seed)
    rng = np.random.default_rng(seed)
    scores = []
    for episode in range(episodes):
        env.reset(seed=seed + episode)
        total = 0.0
        for _ in range(max_steps):
            _, reward, terminated, truncated, _ = env.step(int(rng.integers(env.action_space.n)))
            total += float(reward)
            if terminated or truncated:
                break
        scores.append(total)
    env.close()
    return scores


def train_and_score(game: str, args: argparse.Namespace) -> dict:
    env_id = f"ALE/{game}-v5"
    preset = PRESETS.get(game, "fast")
    run_dir = args.run_root / game
    python = sys.executable
    train = [python, "-m", "a3c", "train", "--env", env_id, "--preset", preset, "--max-steps", str(10**10),
             "--max-seconds", str(args.minutes * 60), "--run-dir", str(run_dir), "--force", "--quiet", *args.train_flags]
    started = time.time()
    run(train)
    trained_s = time.time() - started
    evaluate = [python, "-m", "a3c", "evaluate", "--checkpoint", str(run_dir), "--env", env_id, "--episodes",
                str(args.episodes), "--seed", str(EVAL_SEED), "--json"]
    report = json.loads(run(evaluate).strip().splitlines()[-1])
    rows = (run_dir / "metrics.csv").read_text().strip().splitlines()
    last_steps = int(rows[-1].split(",")[1]) if len(rows) > 1 else 0
    from a3c.runtime.checkpoint import load_checkpoint

    latest = load_checkpoint(run_dir / "checkpoints" / "latest.pt")
    random = random_scores(env_id, args.episodes, EVAL_SEED)
    for name, kept in (("metrics.csv", "metrics.csv"), ("train_metrics.csv", "train-metrics.csv"), ("config.yaml", "config.yaml")):
        shutil.copy(run_dir / name, args.out / f"{game}-{kept}")
    run([python, "-m", "a3c", "plot", str(run_dir) + f":{game}", "-o", str(args.out / f"{game}-curve.png")])
    return {
        "game": game,
        "env_id": env_id,
        "preset": preset,
        "train_flags": list(args.train_flags),
        "command": " ".join(train),
        "minutes": args.minutes,
        "trained_s": round(trained_s, 1),
        "steps": int(latest["global_step"]),
        "last_eval_steps": last_steps,
        "checkpoint": "best.pt",
        "checkpoint_step": int(report["global_step"]),
        "protocol": report["protocol"],
        "greedy_mean": report["mean_reward"],
        "greedy_std": report["std_reward"],
        "greedy_scores": report["episodes"],
        "greedy_ended_by": report["ended_by"],
        "random_mean": statistics.fmean(random),
        "random_std": statistics.pstdev(random),
        "paper": PAPER.get(game),
        "machine": machine_info()["cpu_model"],
    }


def stuck_guard(result: dict) -> str:
    """The stuck guard the final episodes played under, and how many it cut short. Results from
    before ``--stuck-guard`` record the seed's rule as its repeat count."""
    rule = result["protocol"].get("stuck_guard")
    if not isinstance(rule, str):
        return "seed's (100 actions)"
    ended_by = result.get("greedy_ended_by") or []
    return f"{rule}, {ended_by.count('stuck')} cut"


def table(results: list[dict]) -> str:
    lines = [
        "| game | preset | minutes | steps | greedy mean ± std (episodes) | stuck guard | random policy | A3C paper |",
        "| --- | --- | ---: | ---: | ---: | --- | ---: | ---: |",
    ]
    notes = []
    for r in results:
        paper = "-" if r["paper"] is None else f"{r['paper']:,.1f}"
        if r.get("note"):  # a caveat kept in the game's JSON, shown under the table
            notes.append(f"[{len(notes) + 1}] {r['game']}: {r['note']}")
        mark = f" [{len(notes)}]" if r.get("note") else ""
        preset = " ".join([r["preset"], *r.get("train_flags", [])])
        lines.append(
            f"| {r['game']}{mark} | {preset} | {r['minutes']:g} | {r['steps']:,} | {r['greedy_mean']:,.1f} ± {r['greedy_std']:,.1f} "
            f"({len(r['greedy_scores'])}) | {stuck_guard(r)} | {r['random_mean']:,.1f} | {paper} |"
        )
    lines.append("")
    lines.append(f"Greedy and random: `ALE/<Game>-v5`, sticky actions 0.25, frameskip 4. Paper: {PAPER_NOTE}.")
    lines.append("")
    lines.append(
        "Stuck guard: `screen` ends a greedy episode after 100 steps of a still screen; the seed's rule "
        "(100 identical actions) also cut short episodes where holding FIRE was good play, so rows "
        "scored under it are low."
    )
    for note in notes:
        lines.extend(["", note])
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--games", nargs="+", default=list(GAMES))
    parser.add_argument("--minutes", type=float, default=30.0, help="training wall time per game (default 30)")
    parser.add_argument("--episodes", type=int, default=20, help="greedy and random episodes per game (default 20)")
    parser.add_argument("--out", type=Path, required=True, help="folder for the table, each game's JSON, CSVs and curve")
    parser.add_argument("--run-root", type=Path, default=Path("runs/games"), help="where the run dirs go (default runs/games)")
    parser.add_argument("--again", action="store_true", help="train games whose JSON already exists again")
    args, args.train_flags = parser.parse_known_args()
    args.train_flags = [f for f in args.train_flags if f != "--"]
    args.out.mkdir(parents=True, exist_ok=True)
    for game in args.games:
        path = args.out / f"{game}.json"
        if path.exists() and not args.again:
            print(f"{game}: kept {path}", flush=True)
            continue
        result = train_and_score(game, args)
        path.write_text(json.dumps(result, indent=2) + "\n")
        print(f"{game}: greedy {result['greedy_mean']:.1f} ± {result['greedy_std']:.1f}, random {result['random_mean']:.1f}", flush=True)
    results = [json.loads((args.out / f"{g}.json").read_text()) for g in GAMES if (args.out / f"{g}.json").exists()]
    (args.out / "games.json").write_text(json.dumps(results, indent=2) + "\n")
    (args.out / "games.md").write_text(table(results))
    print(table(results))


if __name__ == "__main__":
    main()
