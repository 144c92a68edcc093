"""`a3c record`: one decoded frame per agent step, full-resolution frames, and no torn files."""

from __future__ import annotations

import os
import re
from pathlib import Path

import imageio.v2 as imageio_v2
import imageio.v3 as iio
import numpy as np
import pytest
from conftest import ScriptedRewardEnv

from a3c.algorithm.model import ActorCritic, MLPActorCritic
from a3c.cli import record
from a3c.cli.record import gif_delays_ms, record_video
from a3c.runtime.checkpoint import make_checkpoint, save_checkpoint

ATARI_SHAPE = (210, 160, 3)


def _read_frames(path: Path) -> np.ndarray:
    if path.suffix == ".gif":
        return iio.imread(path, index=None, plugin="pillow")
    reader = imageio_v2.get_reader(path, format="FFMPEG")
    try:
        return np.stack(list(reader.iter_data()))  # list(reader) asks len(), which is inf for a stream
    finally:
        reader.close()


def _episode_lengths(out: str) -> list[int]:
    return [int(length) for length in re.findall(r"^episode \d+: reward -?[\d.]+, length (\d+)", out, re.MULTILINE)]


def _assert_one_line_error(code: int, out: str, err: str, fragment: str) -> None:
    assert code == 2
    assert out == ""
    assert err.startswith("a3c: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    assert fragment in err


@pytest.mark.parametrize(("name", "extra", "shape"), [("clip.mp4", [], ATARI_SHAPE), ("clip.gif", ["--scale", "2"], (420, 320, 3))])
def test_record_writes_one_frame_per_agent_step(run_cli, tmp_path, name, extra, shape):
    out_path = tmp_path / name
    code, out, err = run_cli("record", "--out", str(out_path), "--episodes", "2", "--max-episode-length", "25", *extra)
    assert code == 0, err
    lengths = _episode_lengths(out)
    assert len(lengths) == 2 and all(0 < length <= 25 for length in lengths), out
    frames = _read_frames(out_path)
    assert frames.shape == (sum(lengths), *shape)
    assert out.splitlines()[-1] == f"wrote {out_path}: {sum(lengths)} frames, 2 episodes at 30 fps"
    assert [p.name for p in tmp_path.iterdir()] == [name]  # the temp file was renamed, not left behind


def test_overlay_draws_only_along_the_bottom(run_cli, tmp_path):
    plain, marked = tmp_path / "plain.gif", tmp_path / "marked.gif"
    for path, flags in ((plain, ["--no-overlay"]), (marked, [])):
        code, _, err = run_cli("record", "--out", str(path), "--max-episode-length", "8", "--seed", "3", *flags)
        assert code == 0, err
    a, b = _read_frames(plain), _read_frames(marked)
    assert a.shape == b.shape == (8, *ATARI_SHAPE)
    assert (a != b).any(axis=(1, 2, 3)).all()  # every frame carries the overlay
    # The game picture above the band is untouched (row 0 may hold the GIF writer's one-unit nudge).
    np.testing.assert_array_equal(a[:, 1:180], b[:, 1:180])


def test_record_accepts_a_run_dir(run_cli, tmp_path):
    run_dir = tmp_path / "run"
    save_checkpoint(
        make_checkpoint(ActorCritic(1, 6), env_id="PongDeterministic-v4", global_step=7, config={}),
        run_dir / "checkpoints" / "best.pt",
    )
    out_path = tmp_path / "run.mp4"
    code, out, err = run_cli("record", "--checkpoint", str(run_dir), "--out", str(out_path), "--max-episode-length", "5")
    assert code == 0, err
    assert len(_read_frames(out_path)) == sum(_episode_lengths(out)) == 5


@pytest.mark.parametrize(
    ("out_name", "extra", "fragment"),
    [
        ("clip.avi", [], "'.avi'"),
        ("clip", [], "no extension"),
        ("missing/clip.mp4", [], "does not exist"),
        ("blocker/clip.mp4", [], "is not a folder"),
        ("clip.gif", ["--fps", "60"], "too fast for a GIF"),
        ("clip.mp4", ["--checkpoint", "corrupt.pt"], "not a readable a3c checkpoint"),
    ],
)
def test_bad_input_is_one_line_and_keeps_existing_files(run_cli, tmp_path, monkeypatch, out_name, extra, fragment):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "blocker").write_text("a file where a folder should be")
    (tmp_path / "corrupt.pt").write_bytes(b"\x80\x02 not a checkpoint")
    for name in ("clip.avi", "clip", "clip.gif", "clip.mp4"):
        (tmp_path / name).write_text("previous video")
    before = sorted(p.name for p in tmp_path.iterdir())
    code, out, err = run_cli("record", "--out", out_name, *extra)
    _assert_one_line_error(code, out, err, fragment)
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    for name in ("clip.avi", "clip", "clip.gif", "clip.mp4"):
        assert (tmp_path / name).read_text() == "previous video"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_an_unwritable_folder_is_one_line(run_cli, tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    (folder / "clip.mp4").write_text("previous video")
    folder.chmod(0o500)
    try:
        code, out, err = run_cli("record", "--out", str(folder / "clip.mp4"), "--max-episode-length", "3")
    finally:
        folder.chmod(0o700)
    _assert_one_line_error(code, out, err, "cannot write to output folder")
    assert (folder / "clip.mp4").read_text() == "previous video"


def test_a_failing_temp_file_is_one_line(run_cli, tmp_path, monkeypatch):
    """The unwritable-folder path, also where the tests run as root."""

    def refuse(*args: object, **kwargs: object) -> tuple[int, str]:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(record.tempfile, "mkstemp", refuse)
    (tmp_path / "clip.mp4").write_text("previous video")
    code, out, err = run_cli("record", "--out", str(tmp_path / "clip.mp4"), "--max-episode-length", "3")
    _assert_one_line_error(code, out, err, "cannot write to output folder")
    assert "Permission denied" in err
    assert (tmp_path / "clip.mp4").read_text() == "previous video"


class ScreenEnv(ScriptedRewardEnv):
    """A scripted env with a constant screen, whose render can fail at a given step."""

    render_mode = "rgb_array"

    def __init__(self, steps: int, fail_at: int | None = None, error: type[BaseException] = RuntimeError) -> None:
        super().__init__([0.0] * steps)
        self.fail_at = fail_at
        self.error = error

    def render(self) -> np.ndarray:
        if self.t == self.fail_at:
            raise self.error("the emulator fell over")
        return np.full(ATARI_SHAPE, 90, dtype=np.uint8)


@pytest.mark.parametrize("suffix", [".mp4", ".gif"])
def test_identical_screens_still_give_one_frame_each(tmp_path, suffix):
    """Pillow merges identical consecutive GIF frames unless the writer keeps them apart."""
    path = tmp_path / f"still{suffix}"
    results = record_video(MLPActorCritic(4, 2), ScreenEnv(12), path, episodes=2, overlay=False)
    assert [r.length for r in results] == [12, 12]
    frames = _read_frames(path)
    assert frames.shape == (24, *ATARI_SHAPE)
    assert np.abs(frames.astype(int) - 90).max() <= (1 if suffix == ".gif" else 3)


@pytest.mark.parametrize("suffix", [".mp4", ".gif"])
@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_a_failure_mid_recording_keeps_the_old_file_and_leaves_no_temp(tmp_path, suffix, error):
    path = tmp_path / f"clip{suffix}"
    path.write_text("previous video")
    with pytest.raises(error, match="fell over"):
        record_video(MLPActorCritic(4, 2), ScreenEnv(20, fail_at=6, error=error), path)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
    assert path.read_text() == "previous video"


def test_record_video_needs_an_rgb_array_env(tmp_path):
    env = ScreenEnv(5)
    env.render_mode = None
    with pytest.raises(ValueError, match="rgb_array"):
        record_video(MLPActorCritic(4, 2), env, tmp_path / "x.mp4")
    assert list(tmp_path.iterdir()) == []


def test_gif_delays_keep_the_frame_rate_exact_on_average():
    assert gif_delays_ms(6, 30) == [30, 40, 30, 30, 40, 30]
    assert gif_delays_ms(4, 50) == [20] * 4
    delays = gif_delays_ms(1000, 24)
    assert min(delays) >= 40 and abs(sum(delays) - 1000 * 1000 / 24) <= 5
