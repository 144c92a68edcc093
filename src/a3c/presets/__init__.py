"""Named configurations shipped with a3c (``a3c train --preset NAME``).

Each ``NAME.yaml`` here is a partial config: its keys override :class:`a3c.algorithm.config.TrainConfig`'s
defaults, which are the seed's algorithm. A plain ``a3c train`` uses :data:`DEFAULT_PRESET`.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

#: What a plain ``a3c train`` runs: batched workers tuned for a fast solve on 2 cores.
DEFAULT_PRESET = "fast"


def preset_names() -> list[str]:
    return sorted(Path(str(entry)).stem for entry in resources.files(__name__).iterdir() if str(entry).endswith(".yaml"))


def preset_path(name: str) -> Path:
    from a3c.errors import UserError

    if name not in preset_names():
        raise UserError(f"unknown preset {name!r}; choose one of: {', '.join(preset_names())}")
    return Path(str(resources.files(__name__) / f"{name}.yaml"))
