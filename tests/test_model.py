import math

import gymnasium as gym
import torch

from a3c import ActorCritic
from a3c.algorithm.model import MLPActorCritic


def test_forward_shapes_and_the_seed_call_form():
    model = ActorCritic(1, gym.spaces.Discrete(6))
    x = torch.randn(3, 1, 42, 42)
    hidden = model.initial_state(3)
    value, logits, (hx, cx) = model(x, hidden)
    assert value.shape == (3, 1) and logits.shape == (3, 6)
    assert hx.shape == cx.shape == (3, 256)
    assert model.lstm.input_size == 32 * 3 * 3
    # The seed's form: model((inputs, (hx, cx)))
    value2, logits2, _ = model((x, hidden))
    torch.testing.assert_close(value, value2)
    torch.testing.assert_close(logits, logits2)


def test_initialisation_follows_the_seed():
    torch.manual_seed(0)
    model = ActorCritic(1, 6)
    conv_bound = math.sqrt(6 / (1 * 9 + 32 * 9))
    assert model.conv1.weight.abs().max() <= conv_bound
    assert model.conv1.weight.abs().max() > 0.9 * conv_bound  # uniform fills the range
    conv2_bound = math.sqrt(6 / (32 * 9 + 32 * 9))
    assert model.conv2.weight.abs().max() <= conv2_bound
    torch.testing.assert_close(model.actor_linear.weight.norm(dim=1), torch.full((6,), 0.01))
    torch.testing.assert_close(model.critic_linear.weight.norm(dim=1), torch.ones(1))
    for bias in (model.conv1.bias, model.actor_linear.bias, model.critic_linear.bias, model.lstm.bias_ih, model.lstm.bias_hh):
        assert torch.count_nonzero(bias) == 0
    # A near-uniform initial policy is what makes early exploration broad.
    _, logits, _ = model(torch.randn(1, 1, 42, 42), model.initial_state())
    assert logits.abs().max() < 0.1


def test_mlp_variant_has_the_same_interface():
    model = MLPActorCritic(10, gym.spaces.Discrete(3))
    value, logits, (hx, _) = model(torch.randn(2, 10), model.initial_state(2))
    assert value.shape == (2, 1) and logits.shape == (2, 3) and hx.shape == (2, 64)
