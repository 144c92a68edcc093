"""`a3c plot` and `a3c.cli.plot.plot_runs`: two panels, one line per run, labels from the flags
that differ, and one-line errors that never clobber an existing image."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import matplotlib.image
import pytest
from matplotlib.figure import Figure

from a3c.algorithm.config import TrainConfig
from a3c.cli.plot import plot_runs, rolling_mean, split_label
from a3c.errors import UserError
from a3c.runtime.run_dir import METRICS_FIELDS, RunDir

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "docs" / "results"

# (wall_time_s, global_steps, episode_reward, ended_by)
ROWS = [
    (3.0, 0, -21.0, "terminated"),
    (60.0, 1000, -2.0, "stuck"),
    (120.0, 2000, -15.0, "terminated"),
    (180.0, 3000, 5.0, "terminated"),
    (240.0, 4000, 20.0, "terminated"),
]


def make_run(folder: Path, rows: list[tuple[float, int, float, str]] = ROWS, **config: Any) -> Path:
    run = RunDir(folder).create()
    run.write_config(TrainConfig(num_processes=2, **config), extra={"a3c run": "PongDeterministic-v4", "torch": "2.13.0+cpu"})
    run.start_metrics()
    for wall_time_s, steps, reward, ended_by in rows:
        run.append_metrics(
            {
                "wall_time_s": wall_time_s,
                "global_steps": steps,
                "fps": 0,
                "episode_reward": reward,
                "episode_length": 100,
                "ended_by": ended_by,
                "weights_step": steps,
                "unix_time": 0,
            }
        )
    return folder


def line_labels(fig: Figure) -> list[list[str]]:
    return [[line.get_label() for line in ax.get_lines()] for ax in fig.axes]


def legend_labels(fig: Figure) -> list[str]:
    (legend,) = fig.legends
    return [text.get_text() for text in legend.get_texts()]


def assert_png(path: Path) -> None:
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100


def assert_one_line_error(code: int, out: str, err: str, fragment: str) -> None:
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("a3c: error: ") and fragment in lines[0], lines[0]
    assert "Traceback" not in err + out


def test_two_runs_two_panels_labelled_by_the_flag_that_differs(tmp_path):
    a = make_run(tmp_path / "a", lr=0.0001)
    b = make_run(tmp_path / "b", lr=0.0002)
    out = tmp_path / "curve.png"
    fig = plot_runs([a, b], out)
    assert_png(out)
    assert len(fig.axes) == 2
    assert line_labels(fig) == [["lr=0.0001", "lr=0.0002"]] * 2
    assert legend_labels(fig) == ["lr=0.0001", "lr=0.0002"]
    assert fig.axes[0].get_xlabel() == "global steps"
    assert "minutes" in fig.axes[1].get_xlabel()
    assert "PongDeterministic-v4" in fig.get_suptitle()
    assert [p.name for p in tmp_path.iterdir() if p.is_file()] == ["curve.png"]  # no temp file left


def test_three_runs_label_every_differing_flag_sorted(tmp_path):
    runs = [
        make_run(tmp_path / "a", lr=0.0001),
        make_run(tmp_path / "b", lr=0.0002, envs_per_worker=8),
        make_run(tmp_path / "c", lr=0.0002, envs_per_worker=16),
    ]
    fig = plot_runs(runs, None)
    assert legend_labels(fig) == [
        "envs_per_worker=1, lr=0.0001",
        "envs_per_worker=8, lr=0.0002",
        "envs_per_worker=16, lr=0.0002",
    ]


def test_lines_are_the_rolling_mean_of_full_episodes_against_steps_and_minutes(tmp_path):
    fig = plot_runs([make_run(tmp_path / "a")], None, window=2)
    ax_steps, ax_time = fig.axes
    (by_steps,) = ax_steps.get_lines()
    (by_time,) = ax_time.get_lines()
    # The stuck-guard episode (step 1000) is left out, as the solved criterion leaves it out.
    assert list(by_steps.get_xdata()) == [0, 2000, 3000, 4000]
    assert list(by_time.get_xdata()) == [0.05, 2.0, 3.0, 4.0]
    assert list(by_steps.get_ydata()) == [-21.0, -18.0, -5.0, 12.5]
    assert list(by_time.get_ydata()) == list(by_steps.get_ydata())
    assert len(ax_steps.collections) == 1  # the faint raw points


def test_rolling_mean():
    assert rolling_mean([], 5) == []
    assert rolling_mean([1.0, 2.0, 3.0, 4.0], 1) == [1.0, 2.0, 3.0, 4.0]
    assert rolling_mean([18.0] * 7, 5) == [18.0] * 7
    assert rolling_mean([0.0, 10.0, 20.0, 30.0], 3) == [0.0, 5.0, 10.0, 20.0]


def test_identical_configs_or_one_run_are_labelled_by_run_dir_name(tmp_path):
    a = make_run(tmp_path / "seed-a")
    b = make_run(tmp_path / "seed-b")
    assert legend_labels(plot_runs([a, b], None)) == ["seed-a", "seed-b"]
    assert legend_labels(plot_runs([make_run(tmp_path / "solo", lr=0.0003)], None)) == ["solo"]


def test_runs_with_equal_flags_are_told_apart(tmp_path):
    a = make_run(tmp_path / "a", lr=0.0001)
    b = make_run(tmp_path / "b", lr=0.0001)
    c = make_run(tmp_path / "c", lr=0.0002)
    assert legend_labels(plot_runs([a, b, c], None)) == [f"lr=0.0001 ({a})", f"lr=0.0001 ({b})", "lr=0.0002"]


def test_threshold_adds_one_dashed_line_per_panel(tmp_path):
    fig = plot_runs([make_run(tmp_path / "a")], None, threshold=18)
    assert line_labels(fig) == [["a", "threshold 18"]] * 2
    assert list(fig.axes[0].get_lines()[1].get_ydata()) == [18, 18]


def test_cli_plots_run_dirs(run_cli, tmp_path):
    a = make_run(tmp_path / "a", lr=0.0001)
    b = make_run(tmp_path / "b", lr=0.0002)
    out = tmp_path / "curve.png"
    code, stdout, err = run_cli("plot", str(a), str(b), "-o", str(out), "--window", "3", "--threshold", "18", "--no-raw")
    assert (code, err) == (0, "")
    assert stdout.strip() == str(out)
    assert_png(out)


def test_cli_plots_metrics_csv_files_with_labels_and_configs_beside_them(run_cli, tmp_path):
    a = make_run(tmp_path / "a", lr=0.0001)
    b = make_run(tmp_path / "b", lr=0.0002)
    results = tmp_path / "results"
    results.mkdir()
    # The docs/results naming: X-metrics.csv with X-config.yaml beside it.
    shutil.copy(a / "metrics.csv", results / "first-metrics.csv")
    shutil.copy(a / "config.yaml", results / "first-config.yaml")
    shutil.copy(b / "metrics.csv", results / "second-metrics.csv")
    shutil.copy(b / "config.yaml", results / "second-config.yaml")
    shutil.copy(b / "metrics.csv", results / "bare.csv")
    out = tmp_path / "curve.png"
    code, _, err = run_cli(
        "plot", f"{results / 'first-metrics.csv'}:classic", str(results / "second-metrics.csv"), "-o", str(out)
    )
    assert (code, err) == (0, "")
    assert_png(out)
    # The labels themselves, through the function the CLI calls.
    assert legend_labels(plot_runs([results / "first-metrics.csv", results / "second-metrics.csv"], None)) == [
        "lr=0.0001",
        "lr=0.0002",
    ]
    assert legend_labels(plot_runs([b / "metrics.csv", results / "bare.csv"], None, labels=[None, None])) == ["b", "bare"]
    assert legend_labels(plot_runs([a, b], None, labels=["classic", None])) == ["classic", "lr=0.0002"]


def test_the_shipped_results_are_labelled_by_their_differing_flags():
    fig = plot_runs([RESULTS / "pong-seed-2proc-metrics.csv", RESULTS / "pong-k8-t5-lr2e-4-metrics.csv"], None)
    seed, batched = legend_labels(fig)
    # The older config has no envs_per_worker; it ran with the default, 1.
    assert "envs_per_worker=1" in seed and "lr=0.0001" in seed and "num_steps=20" in seed
    assert "envs_per_worker=8" in batched and "lr=0.0002" in batched and "num_steps=5" in batched
    assert "env_name" not in seed + batched and "gamma" not in seed + batched


def test_split_label(tmp_path):
    assert split_label("runs/a/metrics.csv:classic") == ("runs/a/metrics.csv", "classic")
    assert split_label("runs/a:b/metrics.csv") == ("runs/a:b/metrics.csv", None)
    assert split_label("runs/a") == ("runs/a", None)
    assert split_label("runs/a:") == ("runs/a", None)
    assert split_label("a:b:label") == ("a:b", "label")
    existing = tmp_path / "odd:name"
    existing.mkdir()
    assert split_label(str(existing)) == (str(existing), None)


def test_a_half_written_last_row_of_a_live_run_is_skipped(tmp_path):
    run = make_run(tmp_path / "live")
    with (run / "metrics.csv").open("a") as handle:
        handle.write("300.0,5000,")
    fig = plot_runs([run], None)
    assert list(fig.axes[0].get_lines()[0].get_xdata()) == [0, 2000, 3000, 4000]


def _header_only(tmp_path: Path) -> list[str]:
    run = tmp_path / "empty"
    run.mkdir()
    (run / "metrics.csv").write_text(",".join(METRICS_FIELDS) + "\n")
    return [str(run)]


def _wrong_columns(tmp_path: Path) -> list[str]:
    path = tmp_path / "memory.csv"
    path.write_text("unix_time,total_rss_kb,num_processes\n1,2,3\n")
    return [str(path)]


def _not_a_number(tmp_path: Path) -> list[str]:
    run = make_run(tmp_path / "bad")
    with (run / "metrics.csv").open("a") as handle:
        handle.write("300.0,lots,0,1,100,terminated,0,0\n")
    return [str(run)]


def _no_metrics(tmp_path: Path) -> list[str]:
    (tmp_path / "not-a-run").mkdir()
    return [str(tmp_path / "not-a-run")]


@pytest.mark.parametrize(
    "make_inputs, out_name, fragment",
    [
        (lambda tmp: [str(tmp / "nowhere")], "curve.png", "does not exist"),
        (lambda tmp: [f"{tmp / 'nowhere'}:label"], "curve.png", "nowhere' does not exist"),
        (_no_metrics, "curve.png", "has no metrics.csv"),
        (_header_only, "curve.png", "has no evaluation episodes"),
        (_wrong_columns, "curve.png", "not an a3c metrics file"),
        (_not_a_number, "curve.png", "global_steps is not a number"),
        (lambda tmp: [str(make_run(tmp / "ok"))], "curve.xyz", "cannot write .xyz images"),
        (lambda tmp: [str(make_run(tmp / "ok"))], "curve", "has no file extension"),
        (lambda tmp: [str(make_run(tmp / "ok"))], "missing/curve.png", "does not exist"),
        (lambda tmp: [str(make_run(tmp / "ok"))], "ok/metrics.csv/curve.png", "is not a folder"),
        (lambda tmp: [str(make_run(tmp / "ok"))], "ok", "is a directory"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_leaves_the_output_alone(run_cli, tmp_path, make_inputs, out_name, fragment):
    inputs = make_inputs(tmp_path)
    out = tmp_path / out_name
    existing = tmp_path / "curve.png"
    existing.write_bytes(b"the previous plot")
    code, stdout, err = run_cli("plot", *inputs, "-o", str(out))
    assert_one_line_error(code, stdout, err, fragment)
    assert existing.read_bytes() == b"the previous plot"
    assert not list(tmp_path.glob(".curve*"))


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root may write anywhere")
def test_an_unwritable_output_folder_is_one_line_exit_2(run_cli, tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        code, stdout, err = run_cli("plot", str(make_run(tmp_path / "a")), "-o", str(folder / "curve.png"))
    finally:
        folder.chmod(0o700)
    assert_one_line_error(code, stdout, err, "cannot write to output folder")
    assert not list(folder.iterdir())


def test_a_folder_that_refuses_files_is_one_line_exit_2_also_as_root(run_cli, tmp_path, monkeypatch):
    """The unwritable-folder path where the tests run as root, whom chmod does not stop."""
    import a3c.cli.plot

    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(a3c.cli.plot.tempfile, "TemporaryFile", refuse)
    (tmp_path / "curve.png").write_bytes(b"the previous plot")
    code, stdout, err = run_cli("plot", str(make_run(tmp_path / "a")), "-o", str(tmp_path / "curve.png"))
    assert_one_line_error(code, stdout, err, "cannot write to output folder")
    assert "Permission denied" in err
    assert (tmp_path / "curve.png").read_bytes() == b"the previous plot"


def test_bad_window_is_one_line_exit_2(run_cli, tmp_path):
    code, stdout, err = run_cli("plot", str(make_run(tmp_path / "a")), "-o", str(tmp_path / "c.png"), "--window", "0")
    assert_one_line_error(code, stdout, err, "must be >= 1")


def test_a_failed_save_keeps_the_previous_image_and_leaves_no_temp_file(tmp_path, monkeypatch):
    out = tmp_path / "curve.png"
    out.write_bytes(b"the previous plot")

    def broken_savefig(self: Figure, *args: Any, **kwargs: Any) -> None:
        args[0].write(b"half an image")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Figure, "savefig", broken_savefig)
    with pytest.raises(UserError, match="No space left on device"):
        plot_runs([make_run(tmp_path / "a")], out)
    assert out.read_bytes() == b"the previous plot"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "curve.png"]


def test_the_cli_does_not_import_matplotlib_at_startup():
    code = "import sys, a3c.cli; a3c.cli.build_parser(); print('matplotlib' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.strip() == "False"
