"""Signals: Ctrl-C and SIGTERM stop a run in order, and reach only the trainer.

Children start with SIGINT ignored (and blocked while they start, so that a Ctrl-C is held for
the trainer rather than lost); the trainer's handler only records the signal, and its watch loop
stops the children, saves a checkpoint and exits 130 (SIGINT) or 143 (SIGTERM).
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from typing import Any


def unblock_sigint() -> None:
    """In a child, first thing: ignore SIGINT (as inherited already, unless a forkserver that
    someone else started handed down Python's default), then lift the block it inherited from
    the trainer's start."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


@contextlib.contextmanager
def sigint_ignored(hold: bool = False) -> Iterator[None]:
    """Start children with SIGINT ignored, which they keep across exec: a terminal's Ctrl-C then
    reaches only the trainer, which stops them in order and saves a checkpoint, and no child can
    die with a KeyboardInterrupt traceback halfway through starting up or stepping.

    With ``hold``, a Ctrl-C that arrives meanwhile (starting a spawned child, or the forkserver, can take seconds) is
    not lost: SIGINT is blocked as well, and Linux keeps a blocked signal pending even while it is
    ignored, so the trainer's own handler gets it once the block ends. The children inherit the
    block and lift it as they start (:func:`unblock_sigint`)."""
    hold = hold and hasattr(signal, "pthread_sigmask")
    try:
        if hold:
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if hold:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


class Terminated(Exception):
    """SIGTERM arrived; handled like Ctrl-C (stop, checkpoint), then exit code 143."""


class StopSignals:
    """Ctrl-C (SIGINT) and SIGTERM ask the trainer to stop; :meth:`TrainingRun._watch` polls
    :attr:`received` and the run then stops in order: children joined, checkpoint saved.

    The handler only records the signal. Raising from it, as Python's default Ctrl-C does, could
    interrupt the trainer halfway through reading a child's report from the queue or writing
    TensorBoard, and the orderly stop that follows could then block on what was left half done.
    A second Ctrl-C does raise KeyboardInterrupt, for a stop that takes too long. A SIGINT that was
    ignored when the trainer started (a shell's background job) stays ignored."""

    def __init__(self) -> None:
        self.received: int | None = None
        self._previous: dict[int, Any] = {}

    def _handler(self, signum: int, frame: object) -> None:
        if self.received is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        if self.received is None:
            self.received = signum

    def __enter__(self) -> StopSignals:
        for signum in (signal.SIGINT, signal.SIGTERM):
            try:
                if signal.getsignal(signum) is not signal.SIG_IGN:
                    self._previous[signum] = signal.signal(signum, self._handler)
            except ValueError:  # not the main thread: leave signals alone
                break
        return self

    def __exit__(self, *exc_info: object) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous.clear()

    def as_exception(self) -> BaseException:
        """What the signal ends the run with: KeyboardInterrupt (exit 130) or Terminated (143)."""
        return Terminated() if self.received == signal.SIGTERM else KeyboardInterrupt()
