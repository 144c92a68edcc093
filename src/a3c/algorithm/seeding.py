"""Seeding a process: one intra-op thread, and every RNG seeded.

Process ``rank`` of a run is seeded with ``seed + rank`` (:class:`a3c.algorithm.config.TrainConfig`),
in either backend, so that a run can be repeated; a process with several envs seeds env ``i``
with :func:`env_seed`.
"""

from __future__ import annotations

import random

import numpy as np
import torch


def seed_process(seed: int) -> None:
    """One intra-op thread per process (the cores belong to the workers) and seeded RNGs."""
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


def env_seed(process_seed: int, index: int) -> int:
    """Seed of env ``index`` of a process that steps several (a batched worker, the evaluator's
    round): distinct for every (process, env) pair."""
    return process_seed * 1000 + index
