"""The run directory: resolved config, evaluation metrics CSV and checkpoints.

::

    runs/PongDeterministic-v4-20261125-141500/
        config.yaml             the resolved TrainConfig
        metrics.csv             one row per evaluation episode (rounds: see eval_rounds)
        checkpoints/latest.pt   written periodically and at the end
        checkpoints/best.pt     the weights of the evaluation round with the highest mean reward
        replaced-<time>/        what the folder held before, when started again with --force
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from a3c.algorithm.config import TrainConfig
from a3c.errors import StorageError, UserError
from a3c.runtime.checkpoint import BEST, CHECKPOINT_DIR, LATEST, write_atomically

METRICS_FIELDS = (
    "wall_time_s",
    "global_steps",
    "fps",
    "episode_reward",
    "episode_length",
    "ended_by",
    "weights_step",
    "unix_time",
)
"""Columns of ``metrics.csv``. ``fps`` is global steps per second of wall time since the start;
``weights_step`` is the global step at which the evaluated weights were copied."""


def eval_rounds(rows: list[dict[str, Any]], round_size: int) -> list[list[dict[str, Any]]]:
    """The complete evaluation rounds among ``metrics.csv`` rows, in order.

    A round is ``round_size`` consecutive episodes played with one weights copy, so its rows share
    a ``weights_step``: consecutive rows with the same ``weights_step`` are cut into rounds of
    ``round_size``. A round left unfinished by a stop or a restarted evaluator is left out.
    """
    rounds: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] = []
    for row in rows:
        if current and (len(current) == round_size or str(row["weights_step"]) != str(current[0]["weights_step"])):
            if len(current) == round_size:
                rounds.append(current)
            current = []
        current.append(row)
    if len(current) == round_size:
        rounds.append(current)
    return rounds


def round_size_of(run_path: str | os.PathLike[str]) -> int | None:
    """A run's ``eval_episodes`` from its ``config.yaml``; None for a run from before rounds (no
    such field), whose episodes each had weights of their own. A round of 1 is not such a run: it
    is one greedy episode that says all a round says, on a deterministic game."""
    try:
        data = yaml.safe_load((Path(run_path) / "config.yaml").read_text()) or {}
    except (OSError, yaml.YAMLError):
        return None
    if not isinstance(data, dict) or not data.get("eval_episodes"):
        return None
    return int(data["eval_episodes"])


def default_run_dir(env_id: str, now: dt.datetime | None = None) -> Path:
    stamp = (now or dt.datetime.now()).strftime("%Y%m%d-%H%M%S")
    safe_env = re.sub(r"[^A-Za-z0-9_.-]+", "-", env_id).strip("-")
    return Path("runs") / f"{safe_env}-{stamp}"


ROLLED_BACK_PREFIX = "rolled-back-"
"""A resumed run moves the metrics rows written after the checkpoint it resumes from (training that
was lost: a killed trainer's last minute, say) into ``RUN_DIR/rolled-back-<time>/``."""

ERRORS_LOG = "errors.log"
"""Tracebacks of exceptions raised in Ray actors, whose one-line summary the trainer logs."""

STARTS_FILE = "starts.json"
"""Each child's starts so far, rewritten at every start: seeds never repeat, even across a kill."""

REPLACED_PREFIX = "replaced-"
"""``--force`` moves an earlier run's files into ``RUN_DIR/replaced-<time>/``."""


class RunDir:
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.replaced: Path | None = None
        """Where :meth:`create` with ``force`` moved what the folder held before, if anything."""

    @property
    def config_path(self) -> Path:
        return self.path / "config.yaml"

    @property
    def metrics_path(self) -> Path:
        return self.path / "metrics.csv"

    @property
    def train_metrics_path(self) -> Path:
        return self.path / "train_metrics.csv"

    @property
    def checkpoint_dir(self) -> Path:
        return self.path / CHECKPOINT_DIR

    @property
    def latest_path(self) -> Path:
        return self.checkpoint_dir / LATEST

    @property
    def best_path(self) -> Path:
        return self.checkpoint_dir / BEST

    def create(self, force: bool = False) -> RunDir:
        """Make the folder. One that holds files is refused, unless ``force``: then what it holds
        moves into a ``replaced-<time>`` subfolder (see :attr:`replaced`), so that the new run's
        logs start fresh and nothing is deleted."""
        if self.path.exists() and not self.path.is_dir():
            raise UserError(f"run dir {str(self.path)!r} exists and is not a directory")
        previous = [p for p in self.path.iterdir() if not p.name.startswith(REPLACED_PREFIX)] if self.path.is_dir() else []
        if previous and not force:
            raise UserError(f"run dir {str(self.path)!r} exists and is not empty; choose another --run-dir or pass --force")
        try:
            if previous:
                self.replaced = self.path / f"{REPLACED_PREFIX}{dt.datetime.now().strftime('%Y%m%d-%H%M%S-%f')}"
                self.replaced.mkdir()
                for entry in previous:
                    entry.rename(self.replaced / entry.name)
            self.checkpoint_dir.mkdir(parents=True, exist_ok=True)
            probe = self.path / ".write-test"
            probe.write_text("")
            probe.unlink()
        except OSError as error:
            raise UserError(f"cannot write to run dir {str(self.path)!r}: {error.strerror or error}") from error
        return self

    def write_config(self, config: TrainConfig, extra: dict[str, Any] | None = None) -> None:
        data = config.to_dict()
        text = yaml.safe_dump(data, sort_keys=False)
        if extra:
            text = "".join(f"# {k}: {v}\n" for k, v in extra.items()) + text
        write_atomically(self.config_path, text.encode())

    def start_metrics(self) -> None:
        """Write the CSV header, unless the file already has one."""
        start_csv(self.metrics_path, METRICS_FIELDS)

    def append_metrics(self, row: dict[str, Any]) -> None:
        append_csv_row(self.metrics_path, METRICS_FIELDS, row)

    def save_starts(self, starts: dict[str, int]) -> None:
        write_atomically(self.path / STARTS_FILE, (json.dumps(starts, sort_keys=True) + "\n").encode())

    def load_starts(self) -> dict[str, int]:
        """The starts saved by :meth:`save_starts` ({} when there are none or they are unreadable)."""
        try:
            data = json.loads((self.path / STARTS_FILE).read_text())
        except (OSError, ValueError):
            return {}
        return {str(k): int(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def roll_back_metrics(self, global_step: int) -> Path | None:
        """Before a resume from a checkpoint at ``global_step``: move every row of ``metrics.csv`` and
        ``train_metrics.csv`` written after it, and a torn last line (a write cut by a kill), into a
        ``rolled-back-<time>/`` folder, so that the files hold only whole rows and no step twice.
        Returns that folder, or None when nothing had to move."""
        folder = self.path / f"{ROLLED_BACK_PREFIX}{dt.datetime.now().strftime('%Y%m%d-%H%M%S-%f')}"
        moved = False
        for path in (self.metrics_path, self.train_metrics_path):
            if not path.exists():
                continue
            keep, drop = _split_rows(path.read_text(), global_step)
            if drop:
                try:
                    folder.mkdir(exist_ok=True)
                    (folder / path.name).write_text(drop)
                except OSError as error:
                    raise StorageError(error, folder / path.name) from error
                write_atomically(path, keep.encode())
                moved = True
        return folder if moved else None

    def read_metrics(self) -> list[dict[str, str]]:
        if not self.metrics_path.exists():
            return []
        with self.metrics_path.open(newline="") as handle:
            return list(csv.DictReader(handle))


def _split_rows(text: str, global_step: int) -> tuple[str, str]:
    """A metrics CSV's text as (what stays, what moves): the header and every whole row at or before
    ``global_step`` stay; later rows, and a last line without its newline, move."""
    lines = text.splitlines(keepends=True)
    if not lines:
        return "", ""
    header, rows = lines[0], lines[1:]
    if not header.endswith("\n"):
        return "", text  # not even the header was written whole
    columns = next(csv.reader([header]))
    column = columns.index("global_steps")
    keep: list[str] = [header]
    drop: list[str] = []
    for line in rows:
        fields = next(csv.reader([line]), [])
        whole = line.endswith("\n") and len(fields) == len(columns)
        try:
            after = int(float(fields[column])) > global_step
        except (IndexError, ValueError):
            whole = False
        (keep if whole and not after else drop).append(line)
    return "".join(keep), "".join(drop)


def start_csv(path: Path, fields: Sequence[str]) -> None:
    """Write a CSV's header, unless the file already has one."""
    if not path.exists() or path.stat().st_size == 0:
        write_atomically(path, _csv_line(fields).encode())


def append_csv_row(path: Path, fields: Sequence[str], row: dict[str, Any]) -> None:
    """Append one row whole, or not at all: a write cut short (a full disk) is truncated away, so
    the file never ends in half a row, and the failure is raised as :class:`StorageError`."""
    data = _csv_line([row.get(field, "") for field in fields]).encode()
    try:
        with path.open("ab") as handle:
            size = handle.tell()
            try:
                handle.write(data)
                handle.flush()
            except OSError:
                handle.truncate(size)
                raise
    except OSError as error:
        raise StorageError(error, path) from error


def _csv_line(values: Sequence[Any]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(values)
    return out.getvalue()
