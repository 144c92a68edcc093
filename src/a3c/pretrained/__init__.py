"""Agents trained with this package and shipped inside it (see README.md beside this file)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def pong_checkpoint() -> Path:
    """Path of the shipped Pong agent: the seed's algorithm, 2 workers, 2M steps on 2 CPU cores."""
    return Path(str(resources.files(__name__) / "pong.pt"))
