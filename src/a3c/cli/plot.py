"""``a3c plot``: greedy evaluation reward of one or more runs, against global steps and wall time.

::

    a3c plot runs/classic runs/batched -o curve.png
    a3c plot docs/results/pong-seed-2proc-metrics.csv:classic docs/results/pong-k8-t5-lr2e-4-metrics.csv:batched \
        -o docs/results/pong-curves.png --threshold 18

Each input is a run dir (its ``metrics.csv`` and ``config.yaml``) or a metrics CSV, optionally
with a ``:LABEL`` suffix. Lines are labelled by the config flags in which the runs differ
(``envs_per_worker=8, lr=0.0002``), or by the run's name when there is nothing to compare.
Episodes cut short by the evaluator's stuck guard are left out of the curve, which is over full
episodes only (the "solved" criterion, a round's mean, counts every episode of the round).

matplotlib is imported when a plot is drawn, not when the module is, so that ``a3c --help``
stays fast.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import math
import os
import secrets
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from a3c.cli.args import finite_float, positive_int
from a3c.errors import UserError

if TYPE_CHECKING:
    from matplotlib.figure import Figure


DEFAULT_WINDOW = 5
"""Evaluation episodes in the rolling mean: as many as a default evaluation round (``eval_episodes``)."""


REQUIRED_COLUMNS = ("wall_time_s", "global_steps", "episode_reward")
"""The columns of ``metrics.csv`` that a plot needs; ``ended_by`` is used when present."""


IGNORED_KEYS: frozenset[str] = frozenset()
"""Config keys never used in labels, for keys that differ between any two runs without saying
anything about them (a timestamp, a host name). The config has none today."""


_MISSING = object()


@dataclass
class _Run:
    source: str
    """The path as the user gave it, for messages and to tell apart runs with equal labels."""
    name: str
    config: dict[str, Any] | None
    label: str | None
    steps: list[float]
    minutes: list[float]
    rewards: list[float]


def split_label(spec: str) -> tuple[str, str | None]:
    """Split ``PATH:LABEL`` into its path and label (None when there is no label).

    Only the last ':' counts, and only when what follows it has no path separator, so that a
    path with a ':' in a folder name still works; a path that exists as written is never split.
    """
    if os.path.exists(spec):
        return spec, None
    head, sep, tail = spec.rpartition(":")
    if not sep or not head or "/" in tail or "\\" in tail:
        return spec, None
    return head, tail or None


def _locate(path: Path) -> tuple[Path, Path | None, str]:
    """Where a run's metrics and config live, and the name to label it by without a config."""
    if not path.exists():
        raise UserError(f"{str(path)!r} does not exist")
    if path.is_dir():
        metrics = path / "metrics.csv"
        if not metrics.is_file():
            raise UserError(f"run dir {str(path)!r} has no metrics.csv (is it an a3c run dir?)")
        # Path(".").name is empty; the folder's real name is the useful one.
        return metrics, path / "config.yaml", path.resolve().name
    if path.name == "metrics.csv":
        return path, path.with_name("config.yaml"), path.resolve().parent.name
    if path.name.endswith("-metrics.csv"):
        stem = path.name[: -len("-metrics.csv")]
        return path, path.with_name(f"{stem}-config.yaml"), stem
    return path, None, path.stem


def _read_config(path: Path) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise UserError(f"cannot read config {str(path)!r}: {error}") from error
    if not isinstance(data, dict):
        raise UserError(f"config {str(path)!r} is not a mapping of flags to values")
    from a3c.algorithm.config import TrainConfig

    # Configs written before a field existed lack it, and such a run ran with the field's
    # default; filling it in lets envs_per_worker=1 show against envs_per_worker=8. Factory
    # defaults (num_processes) depend on the machine, so those stay missing.
    for field in dataclasses.fields(TrainConfig):
        if field.name not in data and field.default is not dataclasses.MISSING:
            data[field.name] = field.default
    return data


def _number(value: str | None, column: str, path: Path, line: int) -> float:
    try:
        if value is None:
            raise ValueError
        number = float(value)
    except ValueError:
        raise UserError(f"{str(path)!r} line {line}: {column} is not a number: {value!r}") from None
    if not math.isfinite(number):
        raise UserError(f"{str(path)!r} line {line}: {column} is not finite: {value!r}")
    return number


def _read_metrics(path: Path) -> tuple[list[float], list[float], list[float]]:
    """Global steps, wall-time minutes and rewards of the full (not stuck) evaluation episodes."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(f"cannot read metrics {str(path)!r}: {error}") from error
    reader = csv.DictReader(text.splitlines())
    if reader.fieldnames is None:
        raise UserError(f"metrics file {str(path)!r} is empty")
    missing = [c for c in REQUIRED_COLUMNS if c not in reader.fieldnames]
    if missing:
        raise UserError(
            f"{str(path)!r} is not an a3c metrics file: missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
            f"(expected {', '.join(REQUIRED_COLUMNS)}, ...)"
        )
    numbered = [(reader.line_num, row) for row in reader]
    # A run that is still training appends to its metrics.csv, so the last line may be half
    # written: no newline yet and too few fields, or a number cut short. Skip it, don't fail.
    if numbered and not text.endswith(("\n", "\r")):
        line, last = numbered[-1]
        cut = None in last.values()
        try:
            for column in REQUIRED_COLUMNS:
                _number(last.get(column), column, path, line)
        except UserError:
            cut = True
        if cut:
            numbered.pop()
    if not numbered:
        raise UserError(f"metrics file {str(path)!r} has no evaluation episodes")
    steps: list[float] = []
    minutes: list[float] = []
    rewards: list[float] = []
    for line, row in numbered:
        wall_time_s, global_steps, reward = (_number(row.get(c), c, path, line) for c in REQUIRED_COLUMNS)
        if row.get("ended_by") == "stuck":
            continue
        steps.append(global_steps)
        minutes.append(wall_time_s / 60.0)
        rewards.append(reward)
    return steps, minutes, rewards


def rolling_mean(values: Sequence[float], window: int) -> list[float]:
    """Mean of each value and the up to ``window - 1`` before it (the first points average fewer)."""
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    # fsum over each window, not a running total: a running total drifts, and a mean of
    # exactly 18 must not plot as 17.999999 under an 18 threshold line.
    return [math.fsum(values[max(0, i + 1 - window) : i + 1]) / min(i + 1, window) for i in range(len(values))]


def _format_value(value: Any) -> str:
    return "(unset)" if value is _MISSING else str(value)


def differing_keys(configs: Sequence[dict[str, Any]]) -> list[str]:
    """Config keys whose value is not the same in every config, sorted, minus :data:`IGNORED_KEYS`."""
    keys: set[str] = set().union(*configs) - IGNORED_KEYS if configs else set()
    return sorted(k for k in keys if len({repr(c.get(k, _MISSING)) for c in configs}) > 1)


def _auto_labels(runs: Sequence[_Run]) -> list[str]:
    with_config = [r for r in runs if r.config is not None]
    keys = differing_keys([r.config for r in with_config if r.config is not None]) if len(with_config) > 1 else []
    labels: list[str] = []
    for run in runs:
        if run.label is not None:
            labels.append(run.label)
        elif run.config is not None and keys:
            labels.append(", ".join(f"{k}={_format_value(run.config.get(k, _MISSING))}" for k in keys))
        else:
            labels.append(run.name)
    # Two runs with the same flags (seeds repeated under one config, say) would otherwise
    # share a legend entry that cannot be told apart.
    for label in {label for label in labels if labels.count(label) > 1}:
        for i, run in enumerate(runs):
            if labels[i] == label:
                labels[i] = f"{label} ({run.source})"
    return labels


def _output_format(out: Path) -> str:
    """Check ``out`` before any work is done; return the image format its extension names."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    supported = sorted(FigureCanvasAgg.get_supported_filetypes())
    if out.is_dir():
        raise UserError(f"output {str(out)!r} is a directory; give a file name such as curve.png")
    fmt = out.suffix.lower().lstrip(".")
    if not fmt:
        raise UserError(f"output {str(out)!r} has no file extension; use one of .{', .'.join(supported)}")
    if fmt not in supported:
        raise UserError(f"cannot write .{fmt} images; use one of .{', .'.join(supported)}")
    folder = out.parent
    if not folder.exists():
        raise UserError(f"output folder {str(folder)!r} does not exist")
    if not folder.is_dir():
        raise UserError(f"output folder {str(folder)!r} is not a folder")
    # Try it rather than ask os.access, which says yes to root whatever the folder allows.
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise UserError(f"cannot write to output folder {str(folder)!r}: {error.strerror or error}") from error
    return fmt


def _save(fig: Figure, out: Path, fmt: str) -> None:
    # A temp file in the same folder, renamed over the output only once complete, so that a
    # failed or interrupted plot never leaves a truncated image in place of a good one.
    tmp = out.with_name(f".{out.name}.{secrets.token_hex(4)}.tmp")
    try:
        with tmp.open("xb") as handle:
            fig.savefig(handle, format=fmt, dpi=110)
        os.replace(tmp, out)
    except (OSError, RuntimeError, ValueError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise UserError(f"cannot write {str(out)!r}: {reason}") from error
    finally:
        tmp.unlink(missing_ok=True)


def plot_runs(
    paths: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str] | None,
    window: int = DEFAULT_WINDOW,
    labels: Sequence[str | None] | None = None,
    *,
    threshold: float | None = None,
    raw: bool = True,
) -> Figure:
    """Plot evaluation reward against global steps and wall time, one line per run; save to ``out``.

    ``paths`` are run dirs or metrics CSV files (``PATH:LABEL`` is the CLI's syntax, not
    parsed here). ``labels[i]``, where given and not None, replaces the automatic label of run
    ``i``. Each line is the rolling mean over the last ``window`` full evaluation episodes;
    ``raw`` also draws the episodes themselves as faint points; ``threshold`` adds a dashed
    horizontal line at that reward (18 is Pong's "solved"). ``out=None`` only returns the
    figure. Raises :class:`UserError` for bad input, before an existing ``out`` is touched.
    """
    if not paths:
        raise UserError("no runs to plot")
    if labels is not None and len(labels) != len(paths):
        raise ValueError(f"got {len(labels)} labels for {len(paths)} paths")
    if window < 1:
        raise UserError(f"--window must be >= 1, got {window}")
    out_path = None if out is None else Path(out)
    fmt = None if out_path is None else _output_format(out_path)

    runs: list[_Run] = []
    for i, given in enumerate(paths):
        metrics, config_path, name = _locate(Path(given))
        config = _read_config(config_path) if config_path is not None and config_path.is_file() else None
        steps, minutes, rewards = _read_metrics(metrics)
        label = None if labels is None else labels[i]
        runs.append(_Run(os.fspath(given), name, config, label, steps, minutes, rewards))
    legend_labels = _auto_labels(runs)

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import EngFormatter

    # A bare Figure on the Agg canvas, not pyplot: no display is needed, nothing is left in
    # pyplot's global figure list, and a notebook's own backend is not switched.
    fig = Figure(figsize=(11, 4.5), layout="constrained")
    FigureCanvasAgg(fig)
    ax_steps, ax_time = fig.subplots(1, 2, sharey=True)
    for run, label in zip(runs, legend_labels, strict=True):
        smoothed = rolling_mean(run.rewards, window)
        (line,) = ax_steps.plot(run.steps, smoothed, label=label, linewidth=1.6)
        ax_time.plot(run.minutes, smoothed, label=label, linewidth=1.6, color=line.get_color())
        if raw and window > 1:
            # Faint and small, under the lines: with several runs of thousands of episodes,
            # anything stronger hides the curves.
            for ax, xs in ((ax_steps, run.steps), (ax_time, run.minutes)):
                ax.scatter(xs, run.rewards, s=5, alpha=0.2, linewidths=0, color=line.get_color(), zorder=1)
    if threshold is not None:
        for ax in (ax_steps, ax_time):
            ax.axhline(threshold, color="grey", linestyle="--", linewidth=0.8, label=f"threshold {threshold:g}")

    ax_steps.set_ylabel("greedy evaluation reward")
    ax_steps.set_xlabel("global steps")
    ax_steps.xaxis.set_major_formatter(EngFormatter(sep=""))
    ax_time.set_xlabel("wall time (minutes)")
    ax_time.tick_params(labelleft=True)
    for ax in (ax_steps, ax_time):
        ax.grid(alpha=0.3)
    # Below both panels rather than inside one: labels made of several flags are long and
    # would cover the curves.
    handles = ax_steps.get_lines()
    columns = 1 if max(len(label) for label in legend_labels) > 40 else min(len(handles), 4)
    fig.legend(handles=handles, loc="outside lower center", ncols=columns, fontsize="small", frameon=False)
    envs = {r.config.get("env_name") for r in runs if r.config is not None}
    title = f"{envs.pop()}: " if len(envs) == 1 and all(r.config is not None for r in runs) else ""
    title += "greedy evaluation reward" if window == 1 else f"greedy evaluation reward, mean of the last {window} episodes"
    if raw and window > 1:
        title += " (points: single episodes)"
    fig.suptitle(title, fontsize="medium")

    if out_path is not None and fmt is not None:
        _save(fig, out_path, fmt)
    return fig


def _cmd_plot(args: argparse.Namespace) -> int:
    paths: list[str] = []
    labels: list[str | None] = []
    for spec in args.runs:
        path, label = split_label(spec)
        paths.append(path)
        labels.append(label)
    plot_runs(paths, args.out, window=args.window, labels=labels, threshold=args.threshold, raw=not args.no_raw)
    print(args.out)
    return 0


def add_parser(subparsers: Any) -> None:
    """Register the ``plot`` subcommand on the ``a3c`` parser."""
    p = subparsers.add_parser(
        "plot",
        help="plot evaluation reward of runs against steps and wall time",
        description=(
            "Plot greedy evaluation reward against global steps and wall time (two panels), one line "
            "per run, labelled by the config flags in which the runs differ. Episodes cut by the stuck "
            "guard are left out."
        ),
    )
    p.add_argument(
        "runs",
        nargs="+",
        metavar="RUN[:LABEL]",
        help="a run dir, or a metrics CSV (its config is looked for beside it: X-config.yaml for "
        "X-metrics.csv, config.yaml for metrics.csv); :LABEL overrides the line's label",
    )
    p.add_argument("-o", "--out", required=True, help="image file to write; the extension picks the format (.png, .pdf, .svg, ...)")
    p.add_argument(
        "--window",
        type=positive_int,
        default=DEFAULT_WINDOW,
        help=f"rolling mean over this many evaluation episodes (default {DEFAULT_WINDOW}, as the solved criterion)",
    )
    p.add_argument(
        "--threshold",
        type=finite_float,
        default=None,
        help="draw a dashed line at this reward, e.g. 18 for Pong's solved criterion (default: none)",
    )
    p.add_argument("--no-raw", action="store_true", help="draw only the smoothed lines, not each episode's point")
    p.set_defaults(func=_cmd_plot)
