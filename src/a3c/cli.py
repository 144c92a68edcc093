"""The ``a3c`` command: ``train``, ``evaluate`` and ``envs``.

Bad input ends with one ``a3c: error: ...`` line on stderr and exit code 2, never a
traceback (``--debug`` shows it).
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import statistics
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from a3c.config import OPTIMIZERS, TrainConfig, default_num_processes, parse_interval, resolve_config, resume_config
from a3c.errors import UserError

EXIT_USAGE = 2
EXIT_FAILED = 1
EXIT_SIGINT = 130
EXIT_SIGTERM = 143

#: What ``--backend`` accepts.
BACKENDS = ("local", "ray")


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (argparse prints the usage block too)."""

    def error(self, message: str) -> NoReturn:
        raise UserError(f"{message} (see `{self.prog} --help`)")


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1 (shared by the subcommands)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _add_train_parser(subparsers: Any) -> None:
    from a3c.presets import DEFAULT_PRESET, preset_names

    fast = resolve_config(num_processes=1)
    seed = TrainConfig(num_processes=1)

    def default(name: str, fmt: str = "") -> str:
        value, seed_value = getattr(fast, name), getattr(seed, name)
        text = f"default {value:{fmt}}"
        return text if value == seed_value else f"{text}; seed {seed_value:{fmt}}"

    p = subparsers.add_parser(
        "train",
        help="train an agent with Hogwild! A3C",
        description=(
            f"Train A3C on an Atari game. Settings come in layers: the preset ({DEFAULT_PRESET!r} unless --preset), "
            "then --config FILE, then the flags given here. `--preset seed` is the seed notebook's algorithm exactly."
        ),
        argument_default=argparse.SUPPRESS,
    )
    p.add_argument(
        "--preset",
        help=f"named settings: {', '.join(preset_names())} (default {DEFAULT_PRESET}: batched workers tuned for 2 cores)",
    )
    p.add_argument("--config", help="YAML config file, or a run dir whose config.yaml to repeat; flags override it")
    p.add_argument(
        "--resume",
        metavar="RUN_DIR",
        help="continue a stopped run from its latest checkpoint (steps, optimiser statistics and best score carry on)",
    )
    algo = p.add_argument_group("algorithm (the seed's flags)")
    algo.add_argument("--lr", type=float, help=f"learning rate ({default('lr')})")
    algo.add_argument("--gamma", type=float, help=f"discount factor ({default('gamma')})")
    algo.add_argument("--gae-lambda", type=float, help=f"GAE lambda ({default('gae_lambda')})")
    algo.add_argument("--entropy-coef", type=float, help=f"entropy coefficient ({default('entropy_coef')})")
    algo.add_argument("--value-loss-coef", type=float, help=f"value loss coefficient ({default('value_loss_coef')})")
    algo.add_argument("--max-grad-norm", type=float, help=f"gradient norm clip ({default('max_grad_norm', 'g')})")
    algo.add_argument("--seed", type=int, help=f"random seed; process rank r uses seed + r ({default('seed')})")
    algo.add_argument(
        "--num-processes",
        type=int,
        help=f"training processes (default: one per CPU, here {default_num_processes()}; the seed used 4)",
    )
    algo.add_argument("--num-steps", type=int, help=f"forward steps per update ({default('num_steps')})")
    algo.add_argument("--max-episode-length", type=int, help=f"episode cap in agent steps ({default('max_episode_length')})")
    algo.add_argument("--env-name", "--env", dest="env_name", help=f"Atari game id, legacy ids accepted ({default('env_name')})")
    algo.add_argument("--no-shared", action="store_true", help="per-worker optimiser statistics instead of shared ones")
    algo.add_argument(
        "--sticky",
        type=probability,
        help="sticky actions: the ALE's repeat-action probability for training and evaluation (default: the id's own, "
        "0 for PongDeterministic-v4, 0.25 for ALE/Pong-v5)",
    )
    algo.add_argument("--noop-max", type=non_negative_int, help=f"0 to N random no-ops after each reset ({default('noop_max')})")
    algo.add_argument(
        "--max-steps", type=int, help=f"global env steps before training stops ({default('max_steps', ',')}; the seed's quick run: 20,000)"
    )
    algo.add_argument(
        "--envs-per-worker", type=int, help=f"envs each worker steps together with batched passes ({default('envs_per_worker')})"
    )
    algo.add_argument("--optimizer", choices=OPTIMIZERS, help="adam = SharedAdam (seed), rmsprop = the A3C paper's shared RMSProp")
    run = p.add_argument_group("run")
    run.add_argument("--run-dir", help="output folder (default runs/<env>-<date>-<time>)")
    run.add_argument("--force", action="store_true", help="write into an existing non-empty run dir")
    run.add_argument(
        "--checkpoint-interval",
        dest="checkpoint_interval",
        help=f"write the latest checkpoint every SECONDS (60 or 60s) or STEPS (50000steps) ({default('checkpoint_interval_s', 'g')} s)",
    )
    run.add_argument("--max-restarts", type=int, help=f"restarts of each dead worker or evaluator before the run stops ({default('max_restarts')})")
    run.add_argument(
        "--max-nonfinite-updates",
        type=int,
        help=f"non-finite updates in a row (each skipped) after which the run stops ({default('max_nonfinite_updates')})",
    )
    run.add_argument("--max-seconds", type=float, help="also stop after this much wall time")
    run.add_argument(
        "--eval-interval",
        dest="eval_interval_s",
        type=float,
        help=f"seconds the evaluator pauses between greedy episodes ({default('eval_interval_s', 'g')}: plays without pause)",
    )
    run.add_argument(
        "--eval-episodes",
        type=positive_int,
        help=f"greedy episodes per evaluation round, one weights copy each; best.pt and 'solved' go by the round mean "
        f"({default('eval_episodes')})",
    )
    run.add_argument(
        "--log-interval",
        dest="log_interval_s",
        type=float,
        help=f"seconds between rows of train_metrics.csv and TensorBoard's training scalars ({default('log_interval_s', 'g')})",
    )
    run.add_argument("--quiet", action="store_true", help="print nothing but errors")
    backend = p.add_argument_group("backend")
    backend.add_argument(
        "--backend",
        choices=BACKENDS,
        help="local: Hogwild! processes on this machine (default); ray: workers as Ray actors, here or on a cluster "
        "(needs the ray extra: pip install 'a3c[ray]')",
    )
    backend.add_argument(
        "--address",
        help="with --backend ray: the cluster to join (HEAD_IP:6379 from `ray start --head`, or auto); "
        "default: start a local Ray sized to this machine",
    )
    p.set_defaults(func=_cmd_train)


def probability(text: str) -> float:
    """argparse type: a probability in [0, 1]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be a probability in [0, 1], got {text}")
    return value


def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def _add_evaluate_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "evaluate",
        help="play greedy episodes with a checkpoint",
        description=(
            "Play greedy episodes (argmax policy) with the seed's stuck guard. By default the game plays with the "
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
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    p.set_defaults(func=_cmd_evaluate)


def _add_envs_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("envs", help="list the Atari game ids that a3c accepts")
    p.add_argument("--all-forms", action="store_true", help="list every legacy id form, not just one per game")
    p.set_defaults(func=_cmd_envs)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="a3c", description="A3C (Asynchronous Advantage Actor-Critic) for Atari on the CPU.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    subparsers = parser.add_subparsers(dest="command", required=True, parser_class=_Parser, metavar="COMMAND")
    _add_train_parser(subparsers)
    _add_evaluate_parser(subparsers)
    _add_envs_parser(subparsers)
    from a3c import plot, record

    plot.add_parser(subparsers)
    record.add_parser(subparsers)
    return parser


def _cmd_train(args: argparse.Namespace) -> int:
    from a3c.trainer import Terminated, Trainer, TrainerBase, TrainingFailed

    trainer_class: Callable[..., TrainerBase] = Trainer
    if getattr(args, "backend", "local") == "ray":
        # First, so that a missing Ray is one line before anything is written.
        from a3c.ray_backend import RayTrainer

        trainer_class = functools.partial(RayTrainer, address=getattr(args, "address", None))
    elif hasattr(args, "address"):
        raise UserError("--address names a Ray cluster; add --backend ray")
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    overrides = {k: v for k, v in vars(args).items() if k in fields}
    if hasattr(args, "checkpoint_interval"):
        overrides.update(parse_interval(args.checkpoint_interval))
    run_dir = getattr(args, "run_dir", None)
    resume = getattr(args, "resume", None)
    if resume is not None:
        for flag in ("preset", "config", "force"):
            if hasattr(args, flag):
                raise UserError(f"--resume takes the run's own config; drop --{flag}")
        if run_dir is not None and Path(run_dir).resolve() != Path(resume).resolve():
            raise UserError("--resume names the run dir to continue; drop --run-dir")
        config = resume_config(resume, **overrides)
        run_dir = resume
    else:
        config = resolve_config(getattr(args, "preset", None), getattr(args, "config", None), **overrides)
    trainer = trainer_class(
        config, run_dir=run_dir, force=getattr(args, "force", False), quiet=getattr(args, "quiet", False), resume=resume is not None
    )
    try:
        trainer.train()
    except TrainingFailed as error:
        print(f"a3c: error: {error}", file=sys.stderr)
        return EXIT_FAILED
    except Terminated:
        return EXIT_SIGTERM
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from a3c.checkpoint import load_checkpoint
    from a3c.evaluator import evaluation_protocol, play_episodes
    from a3c.pretrained import shipped_checkpoint

    # No --checkpoint: the shipped agent for the game, as the seed's notebook loads its own.
    checkpoint = load_checkpoint(args.checkpoint if args.checkpoint is not None else shipped_checkpoint(args.env_name))
    protocol = evaluation_protocol(checkpoint, args.env_name, args.sticky, args.noop_max, args.max_episode_length)
    seeds = [args.seed + i for i in range(args.episodes)]
    processes = min(args.num_processes or default_num_processes(), args.episodes)
    if not args.json:
        print(f"checkpoint: {checkpoint['path']} (global step {checkpoint['global_step']:,})")
        print(f"protocol: {protocol.describe()}; {args.episodes} episodes, seeds {seeds[0]}-{seeds[-1]}", flush=True)
    rewards: list[float] = []
    lengths: list[int] = []
    ended_by: list[str] = []
    for seed, result in zip(seeds, play_episodes(checkpoint["path"], protocol, seeds, processes)):
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


def _cmd_envs(args: argparse.Namespace) -> int:
    from a3c.envs.atari import atari_games, list_env_ids

    if args.all_forms:
        print("\n".join(list_env_ids()))
    else:
        for game in atari_games():
            print(f"ALE/{game}-v5  {game}Deterministic-v4  {game}NoFrameskip-v4  {game}-v4")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    try:
        args = build_parser().parse_args(argv)
        return int(args.func(args))
    except UserError as error:
        if debug:
            raise
        print(f"a3c: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        if debug:
            raise
        return EXIT_SIGINT


if __name__ == "__main__":
    sys.exit(main())
