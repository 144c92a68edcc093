"""What the LSTM cell's weight gradients cost over a rollout, and what one batched product would save.

    python benchmarks/lstm_weight_grads.py --rounds 3 --out docs/results/lstm-weight-grads-epyc.json

A batched worker runs the LSTM cell (288 inputs, 256 units: two weight matrices of 1.2 and 1.0
MB) once per step of its rollout at batch K, and backward then forms each weight's gradient T
times, as a full-size product of K rows that is added to the last one. The same gradient is one
product over all K x T rows: ``dW = dgates^T @ inputs``, with the weights detached in the forward
pass and each step's ``dgates`` caught by a hook. This times both, forward and backward of the
cell and a head over one rollout, in one thread, and checks that they give the same gradients.
a3c does not train this way (yet): the figure says what it would buy. Run it on an idle machine.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))


class Rollout:
    """One rollout's inputs to the cell, and the cell and a head to run it through."""

    def __init__(self, envs: int, steps: int, inputs: int = 288, units: int = 256, seed: int = 0) -> None:
        torch.manual_seed(seed)
        self.cell = torch.nn.LSTMCell(inputs, units)
        self.head = torch.nn.Linear(units, 7)
        self.inputs = [torch.randn(envs, inputs, requires_grad=True) for _ in range(steps)]
        self.units = units

    def _zero_state(self) -> tuple[torch.Tensor, torch.Tensor]:
        envs = self.inputs[0].shape[0]
        return torch.zeros(envs, self.units), torch.zeros(envs, self.units)

    def per_step(self) -> list[torch.Tensor]:
        """As a3c trains: ``nn.LSTMCell`` each step; autograd forms and sums T weight gradients."""
        state, out = self._zero_state(), []
        for x in self.inputs:
            state = self.cell(x, state)
            out.append(self.head(state[0]))
        self.cell.zero_grad(set_to_none=True)
        torch.stack(out).sum().backward()
        return [p.grad for p in self.cell.parameters()]

    def batched(self) -> list[torch.Tensor]:
        """The cell's arithmetic by hand, with detached weights; their gradients in one product each."""
        cell = self.cell
        w_ih, w_hh = cell.weight_ih.detach(), cell.weight_hh.detach()
        bias = cell.bias_ih + cell.bias_hh
        (h, c), out = self._zero_state(), []
        dgates: list[torch.Tensor | None] = [None] * len(self.inputs)
        inputs, hiddens = [], []
        for t, x in enumerate(self.inputs):
            gates = F.linear(x, w_ih) + F.linear(h, w_hh) + bias
            gates.register_hook(lambda grad, t=t: dgates.__setitem__(t, grad))
            inputs.append(x.detach())
            hiddens.append(h.detach())
            i, f, g, o = gates.chunk(4, 1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            out.append(self.head(h))
        cell.zero_grad(set_to_none=True)
        torch.stack(out).sum().backward()
        dg = torch.cat([d for d in dgates if d is not None])
        cell.weight_ih.grad = dg.t() @ torch.cat(inputs)
        cell.weight_hh.grad = dg.t() @ torch.cat(hiddens)
        return [p.grad for p in cell.parameters()]


def max_difference(a: list[torch.Tensor], b: list[torch.Tensor]) -> float:
    return max(float((x - y).abs().max()) for x, y in zip(a, b, strict=True))


def ms_per_call(fn: Callable[[], object], calls: int) -> float:
    for _ in range(20):
        fn()
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return 1000 * (time.perf_counter() - start) / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--envs", type=int, default=8, help="K, the rollout's batch (fast: 8)")
    parser.add_argument("--steps", type=int, default=5, help="T, the rollout's steps (fast: 5)")
    parser.add_argument("--calls", type=int, default=300, help="rollouts timed per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, the two ways in turn")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rollout = Rollout(args.envs, args.steps)
    difference = max_difference(rollout.per_step(), rollout.batched())
    rounds = [{"round": r + 1, "per_step_ms": ms_per_call(rollout.per_step, args.calls), "batched_ms": ms_per_call(rollout.batched, args.calls)}
              for r in range(args.rounds)]
    for r in rounds:
        print(f"round {r['round']}: per step {r['per_step_ms']:.2f} ms, batched {r['batched_ms']:.2f} ms a rollout "
              f"({r['per_step_ms'] - r['batched_ms']:.2f} ms saved)")
    print(f"largest gradient difference: {difference:.1e}")
    if args.out is not None:
        from soak import machine_info

        report = {"command": "python benchmarks/lstm_weight_grads.py " + " ".join(sys.argv[1:]), "machine": machine_info(),
                  "torch": torch.__version__, "envs": args.envs, "steps": args.steps, "max_gradient_difference": difference, "rounds": rounds}
        args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
