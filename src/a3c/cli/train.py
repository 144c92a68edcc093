"""``a3c train``: train with Hogwild! A3C on the local or the Ray backend."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any

from a3c.algorithm.config import (
    OPTIMIZERS,
    TrainConfig,
    default_num_processes,
    resolve_config,
    resume_config,
)
from a3c.backends import BACKENDS
from a3c.cli.args import (
    EXIT_FAILED,
    EXIT_SIGTERM,
    non_negative_int,
    parse_interval,
    positive_int,
    probability,
)
from a3c.errors import UserError

#: What ``--backend`` accepts.


def add_parser(subparsers: Any) -> None:
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


def _cmd_train(args: argparse.Namespace) -> int:
    from a3c.backends import make_run
    from a3c.backends.base import TrainingFailed
    from a3c.runtime.signals import Terminated

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
    run = make_run(
        config,
        run_dir=run_dir,
        backend=getattr(args, "backend", "local"),
        address=getattr(args, "address", None),
        force=getattr(args, "force", False),
        quiet=getattr(args, "quiet", False),
        resume=resume is not None,
    )
    try:
        run.train()
    except TrainingFailed as error:
        print(f"a3c: error: {error}", file=sys.stderr)
        return EXIT_FAILED
    except Terminated:
        return EXIT_SIGTERM
    return 0
