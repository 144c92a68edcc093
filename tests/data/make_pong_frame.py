"""Regenerate ``pong_frame.npz``: one raw Pong frame and its expected 42x42 observation, and
``pong_grey_frame.npz``: the ALE's grey screen of the same moment and its expected observation.

The expected output is computed by the seed notebook's own ``_process_frame42``, copied here
verbatim, so the pinned data do not depend on a3c's implementation; the grey one by the same
steps without the channel mean (``--frames grey``). Run it only if the frame itself must change:
``python tests/data/make_pong_frame.py``.
"""

from pathlib import Path

import ale_py
import cv2
import gymnasium as gym
import numpy as np


def seed_process_frame42(frame):  # the seed notebook's function, line for line
    frame = frame[34:34 + 160, :160]
    frame = cv2.resize(frame, (80, 80))
    frame = cv2.resize(frame, (42, 42))
    frame = frame.mean(2, keepdims=True)
    frame = frame.astype(np.float32)
    frame *= (1.0 / 255.0)
    frame = np.moveaxis(frame, -1, 0)
    return frame


def grey_process_frame42(frame):  # the same crop and resizes on a frame with one channel
    frame = frame[34:34 + 160, :160]
    frame = cv2.resize(frame, (80, 80))
    frame = cv2.resize(frame, (42, 42))
    return (frame.astype(np.float32) * np.float32(1.0 / 255.0))[np.newaxis]


def frame_after_70_noops(**kwargs):
    env = gym.make("ALE/Pong-v5", frameskip=4, repeat_action_probability=0.0, **kwargs)
    frame, _ = env.reset(seed=0)
    for _ in range(70):  # far enough in that the ball and both paddles are on screen
        frame, *_ = env.step(0)
    env.close()
    return frame


if __name__ == "__main__":
    gym.register_envs(ale_py)
    frame = frame_after_70_noops()
    out = Path(__file__).with_name("pong_frame.npz")
    np.savez_compressed(out, frame=frame, expected=seed_process_frame42(frame))
    print(f"wrote {out}")
    grey = frame_after_70_noops(obs_type="grayscale")
    out = Path(__file__).with_name("pong_grey_frame.npz")
    np.savez_compressed(out, frame=grey, expected=grey_process_frame42(grey))
    print(f"wrote {out}")
