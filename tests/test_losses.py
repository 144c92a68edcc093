"""The A3C loss against numbers worked out by hand, and against the seed's loop."""

import pytest
import torch

from a3c.algorithm.losses import a3c_loss

GAMMA, LAMBDA, ENTROPY_COEF = 0.9, 0.5, 0.01


def _rollout(requires_grad: bool = True):
    col = lambda xs: torch.tensor([[x] for x in xs], requires_grad=requires_grad)  # noqa: E731
    log_probs = col([-0.1, -0.2, -0.3])
    entropies = col([1.0, 0.9, 0.8])
    values = col([0.5, 0.2, -0.3])
    rewards = torch.tensor([1.0, 0.0, -1.0]).unsqueeze(1)
    return log_probs, entropies, values, rewards


def test_bootstrapped_rollout_by_hand():
    log_probs, entropies, values, rewards = _rollout()
    loss = a3c_loss(log_probs, entropies, values, rewards, torch.tensor([0.4]), None, GAMMA, LAMBDA, ENTROPY_COEF)
    # Returns: R3 = V(s_3) = 0.4; R2 = -1 + .9*.4 = -0.64; R1 = .9*-.64 = -0.576; R0 = 1 + .9*-.576 = 0.4816
    torch.testing.assert_close(loss.returns.squeeze(1), torch.tensor([0.4816, -0.576, -0.64]))
    # 0.5 * (0.0184^2 + 0.776^2 + 0.34^2)
    assert loss.value_loss.item() == pytest.approx(0.35905728, abs=1e-6)
    # deltas 0.68, -0.47, -0.34; gae2 = -0.34, gae1 = -0.47 + .45*-.34 = -0.623, gae0 = .68 + .45*-.623 = 0.39965
    torch.testing.assert_close(loss.advantages.squeeze(1), torch.tensor([0.39965, -0.623, -0.34]))
    # -(-.1*.39965 + -.2*-.623 + -.3*-.34) - .01*2.7
    assert loss.policy_loss.item() == pytest.approx(-0.213635, abs=1e-6)
    assert loss.total(0.5).item() == pytest.approx(-0.213635 + 0.5 * 0.35905728, abs=1e-6)


def test_terminal_rollout_by_hand():
    log_probs, entropies, values, rewards = _rollout()
    loss = a3c_loss(log_probs, entropies, values, rewards, torch.zeros(1), None, GAMMA, LAMBDA, ENTROPY_COEF)
    torch.testing.assert_close(loss.returns.squeeze(1), torch.tensor([0.19, -0.9, -1.0]))
    assert loss.value_loss.item() == pytest.approx(0.89805, abs=1e-6)
    torch.testing.assert_close(loss.advantages.squeeze(1), torch.tensor([0.32675, -0.785, -0.7]))
    assert loss.policy_loss.item() == pytest.approx(-0.361325, abs=1e-6)


def test_gradients_advantages_are_detached_and_value_grad_is_the_td_error():
    log_probs, entropies, values, rewards = _rollout()
    loss = a3c_loss(log_probs, entropies, values, rewards, torch.tensor([0.4]), None, GAMMA, LAMBDA, ENTROPY_COEF)
    loss.policy_loss.backward(retain_graph=True)
    assert values.grad is None  # the policy loss must not train the critic
    torch.testing.assert_close(log_probs.grad.squeeze(1), -loss.advantages.squeeze(1))
    torch.testing.assert_close(entropies.grad, torch.full((3, 1), -ENTROPY_COEF))
    loss.value_loss.backward()
    torch.testing.assert_close(values.grad.squeeze(1), -(loss.returns - values.detach()).squeeze(1))


def test_lambda_one_gives_n_step_advantages():
    log_probs, entropies, values, rewards = _rollout()
    loss = a3c_loss(log_probs, entropies, values, rewards, torch.tensor([0.4]), None, GAMMA, 1.0, ENTROPY_COEF)
    torch.testing.assert_close(loss.advantages, loss.returns - values.detach())


def test_done_flags_stop_returns_and_advantages_at_episode_boundaries():
    log_probs, entropies, values, rewards = _rollout()
    dones = torch.tensor([[True], [False], [False]])
    loss = a3c_loss(log_probs, entropies, values, rewards, torch.tensor([0.4]), dones, GAMMA, LAMBDA, ENTROPY_COEF)
    assert loss.returns[0].item() == pytest.approx(1.0)  # the episode ended after step 0
    assert loss.advantages[0].item() == pytest.approx(1.0 - 0.5)
    assert loss.returns[1].item() == pytest.approx(-0.576)


def _seed_loop(log_probs, entropies, values, rewards, bootstrap, gamma, gae_lambda, entropy_coef):
    """The seed notebook's backward loop, transcribed from spec.md for a rollout of lists."""
    values = list(values) + [bootstrap]
    R = bootstrap
    policy_loss, value_loss, gae = 0, 0, torch.zeros(1)
    for i in reversed(range(len(rewards))):
        R = gamma * R + rewards[i]
        advantage = R - values[i]
        value_loss = value_loss + 0.5 * advantage.pow(2)
        delta_t = rewards[i] + gamma * values[i + 1] - values[i]
        gae = gae * gamma * gae_lambda + delta_t
        policy_loss = policy_loss - log_probs[i] * gae.detach() - entropy_coef * entropies[i]
    return policy_loss, value_loss


@pytest.mark.parametrize("steps, gamma, gae_lambda, terminal", [(20, 0.99, 1.0, False), (7, 0.95, 0.9, True), (1, 0.5, 0.0, False)])
def test_matches_the_seed_loop_on_random_rollouts(steps, gamma, gae_lambda, terminal):
    g = torch.Generator().manual_seed(steps)
    log_probs, entropies, values = (torch.randn(steps, 1, generator=g) for _ in range(3))
    rewards = torch.randint(-1, 2, (steps, 1), generator=g).float()
    bootstrap = torch.zeros(1) if terminal else torch.randn(1, generator=g)
    ours = a3c_loss(log_probs, entropies, values, rewards, bootstrap, None, gamma, gae_lambda, 0.01)
    policy, value = _seed_loop(log_probs, entropies, values, rewards, bootstrap, gamma, gae_lambda, 0.01)
    assert ours.policy_loss.item() == pytest.approx(policy.item(), rel=1e-5, abs=1e-5)
    assert ours.value_loss.item() == pytest.approx(value.item(), rel=1e-5, abs=1e-5)


def test_normalized_advantages_weight_the_policy_gradient_with_mean_zero_and_unit_spread():
    log_probs, entropies, values, rewards = _rollout()
    loss = a3c_loss(log_probs, entropies, values, rewards, torch.tensor([0.4]), None, GAMMA, LAMBDA, ENTROPY_COEF,
                    normalize_advantages=True)
    raw = torch.tensor([0.39965, -0.623, -0.34])
    torch.testing.assert_close(loss.advantages.squeeze(1), raw)  # logged as they were
    loss.policy_loss.backward()
    expected = (raw - raw.mean()) / raw.std()
    torch.testing.assert_close(log_probs.grad.squeeze(1), -expected)
    assert values.grad is None
    torch.testing.assert_close(entropies.grad, torch.full((3, 1), -ENTROPY_COEF))


def test_normalizing_leaves_a_one_sample_rollout_its_raw_advantage():
    log_probs, entropies, values, rewards = (x[:1] for x in _rollout())
    plain = a3c_loss(log_probs, entropies, values, rewards, torch.zeros(1), None, GAMMA, LAMBDA, ENTROPY_COEF)
    normed = a3c_loss(log_probs, entropies, values, rewards, torch.zeros(1), None, GAMMA, LAMBDA, ENTROPY_COEF,
                      normalize_advantages=True)
    assert torch.isfinite(normed.policy_loss)
    assert normed.policy_loss.item() == pytest.approx(plain.policy_loss.item())
