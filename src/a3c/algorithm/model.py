"""Actor-critic networks: the seed's conv+LSTM for Atari and a small MLP+LSTM for vector tasks.

Both take ``(obs, (hx, cx))`` and return ``(value, logits, (hx, cx))`` so that the worker and
evaluator code does not care which one it drives.
"""

from __future__ import annotations

import math

import gymnasium as gym
import torch
import torch.nn.functional as F
from torch import nn

LSTM_SIZE = 256


Hidden = tuple[torch.Tensor, torch.Tensor]


def _num_actions(action_space: gym.spaces.Discrete | int) -> int:
    if isinstance(action_space, int):
        return action_space
    if isinstance(action_space, gym.spaces.Discrete):
        return int(action_space.n)
    raise TypeError(f"A3C needs a discrete action space, got {action_space!r}")


def _glorot_uniform_(layer: nn.Conv2d | nn.Linear) -> None:
    """Uniform in +-sqrt(6 / (fan_in + fan_out)), counting the receptive field for convs."""
    weight = layer.weight
    receptive_field = math.prod(weight.shape[2:]) if weight.dim() > 2 else 1
    fan_in = weight.shape[1] * receptive_field
    fan_out = weight.shape[0] * receptive_field
    bound = math.sqrt(6.0 / (fan_in + fan_out))
    with torch.no_grad():
        weight.uniform_(-bound, bound)
        if layer.bias is not None:
            layer.bias.zero_()


def _normalized_rows_(weight: torch.Tensor, std: float) -> None:
    """Gaussian weights with each output unit's weight vector rescaled to norm ``std``.

    Small actor weights (0.01) start the policy near uniform, so early exploration is broad.
    """
    with torch.no_grad():
        out = torch.randn(weight.shape)
        out *= std / out.pow(2).sum(1, keepdim=True).sqrt()
        weight.copy_(out)


class RecurrentActorCritic(nn.Module):
    """Shared LSTM core and heads; subclasses provide :meth:`encode`. Every network a worker
    trains is one: the conv :class:`ActorCritic` and the test tasks' :class:`MLPActorCritic`."""

    lstm: nn.LSTMCell
    critic_linear: nn.Linear
    actor_linear: nn.Linear

    def _init_core(self, features: int, num_actions: int, hidden_size: int) -> None:
        self.hidden_size = hidden_size
        self.lstm = nn.LSTMCell(features, hidden_size)
        self.critic_linear = nn.Linear(hidden_size, 1)
        self.actor_linear = nn.Linear(hidden_size, num_actions)

    def _init_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                _glorot_uniform_(module)
        _normalized_rows_(self.actor_linear.weight, 0.01)
        _normalized_rows_(self.critic_linear.weight, 1.0)
        with torch.no_grad():
            self.actor_linear.bias.zero_()
            self.critic_linear.bias.zero_()
            self.lstm.bias_ih.zero_()
            self.lstm.bias_hh.zero_()

    def encode(self, obs: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def initial_state(self, batch_size: int = 1) -> Hidden:
        """Zero LSTM state, used at the start of every episode."""
        zeros = torch.zeros(batch_size, self.hidden_size)
        return zeros, zeros.clone()

    def forward(
        self, obs: torch.Tensor | tuple[torch.Tensor, Hidden], hidden: Hidden | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, Hidden]:
        # The seed calls model((obs, (hx, cx))); accept that form too.
        if isinstance(obs, tuple):
            obs, hidden = obs
        if hidden is None:
            hidden = self.initial_state(obs.shape[0])
        hx, cx = self.lstm(self.encode(obs), hidden)
        return self.critic_linear(hx), self.actor_linear(hx), (hx, cx)


class ActorCritic(RecurrentActorCritic):
    """The seed's network: 4 conv layers (32 filters, 3x3, stride 2, ELU), LSTMCell(288, 256),
    a critic head (256 -> 1) and an actor head (256 -> number of actions).

    Expects observations of shape ``(batch, num_inputs, 42, 42)``.
    """

    def __init__(self, num_inputs: int, action_space: gym.spaces.Discrete | int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(num_inputs, 32, 3, stride=2, padding=1)
        self.conv2 = nn.Conv2d(32, 32, 3, stride=2, padding=1)
        self.conv3 = nn.Conv2d(32, 32, 3, stride=2, padding=1)
        self.conv4 = nn.Conv2d(32, 32, 3, stride=2, padding=1)
        self._init_core(32 * 3 * 3, _num_actions(action_space), LSTM_SIZE)
        self._init_weights()
        self.train()

    def encode(self, obs: torch.Tensor) -> torch.Tensor:
        x = F.elu(self.conv1(obs))
        x = F.elu(self.conv2(x))
        x = F.elu(self.conv3(x))
        x = F.elu(self.conv4(x))
        return x.flatten(1)


class MLPActorCritic(RecurrentActorCritic):
    """A small variant for vector observations: one ELU layer, then the same LSTM core and heads."""

    def __init__(self, obs_dim: int, action_space: gym.spaces.Discrete | int, hidden_size: int = 64) -> None:
        super().__init__()
        self.fc = nn.Linear(obs_dim, hidden_size)
        self._init_core(hidden_size, _num_actions(action_space), hidden_size)
        self._init_weights()
        self.train()

    def encode(self, obs: torch.Tensor) -> torch.Tensor:
        return F.elu(self.fc(obs))
