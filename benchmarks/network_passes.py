"""Where a worker's learning time goes, and whether cheaper network passes buy speed (issue 12).

    python benchmarks/network_passes.py --seconds 20 --out docs/results/network-passes-epyc.json

Each variant runs the real worker of the ``fast`` preset (K envs x T steps, batched forward
passes, the A3C loss, backward, clip, the hand-off and SharedAdam's step) over envs that cost
nothing, in a process of its own with one intra-op thread, one variant after another:

- ``fp32``: as a3c trains (PyTorch's default NCHW layout);
- ``channels_last``: the local model's conv weights (and so its activations) in NHWC layout;
- ``bf16``: the rollout, loss and backward under ``torch.autocast("cpu", torch.bfloat16)``
  (weights, gradients and Adam stay fp32). The report gives its gradient's relative error
  against fp32 on one fixed rollout, since a faster wrong gradient is no lever;
- ``compile``: ``torch.compile`` of the model's forward (graphs and kernels built in the warm-up);
- ``adam-loop``: fp32, with SharedAdam's step as it was until commit 7eaa0d3: the same update
  in separate tensor ops, parameter by parameter (:class:`LoopAdam`), where a3c now calls
  torch's fused Adam kernel.

``--rounds N`` plays the listed variants N times, in turn, so that a slow spell of the machine
falls on all of them alike; the table then gives each variant's median round.

For each it reports steps/s and the milliseconds of one update spent in each phase: ``sync``
(copy the shared weights), ``rollout`` (T batched forward passes with the graph, and the free
env), ``backward`` (loss, backward, clip) and ``apply`` (hand-off and the optimiser step). Run
it on an idle machine: one process, but a second job still takes its core.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import torch
from torch.optim import Optimizer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from throughput import FreeEnv, _NoLink  # noqa: E402

from a3c.algorithm.config import TrainConfig, resolve_config  # noqa: E402
from a3c.algorithm.optim import SharedAdam, make_optimizer  # noqa: E402
from a3c.algorithm.seeding import seed_process  # noqa: E402
from a3c.algorithm.task import atari_task  # noqa: E402
from a3c.algorithm.worker import Worker, worker_class  # noqa: E402
from a3c.runtime.shared import process_context  # noqa: E402

VARIANTS = ("fp32", "channels_last", "bf16", "compile", "adam-loop")


class LoopAdam(SharedAdam):
    """SharedAdam's update before it called the fused kernel: the same arithmetic, in five tensor
    ops a parameter (two of which allocate a parameter-sized temporary)."""

    def _update_group(self, params: list[torch.Tensor], grads: list[torch.Tensor], group: dict) -> None:
        beta1, beta2 = group["betas"]
        for p, grad in zip(params, grads, strict=True):
            state = self.state[p]
            state["step"] += 1
            t = state["step"].item()
            state["exp_avg"].lerp_(grad, 1 - beta1)
            state["exp_avg_sq"].mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            denom = (state["exp_avg_sq"].sqrt() / math.sqrt(1 - beta2**t)).add_(group["eps"])
            p.addcdiv_(state["exp_avg"], denom, value=-group["lr"] / (1 - beta1**t))


def build_worker(config: TrainConfig, variant: str) -> Worker:
    seed_process(config.seed)
    task = atari_task(config.env_name)
    k = config.envs_per_worker
    envs = gym.vector.SyncVectorEnv([FreeEnv for _ in range(k)])
    shared = task.make_model(FreeEnv())
    if variant == "adam-loop":
        optimizer: Optimizer = LoopAdam(shared.parameters(), lr=config.lr)
    else:
        optimizer = make_optimizer(config.optimizer, shared.parameters(), config.lr)
    local = task.make_model(FreeEnv())
    if variant == "channels_last":
        local.to(memory_format=torch.channels_last)  # in place: the 4-D conv weights, and so their activations
    if variant == "compile":
        local.forward = torch.compile(local.forward)  # type: ignore[method-assign]
    return worker_class(config)(config, envs, local, _NoLink(shared), optimizer)


def precision(variant: str) -> contextlib.AbstractContextManager[Any]:
    if variant == "bf16":
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


class PhaseClock:
    """Wall time of each phase of an update, summed, by wrapping the worker's own methods."""

    def __init__(self, worker: Worker) -> None:
        self.ms = {"sync": 0.0, "rollout": 0.0, "apply": 0.0}
        worker.link.sync = self._timed("sync", worker.link.sync)  # type: ignore[method-assign]
        worker.rollout = self._timed("rollout", worker.rollout)  # type: ignore[method-assign]
        worker.apply_gradients = self._timed("apply", worker.apply_gradients)  # type: ignore[method-assign]

    def _timed(self, phase: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.ms[phase] += 1000 * (time.perf_counter() - start)

        return timed


def _fixed_actions(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``sample_action`` with the action fixed by the row, so both precisions take the same ones."""
    logits = logits.float()
    log_prob = torch.log_softmax(logits, dim=-1)
    action = (torch.arange(logits.shape[0]) % logits.shape[1]).unsqueeze(1)
    return action, log_prob.gather(1, action).squeeze(1), -(log_prob * log_prob.exp()).sum(1)


def gradient_error(config: TrainConfig, variant: str) -> float:
    """|g_variant - g_fp32| / |g_fp32| on one rollout of the same weights, frames and actions."""
    import a3c.algorithm.worker as worker_module

    sample = worker_module.sample_action
    worker_module.sample_action = _fixed_actions
    try:
        grads = []
        for v in ("fp32", variant):
            worker = build_worker(config, v)
            with precision(v):
                worker.compute_gradients()
            grads.append(torch.cat([p.grad.flatten() for p in worker.model.parameters() if p.grad is not None]))
    finally:
        worker_module.sample_action = sample
    return float((grads[1] - grads[0]).norm() / grads[0].norm())


def _measure(config: TrainConfig, variant: str, seconds: float, warmup_updates: int, queue: Any) -> None:
    torch.set_num_threads(1)
    worker = build_worker(config, variant)
    for _ in range(warmup_updates):  # lazy initialisation, and compile's graphs
        with precision(variant):
            worker.compute_gradients()
        worker.apply_gradients()
    clock = PhaseClock(worker)
    steps = updates = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        with precision(variant):
            steps += worker.compute_gradients().steps
        worker.apply_gradients()
        updates += 1
    elapsed = time.perf_counter() - start
    phases = {name: ms / updates for name, ms in clock.ms.items()}
    phases["backward"] = 1000 * elapsed / updates - sum(phases.values())
    error = 0.0 if variant in ("fp32", "adam-loop") else gradient_error(config, variant)
    queue.put({"variant": variant, "steps_per_s": steps / elapsed, "updates": updates, "ms_per_update": phases, "grad_rel_error": error})


def measure(config: TrainConfig, variant: str, seconds: float, warmup_updates: int) -> dict[str, Any]:
    ctx = process_context(preload=["a3c.algorithm.worker", "a3c.algorithm.task"])
    queue = ctx.Queue()
    proc = ctx.Process(target=_measure, args=(config, variant, seconds, warmup_updates, queue))
    proc.start()
    result: dict[str, Any] = queue.get()
    proc.join()
    return result


def median_round(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """The round of median steps/s (the lower middle one of an even count): a whole round, so
    that its phases add up to its own rate."""
    ordered = sorted(rounds, key=lambda r: r["steps_per_s"])
    return ordered[(len(ordered) - 1) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20.0, help="measured time per variant (default 20)")
    parser.add_argument("--warmup-updates", type=int, default=30)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--preset", default="fast")
    parser.add_argument("--rounds", type=int, default=1, help="play the variants this many times, in turn (default 1)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    config = resolve_config(args.preset, None)
    played = [measure(config, v, args.seconds, args.warmup_updates) | {"round": r + 1} for r in range(args.rounds) for v in args.variants]
    rows = [median_round([p for p in played if p["variant"] == v]) for v in args.variants]
    base = next((r["steps_per_s"] for r in rows if r["variant"] == "fp32"), rows[0]["steps_per_s"])
    shape = f"{config.envs_per_worker} x {config.num_steps}"
    print(f"| variant (1 process, 1 thread, {shape}) | steps/s | vs fp32 | sync | rollout | backward | apply | gradient error |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        ms = r["ms_per_update"]
        print(
            f"| {r['variant']} | {r['steps_per_s']:,.0f} | x{r['steps_per_s'] / base:.2f} | {ms['sync']:.1f} | {ms['rollout']:.1f} "
            f"| {ms['backward']:.1f} | {ms['apply']:.1f} | {r['grad_rel_error']:.1e} |"
        )
    if args.out is not None:
        from soak import machine_info

        report = {"command": "python benchmarks/network_passes.py " + " ".join(sys.argv[1:]), "machine": machine_info(),
                  "torch": torch.__version__, "preset": args.preset, "rows": rows, "rounds": played}
        args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
