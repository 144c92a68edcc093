"""``a3c envs``: the Atari game ids that a3c accepts."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("envs", help="list the Atari game ids that a3c accepts")
    p.add_argument("--all-forms", action="store_true", help="list every legacy id form, not just one per game")
    p.set_defaults(func=_cmd_envs)


def _cmd_envs(args: argparse.Namespace) -> int:
    from a3c.algorithm.envs.atari import atari_games, list_env_ids

    if args.all_forms:
        print("\n".join(list_env_ids()))
    else:
        for game in atari_games():
            print(f"ALE/{game}-v5  {game}Deterministic-v4  {game}NoFrameskip-v4  {game}-v4")
    return 0
