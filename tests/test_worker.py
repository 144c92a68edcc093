"""The Hogwild! worker: gradient hand-off, LSTM state, reward clipping, counting, processes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import ScriptedRewardEnv

from a3c.algorithm.config import TrainConfig
from a3c.algorithm.envs import make_corridor
from a3c.algorithm.model import MLPActorCritic
from a3c.algorithm.optim import SharedAdam, SharedRMSprop
from a3c.algorithm.seeding import seed_process
from a3c.algorithm.worker import Worker, optimizer_params
from a3c.runtime.shared import SharedState, process_context


def _shared(model: torch.nn.Module, optimizer=None) -> SharedState:
    return SharedState.create(model, optimizer, process_context())


class GradientSpy:
    """Mixed into a worker class: records, for each rollout, the clipped gradient of exactly that
    rollout's loss."""

    expected: list[torch.Tensor]

    def loss(self, rollout):
        losses = super().loss(rollout)
        total = losses.total(self.config.value_loss_coef)
        params = list(self.model.parameters())
        grads = torch.autograd.grad(total, params, retain_graph=True, allow_unused=True)
        grads = [torch.zeros_like(p) if g is None else g for p, g in zip(params, grads, strict=False)]
        norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
        scale = min(1.0, self.config.max_grad_norm / (float(norm) + 1e-6))
        self.expected = [g * scale for g in grads]
        return losses


class GradientSpyWorker(GradientSpy, Worker):
    """The classic worker, recording each rollout's clipped gradient."""


def _check_each_update_applies_exactly_that_rollouts_gradient(worker_class: type[GradientSpyWorker], max_grad_norm: float) -> None:
    """SGD(lr) makes each update's parameter change -lr * the gradient it applied: any piling up
    of grads across updates, or grads that stop flowing after the first update, shows here."""
    seed_process(0)
    lr = 1.0  # large steps keep float32 round-off far below the gradients being compared
    config = TrainConfig(env_name="Corridor", num_steps=5, max_grad_norm=max_grad_norm, num_processes=1, lr=lr)
    shared_model = MLPActorCritic(10, 3)
    optimizer = torch.optim.SGD(shared_model.parameters(), lr=lr)
    shared = _shared(shared_model, optimizer)
    worker = worker_class(config, make_corridor(0), MLPActorCritic(10, 3), shared.worker_link(0, 10**9), optimizer)
    for update in range(6):
        before = [p.detach().clone() for p in shared_model.parameters()]
        stats = worker.update()
        assert stats.applied
        for p, b, g in zip(shared_model.parameters(), before, worker.expected, strict=False):
            torch.testing.assert_close((b - p.detach()) / lr, g, rtol=1e-4, atol=1e-6, msg=f"update {update}")
        assert any(g.abs().sum() > 0 for g in worker.expected)


@pytest.mark.parametrize("max_grad_norm", [50.0, 0.05])
def test_each_update_applies_exactly_that_rollouts_gradient(max_grad_norm):
    _check_each_update_applies_exactly_that_rollouts_gradient(GradientSpyWorker, max_grad_norm)
    # and no reference to a rollout's gradient is left on the shared model for a later step
    shared_model = MLPActorCritic(10, 3)
    link = _shared(shared_model).worker_link(0, 10**9)
    config = TrainConfig(env_name="Corridor", num_processes=1)
    worker = Worker(config, make_corridor(0), MLPActorCritic(10, 3), link, torch.optim.SGD(shared_model.parameters(), lr=0.1))
    worker.update()
    assert all(p.grad is None for p in shared_model.parameters())


class SeedEraHandOffWorker(GradientSpyWorker):
    """The seed's update under PyTorch 2: ``ensure_shared_grads`` assigns a shared grad only when
    it is None, the local ``zero_grad()`` now sets grads to None, and nothing drops the shared ones."""

    def apply_gradients(self) -> None:
        for local, shared in zip(self.model.parameters(), optimizer_params(self.optimizer), strict=False):
            if shared.grad is not None:
                break
            shared._grad = local.grad
        self.optimizer.step()


def test_the_exactness_check_catches_the_seed_era_hand_off():
    """Guard the guard: the check above fails on the hand-off that silently broke in PyTorch 2
    (the shared grads stay those of the first rollout)."""
    with pytest.raises(AssertionError, match="update 1"):
        _check_each_update_applies_exactly_that_rollouts_gradient(SeedEraHandOffWorker, 50.0)


def test_no_shared_gives_the_worker_a_private_optimiser_over_the_shared_weights():
    from a3c.algorithm.task import corridor_task
    from a3c.backends.local import build_worker

    config = TrainConfig(env_name="Corridor", num_processes=1, num_steps=5, optimizer="rmsprop", no_shared=True, lr=0.01)
    shared = _shared(MLPActorCritic(10, 3), None)  # the trainer shares no optimiser with --no-shared
    worker = build_worker(0, config, corridor_task(), shared)
    assert isinstance(worker.optimizer, SharedRMSprop)
    assert {id(p) for group in worker.optimizer.param_groups for p in group["params"]} == {id(p) for p in shared.model.parameters()}
    before = [p.detach().clone() for p in shared.model.parameters()]
    assert worker.update().applied
    assert any(not torch.equal(p.detach(), b) for p, b in zip(shared.model.parameters(), before, strict=False))


class HiddenRecorder(MLPActorCritic):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.calls: list[tuple[torch.Tensor, torch.Tensor]] = []

    def forward(self, obs, hidden=None):
        self.calls.append(hidden)
        return super().forward(obs, hidden)


def test_lstm_state_is_carried_detached_within_an_episode_and_zeroed_at_its_start():
    seed_process(0)
    config = TrainConfig(env_name="Scripted", num_steps=3, num_processes=1)
    env = ScriptedRewardEnv([0.0] * 5)  # episodes of 5 steps: rollouts of 3, then 2 (ends)
    local = HiddenRecorder(4, 2)
    shared = _shared(MLPActorCritic(4, 2), None)
    worker = Worker(config, env, local, shared.worker_link(0, 10**9), SharedAdam(shared.model.parameters()))

    first = worker.rollout()
    assert not first.done
    assert all(torch.count_nonzero(h) == 0 for h in local.calls[0])  # episode start: zeros
    carried = worker.hidden
    assert carried[0].grad_fn is not None  # still attached to the first rollout's graph
    local.calls.clear()

    second = worker.rollout()
    assert second.done and len(second.rewards) == 2
    hx, cx = local.calls[0]
    torch.testing.assert_close(hx, carried[0].detach())
    torch.testing.assert_close(cx, carried[1].detach())
    assert hx.grad_fn is None and cx.grad_fn is None and torch.count_nonzero(hx) > 0
    local.calls.clear()

    worker.rollout()  # a new episode
    assert all(torch.count_nonzero(h) == 0 for h in local.calls[0])


def test_rewards_are_clipped_and_the_return_is_bootstrapped_unless_the_episode_ended():
    seed_process(0)
    config = TrainConfig(env_name="Scripted", num_steps=2, num_processes=1)
    env = ScriptedRewardEnv([5.0, -3.0, 0.5, 2.0])
    shared = _shared(MLPActorCritic(4, 2), None)
    worker = Worker(config, env, MLPActorCritic(4, 2), shared.worker_link(0, 10**9), SharedAdam(shared.model.parameters()))
    worker.model.load_state_dict(shared.model.state_dict())

    first = worker.rollout()
    torch.testing.assert_close(first.rewards.squeeze(1), torch.tensor([1.0, -1.0]))
    assert not first.done
    with torch.no_grad():
        obs = torch.from_numpy(np.asarray(worker.obs)).unsqueeze(0)
        expected = worker.model(obs, worker.hidden)[0].squeeze(1)
    torch.testing.assert_close(first.bootstrap_value, expected)
    assert first.bootstrap_value.abs().item() > 0

    second = worker.rollout()
    torch.testing.assert_close(second.rewards.squeeze(1), torch.tensor([0.5, 1.0]))
    assert second.done and second.bootstrap_value.item() == 0.0
    assert second.episode_returns == [4.5]  # unclipped, for logging
    assert shared.global_step == 4


def test_max_episode_length_ends_the_episode():
    config = TrainConfig(env_name="Scripted", num_steps=20, max_episode_length=3, num_processes=1)
    shared = _shared(MLPActorCritic(4, 2), None)
    worker = Worker(config, ScriptedRewardEnv([0.0] * 50), MLPActorCritic(4, 2), shared.worker_link(0, 10**9), SharedAdam(shared.model.parameters()))
    rollout = worker.rollout()
    assert rollout.done and len(rollout.rewards) == 3


def test_non_finite_loss_skips_the_update_and_never_reaches_the_shared_weights():
    config = TrainConfig(env_name="Corridor", num_steps=5, num_processes=1)
    shared = _shared(MLPActorCritic(10, 3), None)
    optimizer = SharedAdam(shared.model.parameters(), lr=0.01)
    worker = Worker(config, make_corridor(0), MLPActorCritic(10, 3), shared.worker_link(0, 10**9), optimizer)
    poisoned = MLPActorCritic(10, 3)
    with torch.no_grad():
        poisoned.critic_linear.weight.fill_(float("nan"))
    shared.model.load_state_dict(poisoned.state_dict())
    before = {k: v.clone() for k, v in shared.model.state_dict().items()}
    stats = worker.update()
    assert not stats.applied and worker.skipped_updates == 1
    for key, value in shared.model.state_dict().items():
        torch.testing.assert_close(value, before[key], equal_nan=True)


def test_same_seed_gives_the_same_training_result():
    def run(seed: int) -> list[torch.Tensor]:
        seed_process(seed)
        config = TrainConfig(env_name="Corridor", num_steps=5, num_processes=1, seed=seed)
        shared = _shared(MLPActorCritic(10, 3), None)
        optimizer = SharedAdam(shared.model.parameters(), lr=0.01)
        worker = Worker(config, make_corridor(seed), MLPActorCritic(10, 3), shared.worker_link(0, 10**9), optimizer)
        for _ in range(20):
            worker.update()
        return [p.detach().clone() for p in shared.model.parameters()]

    a, b, c = run(3), run(3), run(4)
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=False))
    assert not all(torch.equal(x, y) for x, y in zip(a, c, strict=False))


def _child_update(shared: SharedState, queue, seed: int = 5, updates: int = 1, slot: int = 0) -> None:
    seed_process(seed)
    config = TrainConfig(env_name="Corridor", num_steps=5, num_processes=1)
    worker = Worker(config, make_corridor(seed), MLPActorCritic(10, 3), shared.worker_link(slot, 10**9), shared.optimizer)
    steps = sum(worker.update().steps for _ in range(updates))
    queue.put((torch.get_num_threads(), shared.global_step, steps))


def test_updates_made_in_child_processes_are_visible_in_the_parent_and_every_step_is_counted():
    """Two spawned workers update one shared model and Adam: the parent sees the new weights, the
    shared statistics and a counter that holds exactly the steps both children made."""
    model = MLPActorCritic(10, 3)
    optimizer = SharedAdam(model.parameters(), lr=1e-3)
    shared = _shared(model, optimizer)
    before = [p.detach().clone() for p in model.parameters()]
    ctx = process_context()
    queue = ctx.Queue()
    updates = 40
    children = [ctx.Process(target=_child_update, args=(shared, queue, seed, updates, slot)) for slot, seed in enumerate((1, 2))]
    for child in children:
        child.start()
    reports = [queue.get(timeout=120) for _ in children]
    for child in children:
        child.join(timeout=60)
    assert [child.exitcode for child in children] == [0, 0]
    assert [threads for threads, _, _ in reports] == [1, 1]  # one intra-op thread per process
    assert shared.global_step == sum(steps for _, _, steps in reports) > 2 * updates  # the counter is shared
    assert any(not torch.equal(p.detach(), b) for p, b in zip(model.parameters(), before, strict=False))
    assert optimizer.state[next(iter(model.parameters()))]["step"].item() > updates  # shared statistics, both children's steps


def test_linear_lr_schedule_scales_each_update_by_the_global_step_it_is_applied_at():
    """Under ``--lr-schedule linear`` an update applied at global step s moves the weights by
    lr * (1 - s / max_steps) times its gradient; at max_steps it moves them not at all."""
    seed_process(0)
    config = TrainConfig(env_name="Corridor", num_steps=5, num_processes=1, lr=1.0, lr_schedule="linear", max_steps=1000)
    for start_step in (0, 750, 1000):
        shared_model = MLPActorCritic(10, 3)
        optimizer = torch.optim.SGD(shared_model.parameters(), lr=config.lr)
        shared = SharedState.create(shared_model, optimizer, process_context(), start_step=start_step)
        worker = GradientSpyWorker(config, make_corridor(0), MLPActorCritic(10, 3), shared.worker_link(0, 10**9), optimizer)
        before = [p.detach().clone() for p in shared_model.parameters()]
        assert worker.update().applied
        # The rollout's 5 steps were counted before the update was applied.
        assert shared.global_step == start_step + 5
        lr = {0: 0.995, 750: 0.245, 1000: 0.0}[start_step]
        assert config.lr_at(shared.global_step) == pytest.approx(lr)
        for p, b, g in zip(shared_model.parameters(), before, worker.expected, strict=False):
            torch.testing.assert_close(b - p.detach(), lr * g, rtol=1e-4, atol=1e-6)
        if start_step == 1000:
            assert all(torch.equal(p.detach(), b) for p, b in zip(shared_model.parameters(), before, strict=False))

