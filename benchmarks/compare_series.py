"""Pool time-to-solve series of two settings and say whether their runs tell the settings apart.

    python benchmarks/compare_series.py --labels fast t10 \\
        --a docs/results/tts-evalseeded-epyc.json docs/results/tts-fused-epyc.json:1,3 \\
        --b docs/results/tts-t10-lr3e-4-epyc.json docs/results/tts-t10-lr3e-4-2-epyc.json

Each FILE is a ``time_to_solve.py --seeds`` JSON; ``FILE:1,3`` takes only those seeds (to leave
out runs that a known fault touched). Hogwild! runs are not reproducible, so the same seed of two
settings is no pair: the runs are pooled, and every run of B is compared with every run of A.

A comparison is "B solved first" when B solved in fewer steps than A did, or solved before A's
run ended unsolved; it is a tie (counted half) when both stayed unsolved, or when the one that
solved did so after the other had stopped. The share of B-first comparisons is Gehan's
generalisation of the Wilcoxon-Mann-Whitney statistic to runs cut short (Gehan 1965, Biometrika
52: 203-223); 0.5 means no difference. Its p-value comes from shuffling the runs between the two
labels (two-sided, ``--permutations`` shuffles). Steps are compared, not minutes: they do not
depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

import numpy as np
from time_to_solve import steps_of

from a3c.cli.args import positive_int


class Run:
    """One seed's result: steps to solve, or the steps at which it stopped unsolved."""

    def __init__(self, source: str, steps: float, solved: bool) -> None:
        self.source, self.steps, self.solved = source, steps, solved

    def __repr__(self) -> str:
        return f"{'' if self.solved else '> '}{self.steps / 1e6:.2f}M"


def load_runs(spec: str) -> list[Run]:
    """The runs of ``FILE`` or ``FILE:SEED,SEED``."""
    path, _, seeds = spec.partition(":")
    try:
        series = json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        raise SystemExit(f"{path}: not a readable time_to_solve.py JSON ({error})") from None
    runs = series.get("runs")
    if not isinstance(runs, dict):
        raise SystemExit(f"{path}: no 'runs' (a time_to_solve.py --seeds result is needed)")
    wanted = seeds.split(",") if seeds else list(runs)
    missing = [s for s in wanted if s not in runs]
    if missing:
        raise SystemExit(f"{path}: no seed {', '.join(missing)} (it has {', '.join(runs)})")
    return [Run(f"{path}:{seed}", steps_of(runs[seed]), bool(runs[seed]["solved"])) for seed in wanted]


def first_to_solve(b: Run, a: Run) -> float:
    """1 if run ``b`` solved before run ``a``, 0 if after, 0.5 if the two runs cannot say."""
    if b.solved and a.solved:
        return 1.0 if b.steps < a.steps else 0.0 if b.steps > a.steps else 0.5
    if b.solved:
        return 1.0 if b.steps <= a.steps else 0.5
    if a.solved:
        return 0.0 if a.steps <= b.steps else 0.5
    return 0.5


def share_b_first(in_b: np.ndarray, wins: np.ndarray) -> float:
    return float(wins[np.ix_(in_b, ~in_b)].mean())


def compare(a: list[Run], b: list[Run], permutations: int, seed: int = 0) -> dict[str, Any]:
    """B's share of first solves against A, and how often shuffled labels give one as far from 0.5."""
    runs = a + b
    wins = np.array([[first_to_solve(x, y) for y in runs] for x in runs])
    in_b = np.arange(len(runs)) >= len(a)
    observed = share_b_first(in_b, wins)
    rng = np.random.default_rng(seed)
    as_far = sum(
        abs(share_b_first(rng.permutation(in_b), wins) - 0.5) >= abs(observed - 0.5) - 1e-12 for _ in range(permutations)
    )
    return {"b_solves_first": observed, "p_value": (as_far + 1) / (permutations + 1), "permutations": permutations}


def describe(runs: list[Run]) -> dict[str, Any]:
    """As time_to_solve.py summarises a series: an unsolved run counts at its end (a lower bound)."""
    return {
        "runs": len(runs),
        "solved": sum(r.solved for r in runs),
        "median_steps": statistics.median(r.steps for r in runs),
        "steps": [repr(r) for r in sorted(runs, key=lambda r: r.steps)],
        "sources": [r.source for r in runs],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--a", nargs="+", required=True, metavar="FILE[:SEEDS]", help="the series of setting A")
    parser.add_argument("--b", nargs="+", required=True, metavar="FILE[:SEEDS]", help="the series of setting B")
    parser.add_argument("--labels", nargs=2, default=["A", "B"], metavar=("A", "B"))
    parser.add_argument("--permutations", type=positive_int, default=20_000)
    parser.add_argument("--out", type=Path, help="write the comparison as JSON here")
    args = parser.parse_args()

    a = [run for spec in args.a for run in load_runs(spec)]
    b = [run for spec in args.b for run in load_runs(spec)]
    result = {"a": {"label": args.labels[0], **describe(a)}, "b": {"label": args.labels[1], **describe(b)},
              **compare(a, b, args.permutations)}
    for side in ("a", "b"):
        s = result[side]
        print(f"{s['label']}: {s['runs']} runs, {s['solved']} solved, median {s['median_steps'] / 1e6:.2f}M steps: {', '.join(s['steps'])}")
    print(f"{args.labels[1]} solves first in {result['b_solves_first']:.0%} of comparisons with {args.labels[0]} "
          f"(0.5: no difference); two-sided p = {result['p_value']:.3f} ({args.permutations:,} shuffles)")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
