import cv2
import gymnasium as gym
import numpy as np
import pytest

from a3c.envs import make_atari_env, process_frame42, resolve_env_id
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


def _seed_reference_frame(frame: np.ndarray) -> np.ndarray:
    """The seed notebook's _process_frame42, step by step as spec.md lists it."""
    frame = frame[34 : 34 + 160, :160]
    frame = cv2.resize(frame, (80, 80))
    frame = cv2.resize(frame, (42, 42))
    frame = frame.mean(2, keepdims=True).astype(np.float32) * (1.0 / 255.0)
    return np.moveaxis(frame, -1, 0)


def test_frame_preprocessing_crops_the_score_bar_and_scales_to_unit_range():
    frame = np.zeros((210, 160, 3), dtype=np.uint8)
    frame[:34] = 255  # score area, cropped away
    frame[194:] = 255  # bottom border, cropped away
    assert process_frame42(frame).max() == 0.0
    frame[100:120, 40:60] = (255, 0, 0)  # a red block inside the playfield
    out = process_frame42(frame)
    assert out.shape == (1, 42, 42) and out.dtype == np.float32
    assert 0.0 < out.max() <= 1.0 / 3.0 + 1e-6  # grey = mean of channels


def test_observations_match_the_seed_pipeline_with_running_normalisation():
    """Replay the same actions on a raw env and on ours; apply the seed's formula by hand."""
    ours = make_atari_env("PongDeterministic-v4", seed=3)
    raw = gym.make("ALE/Pong-v5", frameskip=4, repeat_action_probability=0.0)
    raw.reset(seed=3)
    obs, _ = ours.reset()
    frame, _ = raw.reset()
    alpha, mean, std = 0.9999, 0.0, 0.0
    rng = np.random.default_rng(0)
    for t in range(1, 60):
        x = _seed_reference_frame(frame)
        mean = mean * alpha + x.mean() * (1 - alpha)
        std = std * alpha + x.std() * (1 - alpha)
        expected = (x - mean / (1 - alpha**t)) / (std / (1 - alpha**t) + 1e-8)
        assert obs.shape == (1, 42, 42) and obs.dtype == np.float32
        np.testing.assert_allclose(obs, expected, rtol=1e-4, atol=1e-4)
        action = int(rng.integers(6))
        obs, *_ = ours.step(action)
        frame, *_ = raw.step(action)
    ours.close()
    raw.close()


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
    from a3c.envs.atari import waits_for_fire
    from a3c.envs.wrappers import FireAtLifeStart

    assert waits_for_fire("Breakout") and not waits_for_fire("Pong")

    def wrappers(env):
        found = []
        while hasattr(env, "env"):
            found.append(type(env))
            env = env.env
        return found

    assert FireAtLifeStart not in wrappers(make_atari_env("PongDeterministic-v4", seed=0))  # the seed's Pong, untouched
    assert FireAtLifeStart in wrappers(make_atari_env("BreakoutDeterministic-v4", seed=0))


def test_breakout_relaunches_the_ball_after_every_lost_life():
    import gymnasium as gym

    from a3c.envs.wrappers import FireAtLifeStart

    # A policy that never presses FIRE: without the wrapper the first ball never launches.
    raw = gym.make("ALE/Breakout-v5", frameskip=4, repeat_action_probability=0.0)
    raw.reset(seed=0)
    assert all(not raw.step(0)[2] for _ in range(600))
    assert raw.unwrapped.ale.lives() == 5

    env = FireAtLifeStart(gym.make("ALE/Breakout-v5", frameskip=4, repeat_action_probability=0.0), fire_action=1)
    env.reset(seed=0)
    lives_seen = []
    for step in range(3000):
        _, _, terminated, truncated, info = env.step(0)
        lives_seen.append(info["lives"])
        if terminated or truncated:
            break
    assert terminated, "every life should be played out by a NOOP policy once FIRE launches the ball"
    assert sorted(set(lives_seen), reverse=True)[:2] == [5, 4] and lives_seen[-1] == 0
