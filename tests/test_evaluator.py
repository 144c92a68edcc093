import datetime as dt
import re

import gymnasium as gym
import numpy as np
import pytest
import torch
from conftest import ScriptedRewardEnv

from a3c.algorithm.evaluation import STUCK_REPEATS, play_greedy_episode, play_greedy_round
from a3c.algorithm.model import MLPActorCritic
from a3c.runtime.run_dir import default_run_dir


class FixedPolicy(MLPActorCritic):
    """Greedy action = ``action_fn(step)``."""

    def __init__(self, action_fn):
        super().__init__(4, 2)
        self.action_fn = action_fn
        self.t = 0

    def forward(self, obs, hidden=None):
        value, logits, hidden = super().forward(obs, hidden)
        logits = torch.zeros_like(logits)
        logits[0, self.action_fn(self.t)] = 1.0
        self.t += 1
        return value, logits, hidden


def test_the_seeds_stuck_guard_ends_an_episode_after_100_identical_actions():
    env = ScriptedRewardEnv([1.0] * 1000)
    result = play_greedy_episode(FixedPolicy(lambda t: 0), env, max_episode_length=10_000, stuck_guard="actions")
    assert result.ended_by == "stuck" and result.length == STUCK_REPEATS == 100
    assert result.reward == 100.0
    # A change of action starts the count again.
    result = play_greedy_episode(FixedPolicy(lambda t: int(t == 50)), env, max_episode_length=10_000, stuck_guard="actions")
    assert result.ended_by == "stuck" and result.length == 151


class StillAfterEnv(ScriptedRewardEnv):
    """Its observation (its screen) changes every step until step ``still_from``, then stands still."""

    def __init__(self, length, still_from):
        super().__init__([1.0] * length)
        self.still_from = still_from

    def _obs(self):
        return np.full(self.observation_space.shape, np.sin(min(self.t, self.still_from)), dtype=np.float32)


def test_the_screen_guard_lets_one_held_action_play_on_and_ends_a_still_screen_whatever_the_actions():
    # Holding one action on a moving screen is play (firing in SpaceInvaders): the episode goes on to its end.
    result = play_greedy_episode(FixedPolicy(lambda t: 0), ScriptedRewardEnv([1.0] * 1000), 10_000, stuck_guard="screen")
    assert (result.ended_by, result.length, result.reward) == ("terminated", 1000, 1000.0)
    # A screen that stands still (a game waiting for FIRE) ends the episode 100 steps after it last
    # changed, even though the actions vary.
    result = play_greedy_episode(FixedPolicy(lambda t: t % 2), StillAfterEnv(1000, 300), 10_000, stuck_guard="screen")
    assert (result.ended_by, result.length) == ("stuck", 300 + STUCK_REPEATS)
    # Still from the reset on: 100 steps, none of them moving.
    result = play_greedy_episode(FixedPolicy(lambda t: 0), StillAfterEnv(1000, 0), 10_000, stuck_guard="screen")
    assert (result.ended_by, result.length) == ("stuck", STUCK_REPEATS)


def test_varied_actions_play_to_the_end_or_the_length_cap():
    alternating = FixedPolicy(lambda t: t % 2)
    result = play_greedy_episode(alternating, ScriptedRewardEnv([-2.0] * 250), max_episode_length=10_000)
    assert (result.ended_by, result.length, result.reward) == ("terminated", 250, -500.0)  # raw, unclipped
    result = play_greedy_episode(FixedPolicy(lambda t: t % 2), ScriptedRewardEnv([0.0] * 250), max_episode_length=30)
    assert (result.ended_by, result.length) == ("max_length", 30)


def test_should_stop_abandons_the_episode():
    calls = iter(range(1000))
    result = play_greedy_episode(
        FixedPolicy(lambda t: t % 2), ScriptedRewardEnv([0.0] * 250), 10_000, should_stop=lambda: next(calls) >= 5
    )
    assert result is None


class ActionCountingEnv(ScriptedRewardEnv):
    """Scores the action taken (0 or 1) at each step, so that the score says what was played;
    ``phase`` makes each env's observations its own."""

    def __init__(self, length, phase):
        super().__init__([0.0] * length)
        self.phase = phase

    def _obs(self):
        return np.full(self.observation_space.shape, np.sin(self.t * 0.7 + self.phase), dtype=np.float32)

    def step(self, action):
        obs, _, terminated, truncated, info = super().step(action)
        return obs, float(action), terminated, truncated, info


def test_a_round_plays_each_env_as_if_alone_while_its_episodes_end_one_by_one():
    torch.manual_seed(3)
    model = MLPActorCritic(4, 2)
    shapes = [(30, 0.0), (80, 1.3), (55, 2.7), (200, 0.4)]  # lengths: the batch shrinks 4, 3, 2, 1
    alone = [play_greedy_episode(model, ActionCountingEnv(*shape), 10_000) for shape in shapes]
    together = play_greedy_round(model, [ActionCountingEnv(*shape) for shape in shapes], 10_000)
    assert [(r.reward, r.length, r.ended_by) for r in together] == [(r.reward, r.length, r.ended_by) for r in alone]
    # Each episode mixed both actions (its own LSTM state steering it), so the scores check the play.
    assert all(0 < r.reward < r.length for r in alone) and len({r.reward for r in alone}) == len(shapes)
    assert together[-1].ended_by == "terminated" and alone[0].length == 30
    # The round's CPU time is shared out: what the evaluator's share of the run adds up.
    assert len({r.cpu_s for r in together}) == 1


def test_default_run_dir_names_the_env_and_time():
    path = default_run_dir("ALE/Pong-v5", dt.datetime(2026, 11, 25, 14, 5, 9))
    assert str(path) == "runs/ALE-Pong-v5-20261125-140509"


class TrainingInReset(ScriptedRewardEnv):
    """Stands in for the workers, in-process and deterministic: each reset of any of the
    evaluator's envs (all reset right after it syncs) moves the shared weights and the counter on."""

    def __init__(self, shared, scores, resets):
        super().__init__([0.0])
        self.shared = shared
        self.scores = scores
        self.resets = resets
        """One counter for all of the evaluator's envs: ``[resets so far]``."""

    def reset(self, *, seed=None, options=None):
        self.resets[0] += 1
        episode = self.resets[0]
        # By default later episodes score higher.
        self.rewards = [float(episode) if self.scores is None else self.scores[episode - 1]]
        with torch.no_grad():
            self.shared.model.critic_linear.bias.fill_(episode)
        self.shared.add_steps(10)
        return super().reset(seed=seed)


def _run_evaluator(tmp_path, eval_episodes, scores=None):
    """The evaluation process, in this process, against TrainingInReset, until step 50."""
    import functools

    from a3c.algorithm.config import TrainConfig
    from a3c.algorithm.task import Task, mlp_model
    from a3c.backends.local import evaluator_main
    from a3c.runtime.run_dir import RunDir
    from a3c.runtime.shared import SharedState, process_context

    shared = SharedState.create(MLPActorCritic(4, 2), None, process_context())
    make_env = functools.partial(lambda seed, resets: TrainingInReset(shared, scores, resets), resets=[0])
    task = Task("Scripted", make_env, mlp_model)
    run = RunDir(tmp_path).create(force=True)
    run.start_metrics()
    config = TrainConfig(env_name="Scripted", num_processes=2, max_steps=50, eval_episodes=eval_episodes)
    evaluator_main(2, config, task, shared, str(tmp_path), 0.0)
    return shared, run


def test_evaluator_syncs_at_each_episode_start_logs_and_keeps_the_best_weights(tmp_path, capsys):
    import csv

    from a3c.runtime.checkpoint import load_checkpoint
    from a3c.runtime.messages import eval_line

    shared, run = _run_evaluator(tmp_path, eval_episodes=1)  # the seed's evaluator: every episode a round

    rows = list(csv.DictReader(run.metrics_path.open()))
    # Episode k syncs weights that the previous reset wrote (bias k - 1, step 10 (k - 1)); the
    # fifth reset reaches max_steps, so that episode is abandoned.
    assert [int(r["weights_step"]) for r in rows] == [0, 10, 20, 30]
    assert [float(r["episode_reward"]) for r in rows] == [1.0, 2.0, 3.0, 4.0]
    best = load_checkpoint(run.best_path)
    assert best["eval_reward"] == 4.0 and best["global_step"] == 30
    assert best["model"]["critic_linear.bias"].item() == 3.0
    # One report per episode goes to the trainer, which prints the seed's line for it.
    reports = _drain_all(shared.events, 4)
    assert [(r.reward, r.length, r.ended_by) for r in reports] == [(float(k), 1, "terminated") for k in (1, 2, 3, 4)]
    assert re.fullmatch(r"Time \d\dh \d\dm \d\ds, num steps 20, FPS \d+, episode reward 2, episode length 1", eval_line(reports[1]))


def test_best_goes_by_the_round_mean_so_a_lucky_episode_does_not_win(tmp_path):
    import csv

    from a3c.runtime.checkpoint import load_checkpoint
    from a3c.runtime.messages import eval_line
    from a3c.runtime.run_dir import eval_rounds

    # Rounds of 2: episodes 1-2 play the weights of step 0 and score 10 and -10 (mean 0); episodes
    # 3-4 play the weights of step 20 and score 2 and 2 (mean 2). The fifth reset reaches max_steps,
    # so the third round is abandoned.
    shared, run = _run_evaluator(tmp_path, eval_episodes=2, scores=[10.0, -10.0, 2.0, 2.0, 0.0, 0.0])
    rows = list(csv.DictReader(run.metrics_path.open()))
    assert [int(r["weights_step"]) for r in rows] == [0, 0, 20, 20]  # one weights copy per round
    assert [[float(r["episode_reward"]) for r in played] for played in eval_rounds(rows, 2)] == [[10.0, -10.0], [2.0, 2.0]]
    best = load_checkpoint(run.best_path)
    assert best["eval_reward"] == 2.0 and best["global_step"] == 20
    assert best["model"]["critic_linear.bias"].item() == 2.0  # the second round's weights, not the lucky 10's
    reports = _drain_all(shared.events, 4)
    assert [r.round_mean for r in reports] == [None, 0.0, None, 2.0]
    assert eval_line(reports[3]).endswith("; greedy mean 2.00 +- 0.00 over 2 episodes (weights of step 20)")


def test_eval_rounds_leave_out_a_round_that_a_stop_cut_short():
    from a3c.runtime.run_dir import eval_rounds

    def rows(*steps):
        return [{"weights_step": str(s), "episode_reward": i} for i, s in enumerate(steps)]

    # Rounds of 3: [0,0,0] complete; [30,30] cut by a restart; [60,60,60] complete; two rounds of
    # the same weights (no training between) split by size; the last [90] unfinished.
    got = eval_rounds(rows(0, 0, 0, 30, 30, 60, 60, 60, 60, 60, 60, 90), 3)
    assert [[r["weights_step"] for r in played] for played in got] == [["0"] * 3, ["60"] * 3, ["60"] * 3]
    assert [len(played) for played in eval_rounds(rows(0, 10, 20), 1)] == [1, 1, 1]


def _drain_all(events, count: int, timeout_s: float = 60.0) -> list:
    """The queue's feeder thread delivers asynchronously: wait for ``count`` messages (as long as a
    loaded machine may need; it returns as soon as they are there)."""
    import time

    from a3c.runtime.messages import drain

    got, deadline = [], time.monotonic() + timeout_s
    while len(got) < count and time.monotonic() < deadline:
        got += drain(events)
        time.sleep(0.01)
    return got


class MovingScreenOneAction(ScriptedRewardEnv):
    """A screen that changes at every step, one action, no end: the screen guard never fires and
    the seed's (one action repeated) always does. Each reset moves the run on 30 steps."""

    def __init__(self, shared=None):
        super().__init__([0.0] * 10**6)
        self.action_space = gym.spaces.Discrete(1)
        self.shared = shared

    def reset(self, *, seed=None, options=None):
        if self.shared is not None:
            self.shared.add_steps(30)
        return super().reset(seed=seed)


@pytest.mark.parametrize("rule, ended_by, length", [("screen", "max_length", 300), ("actions", "stuck", STUCK_REPEATS)])
def test_the_evaluation_process_plays_under_the_runs_stuck_guard(tmp_path, rule, ended_by, length):
    import csv
    import functools

    from a3c.algorithm.config import TrainConfig
    from a3c.algorithm.task import Task, mlp_model
    from a3c.backends.local import evaluator_main
    from a3c.runtime.run_dir import RunDir
    from a3c.runtime.shared import SharedState, process_context

    shared = SharedState.create(MLPActorCritic(4, 1), None, process_context())
    task = Task("Scripted", functools.partial(_moving_screen, shared=shared), mlp_model)
    run = RunDir(tmp_path).create(force=True)
    run.start_metrics()
    config = TrainConfig(env_name="Scripted", num_processes=2, max_steps=50, eval_episodes=1, stuck_guard=rule, max_episode_length=300)
    evaluator_main(2, config, task, shared, str(tmp_path), 0.0)
    rows = list(csv.DictReader(run.metrics_path.open()))
    assert rows and all((r["ended_by"], int(r["episode_length"])) == (ended_by, length) for r in rows)


def _moving_screen(seed, shared=None):
    return MovingScreenOneAction(shared)


class SeedRecordingTraining(TrainingInReset):
    """TrainingInReset that records, at each reset, the seed it was built with and the one it was
    reset with."""

    def __init__(self, shared, resets, built_with, seen):
        super().__init__(shared, None, resets)
        self.built_with = built_with
        self.seen = seen

    def reset(self, *, seed=None, options=None):
        self.seen.append((self.built_with, seed))
        return super().reset(seed=seed, options=options)


def _evaluator_seeds_seen(eval_episodes, play):
    """The (built with, reset with) seed pairs of every reset in the evaluation rounds that
    ``play(config, task, shared)`` plays, against SeedRecordingTraining, until step 50."""
    from a3c.algorithm.config import TrainConfig
    from a3c.algorithm.task import Task, mlp_model
    from a3c.runtime.shared import SharedState, process_context

    shared = SharedState.create(MLPActorCritic(4, 2), None, process_context())
    resets: list[int] = [0]
    seen: list[tuple[int, int | None]] = []
    task = Task("Scripted", lambda seed: SeedRecordingTraining(shared, resets, seed, seen), mlp_model)
    config = TrainConfig(env_name="Scripted", num_processes=2, max_steps=50, eval_episodes=eval_episodes, seed=7)
    play(config, task, shared)
    return config, seen


@pytest.mark.parametrize("eval_episodes", [1, 3])
def test_every_round_resets_each_env_with_its_seed_so_the_normaliser_starts_afresh(tmp_path, eval_episodes):
    """A round's episodes must depend on its weights alone: an env reset without its seed keeps the
    running normaliser of the episodes before, and one long greedy Pong episode shifted it so far
    that the later episodes of the run were 21-0 losses."""
    from a3c.algorithm.evaluation import evaluator_seeds
    from a3c.backends.local import evaluator_main
    from a3c.runtime.run_dir import RunDir

    def local(config, task, shared):
        RunDir(tmp_path).create(force=True).start_metrics()
        evaluator_main(2, config, task, shared, str(tmp_path), 0.0)

    config, seen = _evaluator_seeds_seen(eval_episodes, local)
    seeds = evaluator_seeds(2, config)
    assert len(seeds) == eval_episodes == len(set(seeds)) and (eval_episodes > 1 or seeds == [7 + 2])
    assert len(seen) >= 2 * eval_episodes  # two rounds at least: the later ones are seeded too
    assert {built for built, _ in seen} == set(seeds)
    assert all(reset_with == built for built, reset_with in seen)


def test_the_ray_evaluator_resets_each_env_with_its_seed_every_round(monkeypatch):
    ray = pytest.importorskip("ray")
    from a3c.algorithm.evaluation import evaluator_seeds
    from a3c.backends.ray.actors import Evaluator, flat_parameters

    class NoNode:
        @staticmethod
        def get_node_id():
            return "node"

    monkeypatch.setattr(ray, "get_runtime_context", lambda: NoNode())

    def rounds(config, task, shared):
        evaluator = Evaluator(task)
        evaluator.start(config)
        while not shared.should_stop(config.max_steps):
            evaluator.play(flat_parameters(shared.model))

    config, seen = _evaluator_seeds_seen(2, rounds)
    assert len(seen) >= 6 and {built for built, _ in seen} == set(evaluator_seeds(2, config))
    assert all(reset_with == built for built, reset_with in seen)
