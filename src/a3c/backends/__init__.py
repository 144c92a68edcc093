"""The backends: what runs a training run's workers and evaluator.

- :mod:`a3c.backends.base`: :class:`~a3c.backends.base.TrainingRun`, the run itself, whatever
  trains it: run dir, resume, checkpoints, logs, progress, signals, restarts and the result.
- :mod:`a3c.backends.local`: :class:`~a3c.backends.local.LocalRun`, Hogwild! processes on this
  machine sharing one model in shared memory.
- :mod:`a3c.backends.ray`: :class:`~a3c.backends.ray.driver.RayRun`, Ray actors here or on a
  cluster, around a parameter server.

:func:`make_run` is the one place where a backend is chosen.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from a3c.errors import UserError

if TYPE_CHECKING:  # the CLI reads BACKENDS at startup, before torch is worth importing
    from a3c.algorithm.config import TrainConfig
    from a3c.algorithm.task import Task
    from a3c.backends.base import TrainingRun, TrainResult

#: What ``a3c train --backend`` accepts.
BACKENDS = ("local", "ray")


def make_run(
    config: TrainConfig, run_dir: str | Path | None = None, task: Task | None = None, backend: str = "local", **kwargs: Any
) -> TrainingRun:
    """The run of ``config`` on ``backend``. ``address`` (a Ray cluster) goes with ``backend="ray"``
    only; the other keyword arguments are :class:`~a3c.backends.base.TrainingRun`'s. Raises
    :class:`UserError` for an unknown backend, an address without Ray, or Ray not installed (before
    anything is written)."""
    if backend == "ray":
        from a3c.backends.ray.driver import RayRun

        return RayRun(config, run_dir=run_dir, task=task, **kwargs)
    if backend != "local":
        raise UserError(f"unknown backend {backend!r}; choose {' or '.join(BACKENDS)}")
    if kwargs.pop("address", None) is not None:
        raise UserError("--address names a Ray cluster; add --backend ray")
    from a3c.backends.local import LocalRun

    return LocalRun(config, run_dir=run_dir, task=task, **kwargs)


def train(
    config: TrainConfig, run_dir: str | Path | None = None, task: Task | None = None, backend: str = "local", **kwargs: Any
) -> TrainResult:
    """Train with ``config`` and return where the results are (see :func:`make_run`)."""
    return make_run(config, run_dir, task, backend, **kwargs).train()
