"""Optimisers whose statistics live in shared memory, so every worker updates the same ones.

Both create their state eagerly in ``__init__`` (torch optimisers create it lazily on the
first step), so that :meth:`share_memory` can move it to shared memory before the workers
start. Updates are applied in place without a lock, as in Hogwild! (Recht et al. 2011).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import overload

import torch
from torch.optim import Optimizer
from torch.optim.adam import adam


class _SharedStateOptimizer(Optimizer):
    """Eager state plus a step loop over each group's parameters that have a gradient; subclasses
    give the group's update."""

    def __init__(self, params: Iterable[torch.Tensor] | Iterable[dict], defaults: dict) -> None:
        if defaults["lr"] <= 0:
            raise ValueError(f"Invalid learning rate: {defaults['lr']}")
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                # float64 keeps the count exact far beyond float32's 2**24 updates.
                self.state[p]["step"] = torch.zeros((), dtype=torch.float64)
                self._init_state(self.state[p], p)

    def _init_state(self, state: dict, p: torch.Tensor) -> None:
        raise NotImplementedError

    def _update_group(self, params: list[torch.Tensor], grads: list[torch.Tensor], group: dict) -> None:
        """Apply one step to ``params`` (those of ``group`` with a gradient), in place."""
        raise NotImplementedError

    @overload
    def step(self, closure: None = None) -> None: ...

    @overload
    def step(self, closure: Callable[[], float]) -> float: ...

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if params:
                self._update_group(params, [p.grad for p in params], group)
        return loss

    def _state_tensors(self) -> Iterable[torch.Tensor]:
        for group in self.param_groups:
            for p in group["params"]:
                yield from (v for v in self.state[p].values() if torch.is_tensor(v))

    def load_state_dict(self, state_dict: dict) -> None:
        """Copy saved statistics into the existing tensors, which may already be shared with
        workers (``Optimizer.load_state_dict`` would swap in fresh, private tensors)."""
        saved = state_dict["state"]
        params = [p for group in self.param_groups for p in group["params"]]
        if len(saved) != len(params):
            raise ValueError(f"optimizer state holds {len(saved)} parameters, the model has {len(params)}")
        with torch.no_grad():
            for index, p in enumerate(params):
                for key, tensor in self.state[p].items():
                    value = saved[index][key]
                    if torch.is_tensor(tensor):
                        tensor.copy_(value)
        for group, saved_group in zip(self.param_groups, state_dict["param_groups"], strict=True):
            group.update({k: v for k, v in saved_group.items() if k != "params"})

    def share_memory(self) -> _SharedStateOptimizer:
        """Move every statistic (including step counts) into shared memory. Returns self."""
        for tensor in self._state_tensors():
            tensor.share_memory_()
        return self


class SharedAdam(_SharedStateOptimizer):
    """Adam (Kingma & Ba 2015) with shared first/second moments and step counts.

    It steps with ``torch.optim.Adam``'s own fused kernel (non-AMSGrad, L2 weight decay), over the
    shared statistics: ``p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)``.
    The seed wrote ``lr sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps)``, the same up to
    where eps sits.
    """

    def __init__(
        self,
        params: Iterable[torch.Tensor] | Iterable[dict],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        if not (0.0 <= betas[0] < 1.0 and 0.0 <= betas[1] < 1.0):
            raise ValueError(f"Invalid betas: {betas}")
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay})

    def _init_state(self, state: dict, p: torch.Tensor) -> None:
        state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)

    def _update_group(self, params: list[torch.Tensor], grads: list[torch.Tensor], group: dict) -> None:
        beta1, beta2 = group["betas"]
        states = [self.state[p] for p in params]
        # torch's fused kernel, on the shared tensors: one pass over each parameter's memory. The
        # same update in separate tensor ops took 1.8 ms of a Pong worker's update against 0.7
        # (one EPYC thread; docs/results.md, "Fewer small ops in the optimiser step"). It also
        # adds 1 to each step count.
        adam(
            params, grads, [s["exp_avg"] for s in states], [s["exp_avg_sq"] for s in states], [], [s["step"] for s in states],
            fused=True, amsgrad=False, beta1=beta1, beta2=beta2, lr=group["lr"], weight_decay=group["weight_decay"],
            eps=group["eps"], maximize=False,
        )


class SharedRMSprop(_SharedStateOptimizer):
    """The A3C paper's shared RMSProp (Mnih et al. 2016, sec. 4):
    ``g = alpha g + (1 - alpha) grad^2;  p -= lr grad / sqrt(g + eps)``.

    Unlike ``torch.optim.RMSprop``, eps sits inside the square root, as in the paper. The
    defaults alpha = 0.99 (paper, sec. 8) and eps = 0.1 (the authors' setting as reported in
    miyosuda/async_deep_reinforce issue #1) are those of the paper's Atari runs.
    """

    def __init__(
        self,
        params: Iterable[torch.Tensor] | Iterable[dict],
        lr: float = 7e-4,
        alpha: float = 0.99,
        eps: float = 0.1,
        weight_decay: float = 0.0,
    ) -> None:
        if not 0.0 <= alpha < 1.0:
            raise ValueError(f"Invalid alpha: {alpha}")
        super().__init__(params, {"lr": lr, "alpha": alpha, "eps": eps, "weight_decay": weight_decay})

    def _init_state(self, state: dict, p: torch.Tensor) -> None:
        state["square_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)

    def _update_group(self, params: list[torch.Tensor], grads: list[torch.Tensor], group: dict) -> None:
        for p, grad in zip(params, grads, strict=True):
            state = self.state[p]
            state["step"] += 1
            if group["weight_decay"] != 0:
                grad = grad.add(p, alpha=group["weight_decay"])
            square_avg = state["square_avg"]
            square_avg.mul_(group["alpha"]).addcmul_(grad, grad, value=1 - group["alpha"])
            p.addcdiv_(grad, square_avg.add(group["eps"]).sqrt_(), value=-group["lr"])


def make_optimizer(name: str, params: Iterable[torch.Tensor], lr: float) -> Optimizer:
    """The optimiser that ``--optimizer`` names, with its default hyperparameters."""
    if name == "adam":
        return SharedAdam(params, lr=lr)
    if name == "rmsprop":
        return SharedRMSprop(params, lr=lr)
    raise ValueError(f"unknown optimizer {name!r}")


def worker_optimizer(name: str, lr: float, shared_params: Iterable[torch.Tensor], shared: Optimizer | None) -> Optimizer:
    """The optimiser that steps a worker's gradients: the shared one, or with ``--no-shared``
    (``shared`` None) private statistics of this worker's own over the shared parameters."""
    return shared if shared is not None else make_optimizer(name, shared_params, lr)


def step_and_release(optimizer: Optimizer, lr: float | None = None) -> None:
    """Step with the gradients now on the optimiser's parameters (at learning rate ``lr``, when
    given), then drop them (set to None), so that no later step can apply this gradient again."""
    if lr is not None:
        # Each process holds its own param_groups (only the statistics are shared), so each sets
        # the scheduled rate on its own copy before it steps.
        for group in optimizer.param_groups:
            group["lr"] = lr
    optimizer.step()
    # By hand, not optimizer.zero_grad(): its first call imports torch._dynamo, which stalls a
    # fresh worker process for seconds (measured 3.4 s on a busy 2-core machine).
    for group in optimizer.param_groups:
        for p in group["params"]:
            p.grad = None
