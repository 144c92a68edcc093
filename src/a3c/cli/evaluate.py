"""``a3c evaluate``: greedy episodes of a checkpoint under a named protocol, with their statistics."""

from __future__ import annotations

import argparse
import json
import statistics
from typing import Any

from a3c.algorithm.config import default_num_processes
from a3c.cli.args import add_stuck_guard_flag, non_negative_int, positive_int, probability


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "evaluate",
        help="play greedy episodes with a checkpoint",
        description=(
            "Play greedy episodes (argmax policy) until each ends, or until its screen stood still for 100 steps "
            "(--stuck-guard). By default the game plays with the "
            "settings the checkpoint was trained with; --sticky and --noop-max set the evaluation protocol "
            "(the field's standard: --env ALE/<Game>-v5, sticky actions 0.25). Episode i resets with seed "
            "--seed + i, so results do not depend on --num-processes."
        ),
    )
    p.add_argument(
        "--checkpoint",
        help="checkpoint file, or a run dir (its best checkpoint is used); default: the shipped agent for --env's game (Pong)",
    )
    p.add_argument("--episodes", type=positive_int, default=10, help="episodes to play (default 10)")
    p.add_argument("--env", "--env-name", dest="env_name", help="game id (default: the checkpoint's)")
    p.add_argument(
        "--sticky",
        type=probability,
        help="repeat-action probability P of sticky actions (default: the checkpoint's, else the id's own: 0.25 for ALE/*-v5)",
    )
    p.add_argument(
        "--noop-max", type=non_negative_int, help="0 to N random no-op actions after each reset (default: the checkpoint's, else 0)"
    )
    p.add_argument("--seed", type=int, default=0, help="episode i resets the env with seed + i (default 0)")
    p.add_argument(
        "--num-processes",
        type=positive_int,
        help=f"play episodes in this many parallel processes (default: one per CPU, here {default_num_processes()}, at most --episodes)",
    )
    p.add_argument("--max-episode-length", type=positive_int, default=1_000_000, help="episode cap (default 1000000)")
    add_stuck_guard_flag(p)
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    p.set_defaults(func=_cmd_evaluate)


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from a3c.algorithm.evaluation import evaluation_protocol
    from a3c.pretrained import shipped_checkpoint
    from a3c.runtime.checkpoint import load_checkpoint
    from a3c.runtime.policy import play_episodes

    # No --checkpoint: the shipped agent for the game, as the seed's notebook loads its own.
    checkpoint = load_checkpoint(args.checkpoint if args.checkpoint is not None else shipped_checkpoint(args.env_name))
    protocol = evaluation_protocol(checkpoint, args.env_name, args.sticky, args.noop_max, args.max_episode_length, args.stuck_guard)
    seeds = [args.seed + i for i in range(args.episodes)]
    processes = min(args.num_processes or default_num_processes(), args.episodes)
    if not args.json:
        print(f"checkpoint: {checkpoint['path']} (global step {checkpoint['global_step']:,})")
        print(f"protocol: {protocol.describe()}; {args.episodes} episodes, seeds {seeds[0]}-{seeds[-1]}", flush=True)
    rewards: list[float] = []
    lengths: list[int] = []
    ended_by: list[str] = []
    for seed, result in zip(seeds, play_episodes(checkpoint["path"], protocol, seeds, processes), strict=True):
        rewards.append(result.reward)
        lengths.append(result.length)
        ended_by.append(result.ended_by)
        if not args.json:
            note = "" if result.ended_by == "terminated" else f" ({result.ended_by})"
            print(f"episode {len(rewards)} (seed {seed}): reward {result.reward:g}, length {result.length}{note}", flush=True)
    summary: dict[str, Any] = {
        "checkpoint": checkpoint["path"],
        "env_id": protocol.env_id,
        "global_step": checkpoint["global_step"],
        "protocol": protocol.to_dict(),
        "seeds": seeds,
        "num_episodes": len(rewards),
        "episodes": rewards,
        "lengths": lengths,
        "ended_by": ended_by,
        "mean_reward": statistics.fmean(rewards),
        "std_reward": statistics.pstdev(rewards),
        "min_reward": min(rewards),
        "max_reward": max(rewards),
        "mean_length": statistics.fmean(lengths),
    }
    if args.json:
        print(json.dumps(summary))
    else:
        print(
            f"{len(rewards)} episodes: mean {summary['mean_reward']:.2f}, std {summary['std_reward']:.2f}, "
            f"min {summary['min_reward']:g}, max {summary['max_reward']:g}"
        )
    return 0
