"""Atari game ids, old and new, and the env factory that every process uses.

Users type the ids from a decade of papers and tutorials. ale-py >= 0.9 registers
``ALE/<Game>-v5`` plus ``<Game>-v0/-v4`` and ``<Game>NoFrameskip-v0/-v4``, but no longer the
``Deterministic`` ids (the seed's default). Every form maps onto ``ALE/<Game>-v5`` with the
frame skip and sticky-action probability that the old registration used:

=====================  =========  ==========================
id form                frameskip  repeat_action_probability
=====================  =========  ==========================
<Game>-v0              2..4 rand  0.25
<Game>-v4              2..4 rand  0.0
<Game>Deterministic-v0 4 (3*)     0.25
<Game>Deterministic-v4 4 (3*)     0.0
<Game>NoFrameskip-v0   1          0.25
<Game>NoFrameskip-v4   1          0.0
ALE/<Game>-v5          4          0.25
=====================  =========  ==========================

(*) SpaceInvaders used frameskip 3 so that its blinking lasers stay visible.
"""

from __future__ import annotations

import difflib
import functools
import re
from dataclasses import dataclass
from typing import Any, cast

import ale_py
import gymnasium as gym
import numpy as np
from ale_py.env import AtariEnv

from a3c.algorithm.config import FRAMES
from a3c.algorithm.envs.wrappers import (
    FireAtLifeStart,
    NoopStart,
    Rescale42x42,
    RunningFrameNormalizer,
)
from a3c.errors import UserError

gym.register_envs(ale_py)
# The ALE prints a banner each time an emulator starts, from every process, straight onto the
# terminal (through the middle of the progress bar's line); warnings and errors still show.
# Every process that builds an Atari env imports this module first (children included, or their forkserver).
ale_py.ALEInterface.setLoggerMode(ale_py.LoggerMode.Error)

_LEGACY_ID = re.compile(r"^(?P<game>[A-Za-z0-9]+?)(?P<variant>Deterministic|NoFrameskip)?(?P<ram>-ram)?-v(?P<version>[04])$")
_V5_ID = re.compile(r"^ALE/(?P<game>[A-Za-z0-9]+?)(?P<ram>-ram)?-v5$")
_HOW_TO_LIST = "run `a3c envs` to list the valid ids"


@dataclass(frozen=True)
class AtariSpec:
    """What an accepted id resolves to: an ``ALE/<Game>-v5`` env with these settings."""

    env_id: str
    """The id as the user typed it."""
    game: str
    """The ALE game name in CamelCase, e.g. ``Pong``."""
    frameskip: int | tuple[int, int]
    repeat_action_probability: float

    @property
    def ale_id(self) -> str:
        return f"ALE/{self.game}-v5"

    def make_kwargs(self) -> dict[str, Any]:
        return {"frameskip": self.frameskip, "repeat_action_probability": self.repeat_action_probability}


@functools.lru_cache(maxsize=1)
def atari_games() -> tuple[str, ...]:
    """CamelCase names of every game that the installed ale-py ships, e.g. ``('Adventure', ...)``."""
    games = []
    for env_id in gym.registry:
        match = _V5_ID.match(env_id)
        if match and not match["ram"]:
            games.append(match["game"])
    return tuple(sorted(games))


def list_env_ids() -> list[str]:
    """Every id form that :func:`resolve_env_id` accepts, grouped by game."""
    ids = []
    for game in atari_games():
        ids += [f"ALE/{game}-v5", f"{game}Deterministic-v4", f"{game}NoFrameskip-v4", f"{game}-v4"]
        ids += [f"{game}Deterministic-v0", f"{game}NoFrameskip-v0", f"{game}-v0"]
    return ids


def resolve_env_id(env_id: str) -> AtariSpec:
    """Map an id that users type onto the ALE v5 env and settings, or raise :class:`UserError`."""
    games = atari_games()
    v5 = _V5_ID.match(env_id)
    legacy = _LEGACY_ID.match(env_id)
    match = v5 or legacy
    if match is not None and match["game"] in games:
        if match["ram"]:
            raise UserError(
                f"{env_id!r} observes the console RAM; a3c learns from pixels: use "
                f"{env_id.replace('-ram', '')!r} instead"
            )
        game = match["game"]
        if v5:
            return AtariSpec(env_id, game, 4, 0.25)
        sticky = 0.25 if match["version"] == "0" else 0.0
        variant = match["variant"]
        if variant == "Deterministic":
            frameskip: int | tuple[int, int] = 3 if game == "SpaceInvaders" else 4
        elif variant == "NoFrameskip":
            frameskip = 1
        else:
            frameskip = (2, 5)
        return AtariSpec(env_id, game, frameskip, sticky)

    if env_id in gym.registry:
        raise UserError(f"{env_id!r} is not an Atari game; a3c trains on Atari games only: {_HOW_TO_LIST}")
    close = difflib.get_close_matches(env_id, list_env_ids(), n=1, cutoff=0.75)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise UserError(f"unknown Atari env id {env_id!r}{hint}; {_HOW_TO_LIST}")


def _ale(env: gym.Env) -> AtariEnv:
    """The ALE env under ``env``'s wrappers."""
    return cast(AtariEnv, env.unwrapped)


@functools.cache
def waits_for_fire(game: str) -> bool:
    """True if ``game`` shows a still screen until FIRE is pressed (Breakout does; Pong serves
    by itself). Measured, not listed: two seconds of NOOPs after a reset change no pixel."""
    probe = gym.make(f"ALE/{game}-v5", frameskip=4, repeat_action_probability=0.0)
    try:
        if "FIRE" not in _ale(probe).get_action_meanings():
            return False
        first, _ = probe.reset(seed=0)
        for _ in range(30):
            obs, *_ = probe.step(0)
            if not np.array_equal(obs, first):
                return False
        return True
    finally:
        probe.close()


def make_atari_env(
    env_id: str,
    seed: int | None = None,
    render_mode: str | None = None,
    *,
    sticky: float | None = None,
    noop_max: int = 0,
    frames: str = "seed",
) -> gym.Env:
    """Build the seed's Atari env: observations are float32 arrays of shape (1, 42, 42).

    ``seed`` seeds the emulator (sticky actions, random frame skips, no-op starts) and the action
    space; later ``reset()`` calls without a seed continue from it. ``sticky`` is the ALE's
    repeat-action probability (None: the id's own, see the table above); ``noop_max`` > 0 takes
    0 to ``noop_max`` random NOOPs after each reset. ``frames`` is the pipeline (``seed`` from the
    RGB screen, ``grey`` from the ALE's grey one; see ``TrainConfig.frames``); ``render()`` shows
    the RGB screen either way. Raises :class:`UserError` for an id that is not an Atari game or a
    setting out of range.
    """
    spec = resolve_env_id(env_id)
    check_env_settings(sticky, noop_max)
    kwargs = spec.make_kwargs()
    if sticky is not None:
        kwargs["repeat_action_probability"] = float(sticky)
    if frames not in FRAMES:
        raise UserError(f"--frames must be one of {', '.join(FRAMES)}, got {frames!r}")
    if frames == "grey":
        kwargs["obs_type"] = "grayscale"
    env = gym.make(spec.ale_id, render_mode=render_mode, **kwargs)
    if seed is not None:
        # Seed the raw env before the normaliser wraps it, so seeding does not count as a frame.
        env.reset(seed=seed)
        env.action_space.seed(seed)
    if noop_max > 0:
        # No-ops first, then FIRE: a game that waits for FIRE stands still through the no-ops.
        env = NoopStart(env, noop_max, _ale(env).get_action_meanings().index("NOOP"))
    if waits_for_fire(spec.game):
        env = FireAtLifeStart(env, _ale(env).get_action_meanings().index("FIRE"))
    env = Rescale42x42(env)
    env = RunningFrameNormalizer(env)
    return env


def check_env_settings(sticky: float | None, noop_max: int) -> None:
    """Raise :class:`UserError` with one line for a sticky probability or no-op count out of range."""
    if sticky is not None and (isinstance(sticky, bool) or not isinstance(sticky, (int, float)) or not 0.0 <= sticky <= 1.0):
        raise UserError(f"--sticky must be a probability in [0, 1], got {sticky!r}")
    if isinstance(noop_max, bool) or not isinstance(noop_max, int) or noop_max < 0:
        raise UserError(f"--noop-max must be an integer >= 0, got {noop_max!r}")
