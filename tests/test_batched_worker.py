"""Batched workers (--envs-per-worker K): same losses as K=1 on the same data, shapes, LSTM resets."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from conftest import ScriptedRewardEnv
from test_worker import GradientSpy

from a3c.algorithm.config import TrainConfig
from a3c.algorithm.losses import a3c_loss
from a3c.algorithm.model import MLPActorCritic
from a3c.algorithm.optim import SharedAdam
from a3c.algorithm.seeding import seed_process
from a3c.algorithm.task import Task, corridor_task, make_vector_env, mlp_model
from a3c.algorithm.worker import BatchedWorker, GroupedWorker, Rollout, Worker
from a3c.backends.local import build_worker
from a3c.runtime.shared import SharedState, process_context

GAMMA, LAMBDA, ENTROPY = 0.95, 0.9, 0.01


def _corridor_like_rollout(T: int = 4, K: int = 2) -> Rollout:
    """Env 0 runs all 4 steps; env 1's episode ends after step 1 and a new one starts."""
    g = torch.Generator().manual_seed(0)
    log_probs, entropies, values = (torch.randn(T, K, generator=g) for _ in range(3))
    rewards = torch.tensor([[1.0, 0.0], [0.0, -1.0], [-1.0, 1.0], [0.0, 0.0]])
    dones = torch.zeros(T, K, dtype=torch.bool)
    dones[1, 1] = True
    return Rollout(log_probs, entropies, values, rewards, torch.randn(K, generator=g), done=False, dones=dones)


def test_the_batched_loss_is_the_mean_over_envs_of_the_classic_losses_of_the_same_data():
    """The classic worker would see env 1's data as two rollouts: steps 0-1 (terminal) and 2-3
    (bootstrapped). Worker.loss sums each env's classic losses over its steps and divides by K."""
    r = _corridor_like_rollout()
    K = r.rewards.shape[1]

    def classic(k: int, steps: slice, boot: torch.Tensor):
        return a3c_loss(
            r.log_probs[steps, k : k + 1], r.entropies[steps, k : k + 1], r.values[steps, k : k + 1],
            r.rewards[steps, k : k + 1], boot, None, GAMMA, LAMBDA, ENTROPY,
        )

    parts = [classic(0, slice(0, 4), r.bootstrap_value[0:1]), classic(1, slice(0, 2), torch.zeros(1)), classic(1, slice(2, 4), r.bootstrap_value[1:2])]
    config = TrainConfig(env_name="Corridor", num_processes=1, gamma=GAMMA, gae_lambda=LAMBDA, entropy_coef=ENTROPY, envs_per_worker=K)
    worker = object.__new__(Worker)  # Worker.loss reads only the config
    worker.config = config
    batched = worker.loss(r)
    for name in ("policy_loss", "value_loss", "entropy"):
        expected = sum(float(getattr(p, name)) for p in parts) / K
        assert float(getattr(batched, name)) == pytest.approx(expected, abs=1e-5), name
    torch.testing.assert_close(batched.advantages[:2, 1], parts[1].advantages.squeeze(1))
    torch.testing.assert_close(batched.advantages[2:, 1], parts[2].advantages.squeeze(1))


def test_the_worker_normalizes_advantages_over_its_whole_rollout_when_configured():
    """--normalize-advantages: the K x T advantages are normalised together (not env by env), and
    only the policy term changes."""
    r = _corridor_like_rollout()
    K = r.rewards.shape[1]
    worker = object.__new__(Worker)
    worker.config = TrainConfig(env_name="Corridor", num_processes=1, gamma=GAMMA, gae_lambda=LAMBDA, entropy_coef=ENTROPY,
                                envs_per_worker=K)
    plain = worker.loss(r)
    worker.config = dataclasses.replace(worker.config, normalize_advantages=True)
    normed = worker.loss(r)
    adv = plain.advantages
    weights = (adv - adv.mean()) / adv.std()
    expected = (-(r.log_probs * weights).sum() - ENTROPY * r.entropies.sum()) / K
    assert float(normed.policy_loss) == pytest.approx(float(expected), abs=1e-5)
    assert float(normed.policy_loss) != pytest.approx(float(plain.policy_loss), abs=1e-3)
    assert float(normed.value_loss) == pytest.approx(float(plain.value_loss))


def test_k_equals_one_builds_the_classic_worker():
    shared = SharedState.create(MLPActorCritic(10, 3), None, process_context())
    config = TrainConfig(env_name="Corridor", num_processes=1, envs_per_worker=1)
    worker = build_worker(0, config, corridor_task(), shared)
    assert type(worker) is Worker
    worker = build_worker(0, TrainConfig(env_name="Corridor", num_processes=1, envs_per_worker=3), corridor_task(), shared)
    assert isinstance(worker, BatchedWorker) and worker.num_envs == 3


def _scripted_env(seed: int) -> ScriptedRewardEnv:
    # env seeded i*... gets an episode of 2 + (seed % 1000) steps with big rewards to clip
    return ScriptedRewardEnv([5.0] * (2 + seed % 1000))


class HiddenRecorder(MLPActorCritic):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.calls = []

    def forward(self, obs, hidden=None):
        self.calls.append(hidden)
        return super().forward(obs, hidden)


def test_batched_rollout_shapes_counting_clipping_and_lstm_resets():
    seed_process(0)
    config = TrainConfig(env_name="Scripted", num_processes=1, num_steps=4, envs_per_worker=3)
    envs = make_vector_env(Task("Scripted", _scripted_env, mlp_model), [0, 1, 2], max_episode_length=1000)
    shared = SharedState.create(MLPActorCritic(4, 2), None, process_context())
    local = HiddenRecorder(4, 2)
    worker = BatchedWorker(config, envs, local, shared.worker_link(0, 10**9), SharedAdam(shared.model.parameters()))
    rollout = worker.rollout()
    for tensor in (rollout.log_probs, rollout.entropies, rollout.values, rollout.rewards, rollout.dones):
        assert tensor.shape == (4, 3)
    assert rollout.bootstrap_value.shape == (3,)
    assert shared.global_step == 12
    assert torch.all(rollout.rewards == 1.0)  # clipped from 5
    # episodes of 2, 3 and 4 steps
    expected_dones = torch.tensor([[0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 0, 1]], dtype=torch.bool)
    assert torch.equal(rollout.dones, expected_dones)
    assert sorted(rollout.episode_returns) == [10.0, 10.0, 15.0, 20.0]
    # The forward pass after env 0's episode ended (step 2) gets a zero state for env 0 only.
    hx, _ = local.calls[2]
    assert torch.count_nonzero(hx[0]) == 0 and torch.count_nonzero(hx[1]) > 0 and torch.count_nonzero(hx[2]) > 0
    # Across rollouts the state is carried, detached.
    worker.rollout()
    assert local.calls[5][0].grad_fn is None


def test_batched_update_is_applied_clipped_and_counts_k_times_t_steps():
    seed_process(0)
    config = TrainConfig(env_name="Corridor", num_processes=1, num_steps=5, envs_per_worker=4)
    shared_model = MLPActorCritic(10, 3)
    optimizer = torch.optim.SGD(shared_model.parameters(), lr=1.0)
    shared = SharedState.create(shared_model, optimizer, process_context())
    worker = build_worker(0, config, corridor_task(), shared)
    for _ in range(3):
        before = [p.detach().clone() for p in shared_model.parameters()]
        stats = worker.update()
        assert stats.applied and stats.steps == 20
        delta = torch.cat([(b - p.detach()).flatten() for p, b in zip(shared_model.parameters(), before, strict=False)])
        assert 0 < delta.norm().item() <= config.max_grad_norm * 1.0001
    assert shared.global_step == 60


def _twin_workers(worker_classes, config, envs_per_worker: int):
    """Workers of the given classes with the same weights and the same scripted envs."""
    seed_process(0)
    template = MLPActorCritic(4, 2)
    workers = []
    for cls in worker_classes:
        envs = make_vector_env(Task("Scripted", _scripted_env, mlp_model), list(range(envs_per_worker)), max_episode_length=1000)
        shared = SharedState.create(MLPActorCritic(4, 2), None, process_context())
        shared.model.load_state_dict(template.state_dict())
        local = MLPActorCritic(4, 2)
        local.load_state_dict(template.state_dict())
        workers.append(cls(config, envs, local, shared.worker_link(0, 10**9), None))
    return workers


def test_one_group_recomputes_exactly_the_batched_workers_rollout():
    """With one group, acting without a graph and replaying with one gives the batched worker's
    rollout on the same data: log-probs, entropies, values, bootstrap, rewards and episode ends,
    across episode ends inside a rollout (LSTM resets) and across rollouts (the carried state)."""
    config = TrainConfig(env_name="Scripted", num_processes=1, num_steps=4, envs_per_worker=4, update_groups=1)
    batched, grouped = _twin_workers([BatchedWorker, GroupedWorker], config, 4)
    for _ in range(3):
        seed_process(1)
        expected = batched.rollout()
        seed_process(1)
        got = grouped.rollout()
        for name in ("log_probs", "entropies", "values", "rewards", "bootstrap_value"):
            torch.testing.assert_close(getattr(got, name), getattr(expected, name), msg=name)
        assert torch.equal(got.dones, expected.dones) and got.dones.any()
        assert sorted(got.episode_returns) == sorted(expected.episode_returns)


class GroupSpyWorker(GradientSpy, GroupedWorker):
    """Records the clipped gradient of exactly each group's loss, and the group's width."""

    widths: list[int]

    def loss(self, rollout):
        self.widths = [*getattr(self, "widths", []), rollout.rewards.shape[1]]
        return super().loss(rollout)


def test_each_grouped_update_applies_exactly_its_own_groups_gradient():
    """K=4 envs in 2 groups: each rollout of 4 x 5 steps gives 2 updates, each moving the shared
    weights by exactly its own group's clipped gradient (SGD, lr 1), computed from its 2 envs only."""
    seed_process(0)
    lr = 1.0
    config = TrainConfig(env_name="Corridor", num_processes=1, num_steps=5, envs_per_worker=4, update_groups=2, lr=lr, max_grad_norm=0.5)
    shared_model = MLPActorCritic(10, 3)
    optimizer = torch.optim.SGD(shared_model.parameters(), lr=lr)
    shared = SharedState.create(shared_model, optimizer, process_context())
    envs = make_vector_env(corridor_task(), [0, 1, 2, 3], max_episode_length=1000)
    worker = GroupSpyWorker(config, envs, MLPActorCritic(10, 3), shared.worker_link(0, 10**9), optimizer)
    gradients = []
    for update in range(6):
        before = [p.detach().clone() for p in shared_model.parameters()]
        stats = worker.update()
        assert stats.applied and stats.steps == 2 * 5
        for p, b, g in zip(shared_model.parameters(), before, worker.expected, strict=False):
            torch.testing.assert_close((b - p.detach()) / lr, g, rtol=1e-4, atol=1e-6, msg=f"update {update}")
        gradients.append(torch.cat([g.flatten() for g in worker.expected]))
        # The envs act once per rollout: 20 steps counted at each rollout's first group only.
        assert shared.global_step == 20 * (update // 2 + 1)
    assert worker.widths == [2] * 6
    assert all(not torch.equal(a, b) for a, b in zip(gradients[::2], gradients[1::2], strict=True))  # two groups, two gradients

    # A group's replay depends on its own envs only: replaying all 4 gives the same rows.
    assert worker.experience is not None
    with torch.no_grad():
        whole = worker.replay(worker.experience, slice(0, 4), [])
        second = worker.replay(worker.experience, slice(2, 4), [])
    torch.testing.assert_close(whole.log_probs[:, 2:], second.log_probs)
    torch.testing.assert_close(whole.values[:, 2:], second.values)


def test_update_groups_must_divide_the_envs():
    from a3c.errors import UserError

    with pytest.raises(UserError, match="--update-groups 3 must divide --envs-per-worker 8"):
        TrainConfig(envs_per_worker=8, update_groups=3).validate()
    config = TrainConfig(env_name="Corridor", num_processes=1, envs_per_worker=4, update_groups=2)
    shared = SharedState.create(MLPActorCritic(10, 3), None, process_context())
    assert type(build_worker(0, config, corridor_task(), shared)) is GroupedWorker
