"""What every subcommand's arguments share: one-line usage errors, value types, exit codes."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import NoReturn

from a3c.errors import UserError


def _seconds_or_steps(text: str, zero_seconds: bool) -> tuple[str, float | int]:
    """``60``, ``60s`` or ``2.5s`` (seconds, > 0 or, with ``zero_seconds``, >= 0), or ``50000steps``
    (steps >= 1); raises ValueError for anything else."""
    raw = text.strip().lower()
    if raw.endswith("steps"):
        steps = int(raw[: -len("steps")].strip().replace("_", ""))
        if steps < 1:
            raise ValueError
        return "steps", steps
    seconds = float(raw[:-1] if raw.endswith("s") else raw)
    if not math.isfinite(seconds) or seconds < 0 or (seconds == 0 and not zero_seconds):
        raise ValueError
    return "s", seconds


def parse_interval(text: str) -> dict[str, float | int]:
    """``--checkpoint-interval``: ``60`` or ``60s`` (seconds), or ``50000steps`` (global steps, on
    top of the timer)."""
    try:
        unit, value = _seconds_or_steps(text, zero_seconds=False)
    except ValueError:
        raise UserError(f"--checkpoint-interval must be seconds (60, 60s) or steps (50000steps), got {text!r}") from None
    return {f"checkpoint_interval_{unit}": value}


def parse_eval_interval(text: str) -> dict[str, float | int | None]:
    """``--eval-interval``: a pause of ``20`` or ``20s`` (0: none), or a spacing of ``10000steps``;
    whichever is given replaces the other, from a preset or a config file as well."""
    try:
        unit, value = _seconds_or_steps(text, zero_seconds=True)
    except ValueError:
        raise UserError(f"--eval-interval must be seconds (20, 20s, 0) or steps (10000steps), got {text!r}") from None
    if unit == "steps":
        return {"eval_interval_steps": value, "eval_interval_s": 0.0}
    return {"eval_interval_s": value, "eval_interval_steps": None}


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (argparse prints the usage block too)."""

    def error(self, message: str) -> NoReturn:
        raise UserError(f"{message} (see `{self.prog} --help`)")


def _parse(kind: type[int] | type[float], text: str) -> float:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be finite, got {text!r}")
    return value


def int_at_least(minimum: int) -> Callable[[str], int]:
    """argparse type: an integer >= ``minimum``."""

    def parse(text: str) -> int:
        value = int(_parse(int, text))
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value

    return parse


def float_in(low: float = -math.inf, high: float = math.inf, what: str = "a number") -> Callable[[str], float]:
    """argparse type: a finite number in [``low``, ``high``]."""

    def parse(text: str) -> float:
        value = _parse(float, text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be {what} in [{low:g}, {high:g}], got {text}")
        return value

    return parse


positive_int = int_at_least(1)
non_negative_int = int_at_least(0)
probability = float_in(0.0, 1.0, "a probability")
finite_float = float_in()


#: Exit codes of the ``a3c`` command.
EXIT_USAGE = 2
EXIT_FAILED = 1
EXIT_SIGINT = 130
EXIT_SIGTERM = 143


def add_stuck_guard_flag(parser: argparse.ArgumentParser) -> None:
    """``--stuck-guard``, as ``a3c evaluate`` and ``a3c record`` take it."""
    from a3c.algorithm.config import STUCK_GUARDS

    parser.add_argument(
        "--stuck-guard",
        choices=STUCK_GUARDS,
        default="screen",
        help="end an episode early after 100 steps of a still screen (screen, the default: a game that waits for "
        "a FIRE that never comes), or after 100 identical actions (actions: the seed's rule, which also cuts short "
        "games where holding one action is good play)",
    )
