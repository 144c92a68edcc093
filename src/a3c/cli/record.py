"""``a3c record``: play greedy episodes and write the full-resolution game screen as a video.

One frame per agent step (the screen after each env step), in the order played, across all
episodes. MP4 goes through imageio's ffmpeg plugin (H.264, yuv420p), GIF through imageio's
pillow plugin. The video is written to a temp file beside ``--out`` and renamed into place at
the end, so a failed or interrupted run never leaves a torn file and never touches an existing
one.

imageio, OpenCV, torch and gymnasium are imported when a video is recorded, not when this
module is imported: the CLI imports it at startup and ``a3c --help`` should stay fast.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from a3c.cli.args import add_stuck_guard_flag, non_negative_int, positive_int, probability
from a3c.errors import UserError

if TYPE_CHECKING:
    import gymnasium as gym
    import numpy as np

    from a3c.algorithm.evaluation import EpisodeResult
    from a3c.algorithm.model import RecurrentActorCritic


FORMATS = (".mp4", ".gif")


DEFAULT_FPS = 30.0


#: GIF delays are whole hundredths of a second, and browsers slow delays under 20 ms down to
#: 100 ms, so a GIF cannot play faster than 50 frames per second.
GIF_MAX_FPS = 50.0


#: imageio's 0-10 quality scale; 7 maps to x264 CRF 15, which keeps the one-pixel edges of
#: Atari sprites sharp while a Pong episode stays well under a megabyte.
MP4_QUALITY = 7


#: The band under the overlay text keeps a third of its brightness, so white text reads on any game.
_BAND_DIVISOR = 3


def add_parser(subparsers: Any) -> None:
    """Register the ``record`` subcommand on the ``a3c`` parser."""
    p = subparsers.add_parser(
        "record",
        help="play greedy episodes and save them as an MP4 or GIF",
        description=(
            "Play greedy episodes (as `a3c evaluate`) and write the full-resolution game screen, "
            "one frame per agent step, as an MP4 or GIF video."
        ),
    )
    p.add_argument(
        "--checkpoint", help="checkpoint file, or a run dir (its best checkpoint is used); default: the shipped agent for --env's game (Pong)"
    )
    p.add_argument(
        "--out",
        required=True,
        metavar="FILE",
        help="video to write: .mp4, or .gif (a GIF holds every frame in memory until the end; use MP4 for long recordings)",
    )
    p.add_argument("--episodes", type=positive_int, default=1, help="episodes to play (default 1)")
    p.add_argument("--env", "--env-name", dest="env_name", help="game id (default: the checkpoint's)")
    p.add_argument("--sticky", type=probability, help="sticky-action probability (default: the checkpoint's, else the id's own)")
    p.add_argument("--noop-max", type=non_negative_int, help="0 to N random no-ops after each reset (default: the checkpoint's, else 0)")
    p.add_argument("--seed", type=int, default=0, help="env seed (default 0)")
    p.add_argument(
        "--max-episode-length",
        type=positive_int,
        default=1_000_000,
        help="cut each episode after this many agent steps, for short clips (default 1000000)",
    )
    p.add_argument(
        "--fps",
        type=_positive_float,
        default=DEFAULT_FPS,
        help=f"frames per second of the video (default {DEFAULT_FPS:g}; at most {GIF_MAX_FPS:g} for GIF)",
    )
    p.add_argument("--no-overlay", dest="overlay", action="store_false", help="do not draw the episode, reward and step count")
    p.add_argument("--scale", type=positive_int, default=1, help="enlarge frames by this integer factor, nearest neighbour (default 1)")
    add_stuck_guard_flag(p)
    p.set_defaults(func=_cmd_record)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def check_output_path(out_path: str | os.PathLike[str], fps: float = DEFAULT_FPS) -> Path:
    """Check that a video can go to ``out_path`` (format, folder, fps); raise :class:`UserError` if not.

    Whether the folder is writable shows only when the temp file is created.
    """
    path = Path(out_path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        shown = f"{path.suffix!r}" if path.suffix else "no extension"
        raise UserError(f"--out {str(path)!r} has {shown}; a3c record writes {' or '.join(FORMATS)}")
    if path.is_dir():
        raise UserError(f"--out {str(path)!r} is a folder; give a file name ending in {suffix}")
    folder = path.parent
    if not folder.exists():
        raise UserError(f"output folder {str(folder)!r} does not exist")
    if not folder.is_dir():
        raise UserError(f"output folder {str(folder)!r} is not a folder")
    if suffix == ".gif" and fps > GIF_MAX_FPS:
        raise UserError(f"--fps {fps:g} is too fast for a GIF (at most {GIF_MAX_FPS:g}); use .mp4 or a lower --fps")
    return path


def record_video(
    model: RecurrentActorCritic,
    env: gym.Env,
    out_path: str | os.PathLike[str],
    episodes: int = 1,
    max_episode_length: int = 1_000_000,
    fps: float = DEFAULT_FPS,
    overlay: bool = True,
    scale: int = 1,
    on_episode: Callable[[int, EpisodeResult], None] | None = None,
    stuck_guard: str = "screen",
) -> list[EpisodeResult]:
    """Play ``episodes`` greedy episodes and write one frame per agent step to ``out_path``.

    ``env`` must be made with ``render_mode="rgb_array"`` (e.g.
    ``make_atari_env(env_id, seed, render_mode="rgb_array")``); its ``render()`` after each step
    is the frame. The format follows the extension (``.mp4`` or ``.gif``). ``overlay`` draws the
    episode number, the reward so far and the step count along the bottom; ``scale`` enlarges
    frames by an integer factor (nearest neighbour). ``on_episode(number, result)`` is called as
    each episode ends. ``stuck_guard`` is the rule that ends an episode going nowhere
    (:class:`a3c.algorithm.evaluation.StuckGuard`). Returns the episode results; the video has
    ``sum(r.length)`` frames.

    The file appears at ``out_path`` only once complete: a failure, or Ctrl-C, leaves whatever
    was there before. Raises :class:`UserError` for an unusable ``out_path``.
    """
    from a3c.algorithm.evaluation import play_greedy_episode

    if episodes < 1 or max_episode_length < 1 or scale < 1 or not fps > 0:
        raise ValueError("episodes, max_episode_length, scale and fps must be positive")
    if env.render_mode != "rgb_array":
        raise ValueError(f"env must be made with render_mode='rgb_array', not {env.render_mode!r}")
    path = check_output_path(out_path, fps)
    tmp = _create_temp_file(path)
    try:
        writer: _Writer = _Mp4Writer(tmp, fps) if path.suffix.lower() == ".mp4" else _GifWriter(tmp, fps)
        results: list[EpisodeResult] = []
        try:
            for episode in range(1, episodes + 1):

                def on_step(length: int, total_reward: float, episode: int = episode) -> None:
                    frame = _scaled_copy(env.render(), scale)
                    if overlay:
                        _draw_overlay(frame, f"ep {episode}  reward {total_reward:+g}  step {length}", scale)
                    writer.append(frame)

                result = play_greedy_episode(model, env, max_episode_length, stuck_guard, on_step=on_step)
                assert result is not None  # only a should_stop callback ends an episode early
                results.append(result)
                if on_episode is not None:
                    on_episode(episode, result)
        except BaseException:
            writer.abort()
            raise
        writer.close()
        _publish(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return results


class _Writer(Protocol):
    def append(self, frame: np.ndarray) -> None: ...

    def close(self) -> None: ...

    def abort(self) -> None:
        """Stop without finishing the file; never raises (an error is already on its way)."""


class _Mp4Writer:
    def __init__(self, path: Path, fps: float) -> None:
        import imageio.v2 as imageio

        self._writer = imageio.get_writer(
            path,
            format="FFMPEG",
            mode="I",
            fps=fps,
            codec="libx264",
            pixelformat="yuv420p",
            quality=MP4_QUALITY,
            # imageio's default of 16 would resize 210x160 frames to 224x160; yuv420p only
            # needs even sides, which every Atari screen (and any integer scale of it) has.
            macro_block_size=2,
            ffmpeg_log_level="error",
        )

    def append(self, frame: np.ndarray) -> None:
        self._writer.append_data(frame)

    def close(self) -> None:
        self._writer.close()

    def abort(self) -> None:
        try:
            self._writer.close()
        except Exception:  # ffmpeg may already be gone (Ctrl-C reaches it too); the file is discarded anyway
            pass


class _GifWriter:
    """imageio's pillow plugin, holding back one frame so that the last write carries the timing.

    The plugin saves the whole GIF when it is closed, with the options of the last ``write``
    call; Pillow wants one delay per frame to keep a non-integer frame period exact on average.
    """

    def __init__(self, path: Path, fps: float) -> None:
        import imageio.v3 as iio

        self._file = iio.imopen(path, "w", plugin="pillow", extension=".gif")
        self._fps = fps
        self._held: np.ndarray | None = None
        self._count = 0

    def append(self, frame: np.ndarray) -> None:
        import numpy as np

        if self._held is not None:
            if np.array_equal(frame, self._held):
                # Pillow merges a frame identical to the one before into it (a longer delay
                # instead), which would break one frame per agent step. One colour unit in one
                # pixel keeps the frames apart and is invisible.
                frame = frame.copy()
                frame[0, 0, 0] ^= 1
            self._file.write(self._held, is_batch=False)
        self._held = frame
        self._count += 1

    def close(self) -> None:
        if self._held is None:
            self._file.close()
            return
        try:
            self._file.write(self._held, is_batch=False, duration=gif_delays_ms(self._count, self._fps), loop=0)
            self._held = None
            self._file.close()
        except BaseException:
            self.abort()  # else the plugin's __del__ retries the save into the discarded temp file
            raise

    def abort(self) -> None:
        # Closing the plugin saves the frames it holds; drop them first, or the discarded temp
        # file would be written again (also from the plugin's __del__).
        self._held = None
        pending = getattr(self._file, "images_to_write", None)
        if isinstance(pending, list):
            pending.clear()
        try:
            self._file.close()
        except Exception:
            pass


def gif_delays_ms(count: int, fps: float) -> list[int]:
    """Per-frame GIF delays in ms: whole hundredths of a second whose running sum stays within 5 ms of k frame periods.

    A GIF at 30 fps alternates 30 and 40 ms (3, 3, 4, ...) instead of running 11% fast at 30 ms.
    """
    ends = [round(k * 100 / fps) for k in range(count + 1)]
    return [10 * (ends[k + 1] - ends[k]) for k in range(count)]


def _scaled_copy(frame: Any, scale: int) -> np.ndarray:
    import numpy as np

    frame = np.asarray(frame)
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(f"env.render() must return an RGB uint8 array (H, W, 3), got {frame.dtype} {frame.shape}")
    if scale == 1:
        return frame.copy()  # the overlay draws in place, and the GIF writer keeps the frame
    return frame.repeat(scale, axis=0).repeat(scale, axis=1)


def _draw_overlay(frame: np.ndarray, text: str, scale: int) -> None:
    """Write ``text`` in white on a darkened band along the bottom of ``frame``, in place."""
    import cv2

    font = cv2.FONT_HERSHEY_PLAIN
    # 0.8 is the smallest Hershey size that stays legible at 160 pixels wide; no antialiasing,
    # so that the text stays as crisp as the game's own pixels (and adds few GIF colours).
    font_scale = 0.8 * scale
    thickness = max(1, scale // 2)
    pad = 2 * scale
    (width, height), baseline = cv2.getTextSize(text, font, font_scale, thickness)
    room = frame.shape[1] - 2 * pad
    if width > room:  # long runs: shrink the text rather than cut it off
        font_scale *= room / width
        (width, height), baseline = cv2.getTextSize(text, font, font_scale, thickness)
    band = frame[max(0, frame.shape[0] - height - baseline - 2 * pad) :]
    band //= _BAND_DIVISOR
    origin = (pad, frame.shape[0] - pad - baseline + scale)
    cv2.putText(frame, text, origin, font, font_scale, (255, 255, 255), thickness, cv2.LINE_8)


def _create_temp_file(path: Path) -> Path:
    # The temp file ends in the real extension: ffmpeg picks the container from it.
    try:
        fd, name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix.lower()}", dir=path.parent)
    except OSError as error:
        raise UserError(f"cannot write to output folder {str(path.parent)!r}: {error.strerror or error}") from error
    os.close(fd)
    return Path(name)


def _publish(tmp: Path, path: Path) -> None:
    """Flush ``tmp`` to disk and rename it over ``path``, so ``path`` is the old file or the whole new one."""
    with open(tmp, "rb") as handle:
        os.fsync(handle.fileno())
    umask = os.umask(0o022)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a video is an ordinary file
    try:
        os.replace(tmp, path)
    except OSError as error:
        raise UserError(f"cannot write {str(path)!r}: {error.strerror or error}") from error


def _cmd_record(args: argparse.Namespace) -> int:
    from a3c.runtime.policy import load_policy

    path = check_output_path(args.out, args.fps)  # before the slower loading, so a typo fails at once
    policy = load_policy(
        args.checkpoint, args.env_name, args.seed, render_mode="rgb_array", sticky=args.sticky, noop_max=args.noop_max,
        stuck_guard=args.stuck_guard,
    )

    def report(episode: int, result: EpisodeResult) -> None:
        note = "" if result.ended_by == "terminated" else f" ({result.ended_by})"
        print(f"episode {episode}: reward {result.reward:g}, length {result.length}{note}", flush=True)

    try:
        results = record_video(
            policy.model,
            policy.env,
            path,
            episodes=args.episodes,
            max_episode_length=args.max_episode_length,
            fps=args.fps,
            overlay=args.overlay,
            scale=args.scale,
            on_episode=report,
            stuck_guard=policy.protocol.stuck_guard,
        )
    finally:
        policy.env.close()
    frames = sum(result.length for result in results)
    print(f"wrote {path}: {frames} frames, {len(results)} episode{'s' * (len(results) != 1)} at {args.fps:g} fps")
    return 0
