"""What every subcommand's arguments share: one-line usage errors, value types, exit codes."""

from __future__ import annotations

import argparse
import math
from typing import NoReturn

from a3c.errors import UserError


def parse_interval(text: str) -> dict[str, float | int]:
    """``--checkpoint-interval``: ``60`` or ``60s`` (seconds), or ``50000steps`` (global steps)."""
    raw = text.strip().lower()
    try:
        if raw.endswith("steps"):
            steps = int(raw[: -len("steps")].strip().replace("_", ""))
            if steps < 1:
                raise ValueError
            return {"checkpoint_interval_steps": steps}
        seconds = float(raw[:-1] if raw.endswith("s") else raw)
        if not math.isfinite(seconds) or seconds <= 0:
            raise ValueError
        return {"checkpoint_interval_s": seconds}
    except ValueError:
        raise UserError(f"--checkpoint-interval must be seconds (60, 60s) or steps (50000steps), got {text!r}") from None


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


#: Exit codes of the ``a3c`` command.
EXIT_USAGE = 2
EXIT_FAILED = 1
EXIT_SIGINT = 130
EXIT_SIGTERM = 143
