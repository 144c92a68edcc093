"""The ``a3c`` command: ``train``, ``evaluate``, ``record``, ``plot`` and ``envs``, a module each.

Bad input ends with one ``a3c: error: ...`` line on stderr and exit code 2, never a
traceback (``--debug`` shows it).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from a3c.cli import envs, evaluate, plot, record, train
from a3c.cli.args import EXIT_FAILED, EXIT_SIGINT, EXIT_USAGE, _Parser
from a3c.errors import StorageError, UserError


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="a3c", description="A3C (Asynchronous Advantage Actor-Critic) for Atari on the CPU.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    subparsers = parser.add_subparsers(dest="command", required=True, parser_class=_Parser, metavar="COMMAND")
    for command in (train, evaluate, envs, plot, record):
        command.add_parser(subparsers)
    return parser


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
    except StorageError as error:
        if debug:
            raise
        print(f"a3c: error: {error}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        if debug:
            raise
        return EXIT_SIGINT

