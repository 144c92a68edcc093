"""Where Adam's eps would bite: each parameter's bias-corrected second-moment root against eps.

    python benchmarks/adam_moments.py runs/tts-gae095-epyc/seed-3/checkpoints/latest.pt

SharedAdam steps a weight by ``lr * m / (sqrt(v) + eps)`` (bias-corrected), so a larger eps
shrinks the step of a weight by ``sqrt(v) / (sqrt(v) + eps)``: nothing where ``sqrt(v)`` is far
above eps, a lower learning rate for that weight where it is not. Reading the moments of a
trained run's checkpoint (``latest.pt`` keeps the shared optimiser's state) tells which layers a
given eps would slow, without training. Touches nothing; needs a checkpoint of the Adam optimiser.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from a3c.errors import UserError
from a3c.runtime.checkpoint import load_checkpoint, model_from_checkpoint

EPS = (1e-8, 1e-6, 1e-5, 1e-4)


def moment_roots(path: Path) -> dict[str, torch.Tensor]:
    """Each parameter's bias-corrected ``sqrt(v)``, flattened, by the model's parameter names."""
    try:
        checkpoint = load_checkpoint(path)
        model = model_from_checkpoint(checkpoint)
    except UserError as error:
        raise SystemExit(str(error)) from None
    optimizer = checkpoint.get("optimizer")
    if not optimizer or not optimizer.get("state"):
        raise SystemExit(f"{path}: no optimiser state (an Adam run's latest.pt has it)")
    # The optimiser's state is indexed by parameter order, which the rebuilt model gives
    # (the state_dict's keys would also list buffers).
    names = [name for name, _ in model.named_parameters()]
    beta2 = optimizer["param_groups"][0]["betas"][1]
    roots = {}
    for index, state in optimizer["state"].items():
        if "exp_avg_sq" not in state:
            raise SystemExit(f"{path}: not an Adam optimiser's state")
        steps = float(state["step"])
        roots[names[int(index)]] = (state["exp_avg_sq"] / (1 - beta2**steps)).sqrt().flatten()
    return roots


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--out", type=Path, help="write the table as JSON here")
    args = parser.parse_args()
    roots = moment_roots(args.checkpoint)
    rows = []
    print(f"{'parameter':<22}{'count':>9}{'sqrt(v) p10':>13}{'median':>10}{'p90':>10}" + "".join(f"{'step x, eps ' + f'{e:g}':>19}" for e in EPS[1:]))
    for name, root in roots.items():
        p10, median, p90 = torch.quantile(root.double(), torch.tensor([0.1, 0.5, 0.9], dtype=torch.float64)).tolist()
        # The median weight's step relative to eps 1e-8, for each larger eps.
        factors = [median / (median + eps) for eps in EPS[1:]]
        rows.append({"parameter": name, "count": root.numel(), "p10": p10, "median": median, "p90": p90,
                     "median_step_factor": dict(zip(map(str, EPS[1:]), factors, strict=True))})
        print(f"{name:<22}{root.numel():>9,}{p10:>13.1e}{median:>10.1e}{p90:>10.1e}" + "".join(f"{f:>19.2f}" for f in factors))
    every = torch.cat(list(roots.values()))
    below = {str(eps): float((every < eps).double().mean()) for eps in EPS}
    print("share of all weights with sqrt(v) below eps: " + ", ".join(f"{e}: {share:.1%}" for e, share in below.items()))
    if args.out:
        args.out.write_text(json.dumps({"checkpoint": str(args.checkpoint), "rows": rows, "share_below": below}, indent=2) + "\n")


if __name__ == "__main__":
    main()
