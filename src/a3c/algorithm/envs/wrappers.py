"""The seed's observation pipeline: 42x42 grey frames with running normalisation.

Follows the preprocessing of the seed notebook (itself after universe-starter-agent):
crop rows 34..194, resize to 80x80 then 42x42 with OpenCV's default bilinear filter,
average the colour channels, scale to [0, 1], channel first.
"""

from __future__ import annotations

from typing import Any, SupportsFloat

import cv2
import gymnasium as gym
import numpy as np

FRAME_SHAPE = (1, 42, 42)


def process_frame42(frame: np.ndarray) -> np.ndarray:
    """Turn one 210x160x3 RGB Atari frame (or a 210x160 grey one, which has no channels to
    average) into a float32 array of shape (1, 42, 42) in [0, 1]."""
    frame = frame[34 : 34 + 160, :160]
    # Two resizes, not one: the intermediate 80x80 step changes the result and is the seed's.
    frame = cv2.resize(frame, (80, 80))
    frame = cv2.resize(frame, (42, 42))
    if frame.ndim == 2:
        return (frame.astype(np.float32) * np.float32(1.0 / 255.0))[np.newaxis]
    # The seed's frame.mean(axis=2), written out: the same float64 sums and division, so the same
    # bits, without numpy's slow reduction over a 3-wide axis (about 200 us a frame, measured).
    grey = ((frame[:, :, 0].astype(np.float64) + frame[:, :, 1] + frame[:, :, 2]) / 3.0).astype(np.float32)
    grey *= 1.0 / 255.0
    return grey[np.newaxis]


class Rescale42x42(gym.ObservationWrapper, gym.utils.RecordConstructorArgs):
    """Apply :func:`process_frame42` to every observation."""

    def __init__(self, env: gym.Env) -> None:
        # RecordConstructorArgs puts this wrapper in ``env.spec``, so ``env.spec.make()`` can
        # rebuild the whole stack, as gymnasium's own wrappers allow.
        gym.utils.RecordConstructorArgs.__init__(self)
        super().__init__(env)
        self.observation_space = gym.spaces.Box(0.0, 1.0, FRAME_SHAPE, dtype=np.float32)

    def observation(self, observation: np.ndarray) -> np.ndarray:
        return process_frame42(observation)


class RunningFrameNormalizer(gym.ObservationWrapper, gym.utils.RecordConstructorArgs):
    """Normalise each frame by exponential moving averages of frame means and stds.

    The statistics are per env instance and persist across episodes, as the seed's do. The
    averages start at zero, so they are bias-corrected by ``1 - alpha**t`` as in Adam.

    A ``reset(seed=...)`` starts the statistics afresh: a seeded reset must make the env
    reproducible (gymnasium's contract, checked by ``check_env``). Training resets without a
    seed after the first episode, so within a run the statistics carry on as the seed's did.
    """

    def __init__(self, env: gym.Env, alpha: float = 0.9999, eps: float = 1e-8) -> None:
        gym.utils.RecordConstructorArgs.__init__(self, alpha=alpha, eps=eps)
        super().__init__(env)
        self.alpha = alpha
        self.eps = eps
        self._reset_statistics()
        # The bias-corrected mean is a weighted average of frame means, so it lies within the
        # input's range, and the divisor is at least eps: no output is further than
        # (high - low) / eps from zero.
        space = env.observation_space
        assert isinstance(space, gym.spaces.Box)
        bound = float(np.max(space.high - space.low)) / eps
        self.observation_space = gym.spaces.Box(-bound, bound, space.shape, dtype=np.float32)

    def _reset_statistics(self) -> None:
        self.state_mean = 0.0
        self.state_std = 0.0
        self.num_steps = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        if seed is not None:
            self._reset_statistics()
        return super().reset(seed=seed, options=options)

    def observation(self, observation: np.ndarray) -> np.ndarray:
        self.num_steps += 1
        self.state_mean = self.state_mean * self.alpha + float(observation.mean()) * (1 - self.alpha)
        self.state_std = self.state_std * self.alpha + float(observation.std()) * (1 - self.alpha)
        correction = 1 - self.alpha**self.num_steps
        mean = self.state_mean / correction
        std = self.state_std / correction
        return ((observation - mean) / (std + self.eps)).astype(np.float32)


class FireAtLifeStart(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Press FIRE after a reset and after each lost life, for games that wait for it.

    Breakout, for one, shows a still screen until FIRE launches the ball. A greedy policy that
    has not learnt to press it then never starts playing: the screen stuck guard would end its
    episode at 0, and the seed's guard (one repeated action) not even that, if it alternates LEFT
    and RIGHT. The FIRE steps' rewards are added to the step that lost the life.

    FIRE is pressed twice. Under sticky actions (ALE v5) each frame of a step repeats the
    previous action with probability 0.25, so a press is lost to the action before it once in 256
    (0.25 ** 4): the ball then waits, and the stuck guard ends a greedy episode (3 of 410 Breakout
    evaluation episodes, before). Two presses miss once in 65,536; the second, once the ball is in
    play, is a step without movement.
    """

    PRESSES = 2

    def __init__(self, env: gym.Env, fire_action: int) -> None:
        gym.utils.RecordConstructorArgs.__init__(self, fire_action=fire_action)
        super().__init__(env)
        self.fire_action = fire_action
        self.lives = 0

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        obs, reset_info = self.env.reset(**kwargs)
        obs, _, terminated, truncated, info = self._fire()
        if terminated or truncated:  # never seen; keep the reset contract anyway
            obs, info = self.env.reset()
        self.lives = int(info.get("lives", 0))
        return obs, {**reset_info, **info}  # what the layers below said at reset (no-ops), updated

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        lives = int(info.get("lives", 0))
        if lives < self.lives and not (terminated or truncated):
            obs, fire_reward, terminated, truncated, info = self._fire()
            reward = float(reward) + fire_reward
        self.lives = int(info.get("lives", 0))
        return obs, reward, terminated, truncated, info

    def _fire(self) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """FIRE, :attr:`PRESSES` times unless the game ends first; their rewards summed."""
        total = 0.0
        for _ in range(self.PRESSES):
            obs, reward, terminated, truncated, info = self.env.step(self.fire_action)
            total += float(reward)
            if terminated or truncated:
                break
        return obs, total, terminated, truncated, info


class NoopStart(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """After each reset, take a random number of NOOP actions, 0 to ``noop_max``.

    The "random no-op starts" of Mnih et al. 2015's evaluation protocol: a greedy agent on a
    deterministic game otherwise replays one memorised game. The count is drawn from the env's
    own generator, so a seeded reset makes it reproducible; ``info["noops"]`` says how many.
    """

    def __init__(self, env: gym.Env, noop_max: int, noop_action: int = 0) -> None:
        gym.utils.RecordConstructorArgs.__init__(self, noop_max=noop_max, noop_action=noop_action)
        super().__init__(env)
        if noop_max < 0:
            raise ValueError(f"noop_max must be >= 0, got {noop_max}")
        self.noop_max = noop_max
        self.noop_action = noop_action

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        obs, info = self.env.reset(**kwargs)
        noops = int(self.np_random.integers(0, self.noop_max + 1))
        for _ in range(noops):
            obs, _, terminated, truncated, info = self.env.step(self.noop_action)
            if terminated or truncated:  # a game lost to standing still: start it again
                obs, info = self.env.reset()
        return obs, {**info, "noops": noops}


class LifeLossEndsEpisode(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """For training: a lost life ends the episode (``terminated``), while the game plays on.

    The learner then takes the value after a lost life as 0 and starts the next life with a
    fresh LSTM state, as if each life were an episode: the "episodic life" of Mnih et al. 2015's
    DQN, on by default in Stable-Baselines3's ``AtariWrapper`` and CleanRL's Atari scripts. The
    reset that follows such an end does not reset the game: it hands back the last observation,
    with ``info["new_game"]`` False, so that a worker can still tally whole games' scores. A game
    that really ended (or was cut by a time limit below this wrapper) resets as usual, with
    ``new_game`` True. Games without lives (Pong) pass through unchanged. Greedy evaluation
    plays whole games, never through this wrapper.
    """

    def __init__(self, env: gym.Env) -> None:
        gym.utils.RecordConstructorArgs.__init__(self)
        super().__init__(env)
        self.lives = 0
        self.game_over = True
        self.last: tuple[Any, dict[str, Any]] | None = None

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.game_over = bool(terminated or truncated)
        lives = int(info.get("lives", 0))
        if lives < self.lives and not self.game_over:
            terminated = True
        self.lives = lives
        self.last = (obs, info)
        return obs, reward, terminated, truncated, info

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        if self.game_over or self.last is None or kwargs.get("seed") is not None:
            obs, info = self.env.reset(**kwargs)
            new_game = True
        else:
            obs, info = self.last
            new_game = False
        self.game_over = False
        self.lives = int(info.get("lives", 0))
        return obs, {**info, "new_game": new_game}
