"""Environments: the seed's Atari pipeline, the id resolver, and a tiny test task."""

from a3c.algorithm.envs.atari import (
    AtariSpec,
    atari_games,
    list_env_ids,
    make_atari_env,
    resolve_env_id,
)
from a3c.algorithm.envs.toy import Corridor, make_corridor
from a3c.algorithm.envs.wrappers import (
    Rescale42x42,
    RunningFrameNormalizer,
    process_frame42,
)

__all__ = [
    "AtariSpec",
    "Corridor",
    "Rescale42x42",
    "RunningFrameNormalizer",
    "atari_games",
    "list_env_ids",
    "make_atari_env",
    "make_corridor",
    "process_frame42",
    "resolve_env_id",
]
