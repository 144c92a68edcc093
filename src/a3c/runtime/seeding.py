"""Seeding: one intra-op thread and seeded RNGs per process, and RNG states for checkpoints."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch


def seed_process(seed: int) -> None:
    """One intra-op thread per process (the cores belong to the workers) and seeded RNGs."""
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


def capture_rng_states() -> dict[str, Any]:
    """This process's torch, NumPy and Python RNG states, in types ``weights_only`` loading accepts."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos), "has_gauss": int(has_gauss), "cached": float(cached)},
        "python": random.getstate(),
    }


def restore_rng_states(states: dict[str, Any]) -> None:
    torch.set_rng_state(states["torch"])
    n = states["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"]))
    version, internal, gauss = states["python"]
    random.setstate((version, tuple(internal), gauss))
