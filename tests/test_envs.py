import warnings
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from a3c.algorithm.envs import (
    RunningFrameNormalizer,
    make_atari_env,
    make_corridor,
    process_frame42,
    resolve_env_id,
)
from a3c.errors import UserError


@pytest.mark.parametrize(
    "env_id, game, frameskip, sticky",
    [
        ("PongDeterministic-v4", "Pong", 4, 0.0),
        ("PongNoFrameskip-v4", "Pong", 1, 0.0),
        ("Pong-v4", "Pong", (2, 5), 0.0),
        ("ALE/Pong-v5", "Pong", 4, 0.25),
        ("PongDeterministic-v0", "Pong", 4, 0.25),
        ("Pong-v0", "Pong", (2, 5), 0.25),
        ("BreakoutDeterministic-v4", "Breakout", 4, 0.0),
        ("SpaceInvadersDeterministic-v4", "SpaceInvaders", 3, 0.0),
        ("ALE/MontezumaRevenge-v5", "MontezumaRevenge", 4, 0.25),
    ],
)
def test_legacy_and_current_ids_resolve_to_their_old_settings(env_id, game, frameskip, sticky):
    spec = resolve_env_id(env_id)
    assert (spec.game, spec.frameskip, spec.repeat_action_probability) == (game, frameskip, sticky)
    assert spec.ale_id == f"ALE/{game}-v5"


def test_deterministic_id_builds_an_env_without_sticky_actions():
    env = make_atari_env("PongDeterministic-v4", seed=0)
    ale_env = env.unwrapped
    assert ale_env._frameskip == 4
    assert ale_env.ale.getFloat("repeat_action_probability") == 0.0
    env.close()


@pytest.mark.parametrize(
    "env_id, fragment",
    [
        ("CartPole-v1", "is not an Atari game"),
        ("Pongg-v4", "did you mean 'Pong-v4'"),
        ("NoSuchGame-v4", "unknown Atari env id"),
        ("", "unknown Atari env id"),
        ("Pong-ram-v4", "RAM"),
    ],
)
def test_bad_ids_get_one_clear_line_that_says_how_to_list_ids(env_id, fragment):
    with pytest.raises(UserError) as info:
        resolve_env_id(env_id)
    message = str(info.value)
    assert fragment in message
    assert "\n" not in message
    if fragment != "RAM":
        assert "a3c envs" in message


DATA = Path(__file__).with_name("data")


def test_a_pinned_pong_frame_becomes_the_seed_pipelines_42x42_observation():
    """A raw ALE frame and its expected output, both stored as data; the expected output was
    made by the seed notebook's own function (tests/data/make_pong_frame.py), not by ours."""
    pinned = np.load(DATA / "pong_frame.npz")
    out = process_frame42(pinned["frame"])
    assert out.shape == (1, 42, 42) and out.dtype == np.float32
    np.testing.assert_array_equal(out, pinned["expected"])


def test_a_pinned_grey_pong_frame_becomes_its_42x42_observation_close_to_the_seeds():
    """--frames grey: the ALE's grey screen of the same moment as pong_frame.npz, cropped and
    resized as the seed's. The observation is the seed's picture in another grey: the same
    shapes, correlated above 0.98 (the seed's averages R, G and B; the ALE weighs them by luminance)."""
    pinned = np.load(DATA / "pong_grey_frame.npz")
    out = process_frame42(pinned["frame"])
    assert out.shape == (1, 42, 42) and out.dtype == np.float32
    np.testing.assert_array_equal(out, pinned["expected"])
    seed = np.load(DATA / "pong_frame.npz")["expected"]
    assert not np.array_equal(out, seed)
    assert np.corrcoef(out.ravel(), seed.ravel())[0, 1] > 0.98


def test_the_grey_pipeline_renders_no_rgb_screen_and_its_agents_are_evaluated_with_it(tmp_path):
    from a3c.algorithm.model import ActorCritic
    from a3c.runtime.checkpoint import make_checkpoint, save_checkpoint
    from a3c.runtime.policy import load_policy

    grey = make_atari_env("PongDeterministic-v4", 0, frames="grey")
    assert grey.unwrapped._obs_type == "grayscale" and grey.observation_space.shape == (1, 42, 42)
    obs, _ = grey.reset(seed=0)
    assert obs.shape == (1, 42, 42) and np.isfinite(obs).all()
    grey.close()
    for frames in ("grey", "seed"):
        ck = make_checkpoint(ActorCritic(1, 6), env_id="PongDeterministic-v4", global_step=1, config={"frames": frames})
        policy = load_policy(save_checkpoint(ck, tmp_path / f"{frames}.pt"))
        assert policy.env.unwrapped._obs_type == ("grayscale" if frames == "grey" else "rgb")
        policy.env.close()
    with pytest.raises(UserError, match="--frames must be one of seed, grey"):
        make_atari_env("PongDeterministic-v4", 0, frames="colour")


def test_frame_preprocessing_gives_the_seed_functions_bits_on_random_frames():
    """The seed's function, as its notebook wrote it, against ours, on frames of every colour."""
    from data.make_pong_frame import seed_process_frame42

    rng = np.random.default_rng(0)
    for _ in range(300):
        frame = rng.integers(0, 256, (210, 160, 3), dtype=np.uint8)
        np.testing.assert_array_equal(process_frame42(frame), seed_process_frame42(frame))


def test_frame_preprocessing_on_a_synthetic_frame_with_hand_computed_values():
    frame = np.zeros((210, 160, 3), dtype=np.uint8)
    frame[:34] = 255  # score area, cropped away
    frame[194:] = 255  # bottom border, cropped away
    frame[34:194, :80] = (30, 60, 90)  # left half of the playfield: grey 60
    out = process_frame42(frame)[0]
    # 160 -> 80 columns halves exactly; 80 -> 42 maps output column x to input 1.905 x + 0.452:
    # columns 0-20 read only the left half, 21-41 only the right.
    np.testing.assert_allclose(out[:, :21], 60 / 255, rtol=1e-6)
    np.testing.assert_array_equal(out[:, 21:], 0.0)


class _FramesEnv(gym.Env):
    """Emits the given (1, 2, 2) frames in turn, whatever the action."""

    def __init__(self, frames: list[list[float]]) -> None:
        self.frames = [np.array(f, dtype=np.float32).reshape(1, 2, 2) for f in frames]
        self.observation_space = gym.spaces.Box(0.0, 4.0, (1, 2, 2), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(1)
        self.t = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self.frames[0], {}

    def step(self, action):
        self.t += 1
        return self.frames[self.t % len(self.frames)], 0.0, False, False, {}


def test_running_normalisation_by_hand_and_a_seeded_reset_starts_it_afresh():
    env = RunningFrameNormalizer(_FramesEnv([[0, 0, 2, 2], [1, 1, 1, 1]]), alpha=0.5, eps=1e-12)
    # Frame 1: mean 1, std 1. EMAs 0.5 and 0.5, bias correction 1 - 0.5 = 0.5: mean 1, std 1.
    obs, _ = env.reset(seed=0)
    np.testing.assert_allclose(obs.ravel(), [-1, -1, 1, 1])
    # Frame 2: mean 1, std 0. EMAs 0.75 and 0.25, correction 0.75: mean 1, std 1/3.
    obs, *_ = env.step(0)
    np.testing.assert_allclose(obs.ravel(), [0, 0, 0, 0])
    # Frame 1 again, now normalised by mean 1 and std (0.125 + 0.5) / 0.875 = 5/7.
    obs, *_ = env.step(0)
    np.testing.assert_allclose(obs.ravel(), np.array([-1, -1, 1, 1]) * 7 / 5, rtol=1e-6)
    # An unseeded reset (a new episode within a run) keeps the statistics, as the seed's did...
    obs, _ = env.reset()
    assert env.num_steps == 4
    np.testing.assert_allclose(obs.ravel(), np.array([-1, -1, 1, 1]) / ((0.0625 + 0.25 + 0.5) / 0.9375), rtol=1e-6)
    # ...a seeded one starts them afresh, so that the env is reproducible.
    obs, _ = env.reset(seed=1)
    assert env.num_steps == 1
    np.testing.assert_allclose(obs.ravel(), [-1, -1, 1, 1])


def test_the_default_normaliser_is_the_seeds_and_standardises_the_first_frame():
    env = make_atari_env("PongDeterministic-v4", seed=3)
    normaliser = env
    assert isinstance(normaliser, RunningFrameNormalizer) and (normaliser.alpha, normaliser.eps) == (0.9999, 1e-8)
    obs, _ = env.reset()
    # At t = 1 the bias-corrected statistics are the frame's own: a standardised frame.
    assert obs.shape == (1, 42, 42) and obs.dtype == np.float32
    assert abs(float(obs.mean())) < 1e-4 and float(obs.std()) == pytest.approx(1.0, abs=1e-4)
    env.close()


_CHECKER_ADVICE = "is different from the unwrapped version"
"""check_env's advice whenever it is given a wrapped env, which every env that we ship is."""


@pytest.mark.parametrize(
    "make",
    [
        lambda: make_atari_env("PongDeterministic-v4", seed=0),
        lambda: make_atari_env("ALE/Pong-v5", seed=0),
        lambda: make_atari_env("BreakoutDeterministic-v4", seed=0),  # FIRE at each life's start
        lambda: make_corridor(0),
    ],
    ids=["pong-deterministic", "pong-sticky", "breakout", "corridor"],
)
def test_gymnasiums_env_checker_passes_with_no_warning_of_ours(make):
    env = make()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env, skip_render_check=True)
        # The spec rebuilds the same stack, wrappers included (and renders, where the env can).
        renders = "rgb_array" in env.metadata.get("render_modes", [])
        again = env.spec.make(render_mode="rgb_array") if renders else env.spec.make()
    ours = [str(w.message) for w in caught if _CHECKER_ADVICE not in str(w.message)]
    assert ours == []
    assert [type(e) for e in _stack(again)] == [type(e) for e in _stack(env)]
    first, _ = env.reset(seed=5)
    rebuilt, _ = again.reset(seed=5)
    np.testing.assert_array_equal(first, rebuilt)
    if renders:
        assert again.render().ndim == 3
    env.close()
    again.close()


def _stack(env: gym.Env) -> list[gym.Env]:
    found = [env]
    while hasattr(env, "env"):
        env = env.env
        found.append(env)
    return found


def test_same_seed_same_observations_with_sticky_actions():
    def trajectory(seed: int) -> np.ndarray:
        env = make_atari_env("ALE/Pong-v5", seed=seed)
        obs, _ = env.reset()
        frames = [obs]
        for t in range(150):
            obs, *_ = env.step(t % 6)
            frames.append(obs)
        env.close()
        return np.stack(frames)

    a, b, c = trajectory(11), trajectory(11), trajectory(12)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_the_package_exports_what_a_user_needs_for_their_own_loop():
    import a3c

    for name in ("make_atari_env", "ActorCritic", "SharedAdam", "SharedRMSprop"):
        assert name in a3c.__all__
    env = a3c.make_atari_env("PongNoFrameskip-v4", seed=0)
    obs, _ = env.reset()
    assert obs.shape == (1, 42, 42) and obs.dtype == np.float32
    assert env.unwrapped._frameskip == 1
    env.close()


def test_fire_is_pressed_only_in_games_that_wait_for_it():
    from a3c.algorithm.envs.atari import waits_for_fire
    from a3c.algorithm.envs.wrappers import FireAtLifeStart

    assert waits_for_fire("Breakout") and not waits_for_fire("Pong")

    def wrappers(env):
        return [type(e) for e in _stack(env)]

    assert FireAtLifeStart not in wrappers(make_atari_env("PongDeterministic-v4", seed=0))  # the seed's Pong, untouched
    assert FireAtLifeStart in wrappers(make_atari_env("BreakoutDeterministic-v4", seed=0))


def test_breakout_relaunches_the_ball_after_every_lost_life():
    import gymnasium as gym

    from a3c.algorithm.envs.wrappers import FireAtLifeStart

    # A policy that never presses FIRE: without the wrapper the first ball never launches.
    raw = gym.make("ALE/Breakout-v5", frameskip=4, repeat_action_probability=0.0)
    raw.reset(seed=0)
    assert all(not raw.step(0)[2] for _ in range(600))
    assert raw.unwrapped.ale.lives() == 5

    env = FireAtLifeStart(gym.make("ALE/Breakout-v5", frameskip=4, repeat_action_probability=0.0), fire_action=1)
    env.reset(seed=0)
    lives_seen = []
    for _step in range(3000):
        _, _, terminated, truncated, info = env.step(0)
        lives_seen.append(info["lives"])
        if terminated or truncated:
            break
    assert terminated, "every life should be played out by a NOOP policy once FIRE launches the ball"
    assert sorted(set(lives_seen), reverse=True)[:2] == [5, 4] and lives_seen[-1] == 0


class _SwallowsOneFire(gym.Env):
    """A game of 3 lives that waits for FIRE at each life's start, where a life then lasts 5
    steps. The first FIRE of each wait is lost, as a press is under sticky actions when every
    frame of its step repeats the action before it; a FIRE step scores 10, a played step 1."""

    observation_space = gym.spaces.Box(0.0, 1.0, (1,), dtype=np.float32)
    action_space = gym.spaces.Discrete(2)
    FIRE = 1

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.lives, self.waiting, self.fires, self.played = 3, True, 0, 0
        return np.zeros(1, np.float32), {"lives": self.lives}

    def step(self, action: int):
        reward = 0.0
        if self.waiting:
            if action == self.FIRE:
                self.fires += 1
                reward = 10.0
                self.waiting = self.fires % 2 == 1  # every other press is swallowed
        else:
            self.played += 1
            reward = 1.0
            if self.played % 5 == 0:
                self.lives -= 1
                self.waiting = True
        return np.zeros(1, np.float32), reward, self.lives == 0, False, {"lives": self.lives}


@pytest.mark.parametrize("presses, plays_out", [(2, True), (1, False)])
def test_a_fire_press_lost_to_sticky_actions_does_not_leave_the_ball_waiting(monkeypatch, presses, plays_out):
    from a3c.algorithm.envs.wrappers import FireAtLifeStart

    monkeypatch.setattr(FireAtLifeStart, "PRESSES", presses)
    env = FireAtLifeStart(_SwallowsOneFire(), fire_action=_SwallowsOneFire.FIRE)
    env.reset(seed=0)
    rewards, terminated = [], False
    for _ in range(50):  # a policy that never presses FIRE itself
        _, reward, terminated, _, info = env.step(0)
        rewards.append(reward)
        if terminated:
            break
    # Two presses launch every life: 15 played steps, each life's loss carrying the next life's
    # FIRE presses' 20 (the last life's end ends the game, so no presses follow it).
    assert terminated == plays_out
    if plays_out:
        assert len(rewards) == 15 and sum(rewards) == 15 + 2 * 20
    else:  # one press: the ball never launches, and the game stands still to the cap
        assert info["lives"] == 3 and sum(rewards) == 0
