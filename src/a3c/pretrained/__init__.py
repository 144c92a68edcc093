"""Agents trained with this package and shipped inside it (see README.md beside this file).

``<game>.pt`` (the ALE game name in lower case) is the agent for that game; ``a3c evaluate``,
``a3c record`` and :func:`a3c.runtime.policy.load_policy` use it when no checkpoint is named.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

#: The game played when neither a checkpoint nor a game is named.
DEFAULT_GAME = "Pong"


def shipped_games() -> list[str]:
    """Games with a shipped agent, as ALE names in lower case (``pong``, ...)."""
    return sorted(Path(str(entry)).stem for entry in resources.files(__name__).iterdir() if str(entry).endswith(".pt"))


def shipped_checkpoint(env_id: str | None = None) -> Path:
    """The shipped agent for ``env_id``'s game (None: Pong). Raises :class:`UserError` where none ships."""
    from a3c.algorithm.envs.atari import resolve_env_id
    from a3c.errors import UserError

    game = DEFAULT_GAME if env_id is None else resolve_env_id(env_id).game
    if game.lower() not in shipped_games():
        names = ", ".join(shipped_games())
        raise UserError(f"no agent for {game} ships with a3c (shipped: {names}); pass --checkpoint FILE or a run dir")
    return Path(str(resources.files(__name__) / f"{game.lower()}.pt"))

