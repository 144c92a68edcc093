"""Checkpoints: atomic writes, safe loads, and the model they describe.

A checkpoint is a plain dict of tensors and primitives saved with ``torch.save`` and loaded
with ``weights_only=True``, so loading never runs pickled code.
"""

from __future__ import annotations

import io
import os
import random
import tempfile
import warnings
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch

from a3c.algorithm.model import ActorCritic, MLPActorCritic, RecurrentActorCritic
from a3c.errors import StorageError, UserError

FORMAT = "a3c-checkpoint"


VERSION = 1


LATEST = "latest.pt"


BEST = "best.pt"


CHECKPOINT_DIR = "checkpoints"


def build_model(kind: str, num_inputs: int, num_actions: int) -> RecurrentActorCritic:
    """Rebuild the network that a checkpoint's ``model_kind`` and arguments name."""
    if kind == "ActorCritic":
        return ActorCritic(num_inputs, num_actions)
    if kind == "MLPActorCritic":
        return MLPActorCritic(num_inputs, num_actions)
    raise UserError(f"unknown model kind {kind!r} in checkpoint")


def model_spec(model: torch.nn.Module) -> dict[str, Any]:
    """What :func:`build_model` needs to rebuild ``model``."""
    if isinstance(model, ActorCritic):
        num_inputs = model.conv1.in_channels
    elif isinstance(model, MLPActorCritic):
        num_inputs = model.fc.in_features
    else:
        raise TypeError(f"cannot checkpoint a {type(model).__name__}")
    return {"model_kind": type(model).__name__, "num_inputs": num_inputs, "num_actions": model.actor_linear.out_features}


def make_checkpoint(
    model: torch.nn.Module,
    *,
    env_id: str,
    global_step: int,
    config: dict[str, Any],
    eval_reward: float | None = None,
    optimizer_state: dict[str, Any] | None = None,
    run_state: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Assemble a checkpoint dict; tensors are cloned so a live shared model can keep training."""
    checkpoint: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        **model_spec(model),
        "model": {k: v.detach().clone() for k, v in model.state_dict().items()},
        "env_id": env_id,
        "global_step": int(global_step),
        "config": dict(config),
        "eval_reward": None if eval_reward is None else float(eval_reward),
    }
    if optimizer_state is not None:
        checkpoint["optimizer"] = optimizer_state
    if run_state is not None:
        checkpoint["run_state"] = run_state
    return checkpoint


def save_checkpoint(checkpoint: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """Write atomically: temp file in the same folder, fsync, rename over ``path``.

    A crash at any point leaves either the previous file or the new one, never a torn one.
    """
    path = Path(path)
    # Serialised in memory first: torch's zip writer reports a full disk as a RuntimeError ("unexpected
    # pos"), where a plain write raises OSError with its errno (a checkpoint is a few MB).
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    write_atomically(path, buffer.getvalue())
    return path


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to a temp file beside ``path``, fsync it and rename it over ``path``: a crash or
    a full disk leaves the old file or the new one, never a torn one (or a temp file). A failed
    write raises :class:`StorageError` naming ``path``."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as error:
        raise StorageError(error, path) from error
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, 0o666 & ~_current_umask())  # mkstemp makes it 0600; use the usual mode
        os.replace(tmp_name, path)
    except BaseException as error:
        Path(tmp_name).unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise StorageError(error, path) from error
        raise
    _fsync_dir(path.parent)


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # not possible on every platform (e.g. Windows)
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def resolve_checkpoint_path(path: str | os.PathLike[str]) -> Path:
    """A checkpoint file, or a run directory whose best (else latest) checkpoint is used."""
    path = Path(path)
    if path.is_dir():
        for candidate in (path / CHECKPOINT_DIR / BEST, path / CHECKPOINT_DIR / LATEST, path / BEST, path / LATEST):
            if candidate.is_file():
                return candidate
        raise UserError(f"no checkpoint in run directory {str(path)!r} (looked for {CHECKPOINT_DIR}/{BEST} and {LATEST})")
    if not path.exists():
        raise UserError(f"checkpoint not found: {str(path)!r}")
    return path


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load and check a checkpoint file or run directory; raise :class:`UserError` if unusable."""
    path = resolve_checkpoint_path(path)
    if path.stat().st_size == 0:
        raise UserError(f"checkpoint {str(path)!r} is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch warns about foreign pickle protocols before failing
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch.load on arbitrary bytes can raise almost anything
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UserError(f"{str(path)!r} is not a readable a3c checkpoint (truncated or another format): {reason[:120]}") from error
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != FORMAT:
        raise UserError(f"{str(path)!r} is not an a3c checkpoint")
    if checkpoint.get("version", 0) > VERSION:
        raise UserError(f"{str(path)!r} was written by a newer a3c (format version {checkpoint['version']})")
    checkpoint["path"] = str(path)
    return checkpoint


def model_from_checkpoint(checkpoint: dict[str, Any]) -> RecurrentActorCritic:
    """Rebuild the network and load the checkpoint's weights into it."""
    model = build_model(checkpoint["model_kind"], int(checkpoint["num_inputs"]), int(checkpoint["num_actions"]))
    try:
        model.load_state_dict(checkpoint["model"])
    except RuntimeError as error:
        raise UserError(f"checkpoint {checkpoint.get('path', '')!r} does not match its network: {str(error).splitlines()[0]}") from error
    return model


def capture_rng_states() -> dict[str, Any]:
    """This process's torch, NumPy and Python RNG states, in types ``weights_only`` loading accepts."""
    kind, keys, pos, has_gauss, cached = cast(tuple[str, np.ndarray, int, int, float], np.random.get_state(legacy=True))
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
