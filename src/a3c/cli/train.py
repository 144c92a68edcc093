"""``a3c train``: train with Hogwild! A3C on the local or the Ray backend."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

from a3c.algorithm.config import (
    OPTIMIZERS,
    TrainConfig,
    default_num_processes,
    field_docs,
    flag_name,
    resolve_config,
    resume_config,
)
from a3c.backends import BACKENDS
from a3c.cli.args import (
    EXIT_FAILED,
    EXIT_SIGTERM,
    parse_eval_interval,
    parse_interval,
)
from a3c.errors import UserError

#: Flags that users type besides each field's own name (the seed's ``--env-name`` is the field's).
ALIASES = {"env_name": ("--env",)}

#: Fields whose flag carries its unit in the value, one flag for several fields.
UNIT_FLAGS: dict[str, tuple[tuple[str, ...], str, Callable[[str], dict[str, Any]]]] = {
    "checkpoint_interval": (("checkpoint_interval_s", "checkpoint_interval_steps"), "SECONDS|Nsteps", parse_interval),
    "eval_interval": (("eval_interval_s", "eval_interval_steps"), "SECONDS|Nsteps", parse_eval_interval),
}


def _doc(text: str) -> str:
    """A field's docstring as help text: reST's ``literals`` shown as `literals`, no final stop."""
    return text.replace("``", "`").rstrip(".")


def add_config_flags(group: Any) -> None:
    """One flag per :class:`TrainConfig` field, named after it (its unit dropped: ``eval_interval_s``
    is ``--eval-interval``), typed by its annotation and documented by its docstring, with the
    ``fast`` preset's default and the seed's where it differs."""
    fast = resolve_config(num_processes=1)
    seed = TrainConfig(num_processes=1)
    docs = field_docs(TrainConfig)
    hints = typing.get_type_hints(TrainConfig)
    by_unit = {field: dest for dest, (fields, _, _) in UNIT_FLAGS.items() for field in fields}
    done = set()
    for field in dataclasses.fields(TrainConfig):
        name = field.name
        if name in by_unit:
            dest = by_unit[name]
            if dest not in done:
                fields, metavar, _ = UNIT_FLAGS[dest]
                text = ". ".join(f"{_doc(docs[f])} ({_defaults(f, fast, seed)})" for f in fields)
                group.add_argument(flag_name(name), dest=dest, metavar=metavar, help=_escape(text))
                done.add(dest)
            continue
        kinds = [k for k in typing.get_args(hints[name]) or (hints[name],) if k is not type(None)]
        kind = kinds[0]
        if name == "num_processes":
            default = f"default: one per CPU, here {default_num_processes()}"
        else:
            default = _defaults(name, fast, seed)
        text = _escape(f"{_doc(docs[name])} ({default})")
        flags = (flag_name(name), *ALIASES.get(name, ()))
        if kind is bool:
            # --x and --no-x, so that a flag can turn off what a preset turns on; a field that
            # is already a "no" (no_shared) keeps its one flag rather than --no-no-shared.
            action = "store_true" if name.startswith("no_") else argparse.BooleanOptionalAction
            group.add_argument(*flags, dest=name, action=action, help=_escape(f"{_doc(docs[name])} ({default})"))
        elif name == "optimizer":
            group.add_argument(*flags, dest=name, choices=OPTIMIZERS, help=text)
        else:
            metavar = "SECONDS" if name.endswith("_s") else name.upper()
            group.add_argument(*flags, dest=name, type=kind, metavar=metavar, help=text)


def _defaults(name: str, fast: TrainConfig, seed: TrainConfig) -> str:
    def show(value: Any) -> str:
        if value is None:
            return "none"
        if isinstance(value, float):
            return f"{value:g}"
        return f"{value:,}" if isinstance(value, int) else str(value)

    value, seed_value = getattr(fast, name), getattr(seed, name)
    text = f"default {show(value)}"
    return text if value == seed_value else f"{text}; seed {show(seed_value)}"


def _escape(text: str) -> str:
    return text.replace("%", "%%")  # argparse formats help with %


def add_parser(subparsers: Any) -> None:
    from a3c.presets import DEFAULT_PRESET, preset_names

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
    add_config_flags(p.add_argument_group("config (TrainConfig's fields; the seed's flags keep their names)"))
    run = p.add_argument_group("run")
    run.add_argument("--run-dir", help="output folder (default runs/<env>-<date>-<time>)")
    run.add_argument("--force", action="store_true", help="write into an existing non-empty run dir (what it holds moves to replaced-<time>/)")
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
    for dest, (_, _, parse) in UNIT_FLAGS.items():
        if hasattr(args, dest):
            overrides.update(parse(getattr(args, dest)))
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
